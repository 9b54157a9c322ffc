#!/usr/bin/env node
'use strict';
require('../dist/cli/run').run('logrelay', require('../dist/cli/logrelay').main);
