'use strict';
/** Puts the report into README.md between the bench markers, leaving the rest of the file alone. */
const fs = require('fs');

const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';

function update(readmePath, markdown) {
  const text = fs.readFileSync(readmePath, 'utf8');
  const from = text.indexOf(START);
  const to = text.indexOf(END);
  if (from < 0 || to < from) throw new Error(`${readmePath} has no ${START} … ${END} section`);
  fs.writeFileSync(readmePath, `${text.slice(0, from + START.length)}\n${markdown}\n${text.slice(to)}`);
}

module.exports = { update };
