#!/usr/bin/env node
'use strict';
require('../dist/cli/run').run('logtail', require('../dist/cli/logtail').main);
