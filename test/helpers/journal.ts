/** What journal tests share: the records the writer fixture appends, and a fast exactness check. */
import { JournalRecord, Recovery } from '../../lib/relay/journal';

export const { journalRecord } = require('../fixtures/journal-writer.js') as {
  journalRecord: (seq: number) => JournalRecord;
};

/**
 * Everything wrong with a recovery: a record that is not byte for byte the one appended with its seq, seqs that
 * are not consecutive, a run that does not end at nextSeq - 1 (at lost.from - 1 when seqs were lost). Empty when
 * all is well. (One expect on the list instead of one per field keeps loops over thousands of records fast.)
 */
export function recoveryProblems(recovery: Recovery): string[] {
  const problems: string[] = [];
  const { records, nextSeq } = recovery;
  records.forEach((r, i) => {
    const want = journalRecord(r.seq);
    if (r.seq !== records[0].seq + i) problems.push(`record ${i} has seq ${r.seq}, expected ${records[0].seq + i}`);
    if (r.time !== want.time || r.source !== want.source || !Buffer.from(r.message).equals(want.message)) {
      problems.push(`record ${r.seq} differs from what was appended`);
    }
  });
  // After a reboot that may have lost seqs, the history ends where the lost range starts.
  const end = recovery.lost ? recovery.lost.from : nextSeq;
  if (recovery.lost && recovery.lost.to !== nextSeq - 1)
    problems.push(`lost ends at ${recovery.lost.to}, nextSeq ${nextSeq}`);
  if (records.length > 0 && records[records.length - 1].seq !== end - 1) {
    problems.push(`last record ${records[records.length - 1].seq}, expected ${end - 1}`);
  }
  return problems.slice(0, 10);
}
