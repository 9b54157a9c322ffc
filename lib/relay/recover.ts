/**
 * The log at start: a fresh one in memory, or — with `historyDir` — the journal's, recovered. The
 * recovered history is replayed into memory (subscribers are served from memory only) and the
 * sequence continues where the journal says, so seqs are never reused across restarts.
 *
 * After a power cut the journal may report seqs that were handed out (and perhaps delivered) but
 * are no longer on disk (`Recovery.lost`): they become the history's hole, after the replayed
 * records, and subscribers that reach it are told `GAP … lost` — never given those seqs again.
 */
import { History } from './history';
import { Journal } from './journal';
import type { Logger } from './log';
import type { ResolvedOptions } from './options';

/** Sources of replayed messages are keyed by their text, apart from live senders' raw address keys. */
const REPLAYED = '\0';

export function openLog(o: ResolvedOptions, log: Logger): { history: History; journal?: Journal } {
  const limits = { messages: o.history, bytes: o.historyBytes };
  if (o.historyDir === undefined) return { history: new History(o.framing, limits) };
  // The journal bounds what it returns by message bytes; the history then applies its own bound on framed bytes.
  const { journal, recovery } = Journal.open(o.historyDir, {
    fsync: o.fsync,
    maxMessages: o.history,
    maxBytes: o.historyBytes,
  });
  try {
    const { records, lost } = recovery;
    const history = new History(o.framing, limits, {
      logId: recovery.logId,
      nextSeq: records[0]?.seq ?? lost?.from ?? recovery.nextSeq,
    });
    for (const r of records)
      history.append(
        r.message,
        r.time,
        history.source(REPLAYED + r.source, () => r.source),
      );
    if (lost) {
      if (history.next !== lost.from)
        throw new Error(`journal recovery ends at seq ${history.next - 1}, but says seqs from ${lost.from} were lost`);
      history.lose(lost.from, lost.to);
    }
    if (history.next !== recovery.nextSeq)
      throw new Error(`journal recovery ends at seq ${history.next - 1}, but says the next is ${recovery.nextSeq}`);
    for (const c of recovery.cut) log('warn', 'history-cut', { file: c.file, offset: c.offset, reason: c.reason });
    if (lost)
      log('warn', 'history-lost', { dir: o.historyDir, from: lost.from, to: lost.to, count: lost.to - lost.from + 1 });
    log('info', 'history-recovered', {
      dir: o.historyDir,
      log: recovery.logId,
      messages: history.count,
      oldest: history.oldest,
      next: history.next,
    });
    return { history, journal };
  } catch (e) {
    journal.close();
    throw e;
  }
}
