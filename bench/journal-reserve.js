// Wall time of the appends that write the seq reservation (lib/relay/journal.ts) against the others, appending
// 64 x 300-byte batches flat out (1.3 M messages). node bench/journal-reserve.js DIR [never|interval|always]
const fs = require('fs'),
  path = require('path');
const { Journal, RESERVE_STEP } = require('../dist/relay/journal');
const dir = fs.mkdtempSync(path.join(process.argv[2], 'reserve-measure-'));
const { journal } = Journal.open(dir, { fsync: process.argv[3] || 'never', maxMessages: 1e6, maxBytes: Infinity });
const msg = Buffer.alloc(300, 46);
const batch = Array.from({ length: 64 }, () => ({ seq: 0, time: 0, source: '127.0.0.1:40000', message: msg }));
const raise = [],
  plain = [];
let seq = 1;
for (let k = 0; k < (20 * RESERVE_STEP) / 64; k++) {
  for (let i = 0; i < 64; i++) batch[i].seq = seq + i;
  const before = journal.reservationWrites;
  const t = process.hrtime.bigint();
  journal.append(batch);
  const dt = Number(process.hrtime.bigint() - t) / 1e3;
  (journal.reservationWrites > before ? raise : plain).push(dt);
  seq += 64;
  if ((seq & 0xffff) < 64) journal.evictBefore(seq - 2e5);
}
journal.close();
fs.rmSync(dir, { recursive: true, force: true });
const q = (a, p) => a.sort((x, y) => x - y)[Math.floor(p * (a.length - 1))].toFixed(1);
console.log(
  JSON.stringify({
    fs: process.argv[2],
    fsync: process.argv[3] || 'never',
    raises: raise.length,
    appends: raise.length + plain.length,
    raiseUsMedian: q(raise, 0.5),
    raiseUsMax: q(raise, 1),
    plainUsMedian: q(plain, 0.5),
    plainUsP99: q(plain, 0.99),
    raiseShareOfTotalPct: (
      (100 * raise.reduce((a, b) => a + b, 0)) /
      [...raise, ...plain].reduce((a, b) => a + b, 0)
    ).toFixed(2),
  }),
);
