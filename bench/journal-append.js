// Append throughput of the relay's history journal (lib/relay/journal.ts), alone: batches of `batch` records of
// `size`-byte messages, as the relay appends them (one call per received batch), for `seconds` or `records`,
// whichever comes first. Under fsync=interval it calls sync() every second, as the relay's timer does; old
// segments are evicted as it goes (history of 1M records) so the disk holds a bounded amount.
// node bench/journal-append.js [fsync=never|interval|always] [size=300] [batch=64] [seconds=5] [records=5000000] [dir=…]
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { Journal } = require('../dist/relay/journal');

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.split('=')));
const fsync = args.fsync ?? 'never';
const size = Number(args.size ?? 300);
const batchSize = Number(args.batch ?? 64);
const seconds = Number(args.seconds ?? 5);
const maxRecords = Number(args.records ?? 5e6);
const dir = args.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'journal-bench-'));

const { journal } = Journal.open(dir, { fsync, maxMessages: 1e6, maxBytes: Infinity });
// The relay hands the journal records whose messages live in its receive slots: distinct buffers per record.
const messages = Array.from({ length: batchSize }, (_, i) =>
  Buffer.from(`<13>Jan  1 00:00:00 host app[42]: message ${i} `.padEnd(size, '.')),
);
const batch = messages.map((message) => ({ seq: 0, time: 0, source: '127.0.0.1:40000', message }));
let seq = 1;
const start = process.hrtime.bigint();
const cpu0 = process.cpuUsage();
let lastSync = start;
let elapsed = 0;
while (seq <= maxRecords) {
  const now = Date.now();
  for (let i = 0; i < batchSize; i++) {
    batch[i].seq = seq + i;
    batch[i].time = now;
  }
  journal.append(batch);
  seq += batchSize;
  if ((seq & 0xffff) < batchSize) journal.evictBefore(seq - 1e6);
  const t = process.hrtime.bigint();
  if (fsync === 'interval' && t - lastSync >= 1_000_000_000n) {
    journal.sync();
    lastSync = t;
  }
  elapsed = Number(t - start) / 1e9;
  if (elapsed >= seconds) break;
}
journal.close();
const cpu = process.cpuUsage(cpu0);
const records = seq - 1;
const mb = (records * size) / 1e6;
console.log(
  JSON.stringify({
    fsync,
    size,
    batch: batchSize,
    records,
    seconds: +elapsed.toFixed(2),
    recordsPerSec: Math.round(records / elapsed),
    messageMBPerSec: +(mb / elapsed).toFixed(1),
    cpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(2),
  }),
);
if (!args.dir) fs.rmSync(dir, { recursive: true, force: true });
