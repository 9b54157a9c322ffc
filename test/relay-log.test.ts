/**
 * The relay's log never crashes or stalls it: with its stderr a pipe nobody reads, log lines wait in a
 * bounded queue, lines beyond it are dropped and counted, the relay keeps relaying, and once stderr is
 * read again the queued lines come out followed by a line reporting how many were dropped.
 */
import * as net from 'net';
import {
  CertFiles,
  cleanup,
  expectMessages,
  makeCerts,
  message,
  RelayProcess,
  sendUdp,
  Tail,
  until,
  identity,
} from './relay-helpers';

afterEach(cleanup);

/** Connects and sends an HTTP request instead of a ClientHello: the relay logs one `subscriber-rejected` line. */
function refusedPeer(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.0\r\n\r\n'));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
    socket.setTimeout(10000, () => socket.destroy());
  });
}

/**
 * logrelay in `mode` logging every refused peer in full (no rate limit), so that a burst of `peers`
 * refusals really overflows a stderr pipe nobody reads.
 */
function startLoud(mode: string, peers: number, certs: CertFiles): Promise<RelayProcess> {
  return RelayProcess.start([
    '--mode',
    mode,
    '--stats-interval',
    '0',
    '--rejection-log',
    `${peers}/60`,
    ...identity(certs),
  ]);
}

/**
 * Stops reading the relay's stderr (the pipe and Node's buffer fill, then write(2) says EAGAIN) and has
 * `peers` peers refused, 50 at a time; each peer's line is logged (or dropped) before its connection closes.
 */
async function refuseWhileUnread(relay: RelayProcess, peers: number): Promise<void> {
  relay.child.stderr!.pause();
  for (let i = 0; i < peers; i += 50) await Promise.all(Array.from({ length: 50 }, () => refusedPeer(relay.tlsPort)));
}

/** The log lines the relay has reported dropped so far (log-lines-dropped lines). */
function droppedReported(relay: RelayProcess): number {
  return relay.all('log-lines-dropped').reduce((sum, e) => sum + (e.lines as number), 0);
}

test.each(['integrated', 'blocking'])(
  '%s mode: 5,000 log lines into a stderr pipe nobody reads: the relay keeps relaying, and the dropped lines are counted',
  async (mode) => {
    const PEERS = 5000;
    const certs = makeCerts();
    const relay = await startLoud(mode, PEERS, certs);
    const tail = await Tail.start(relay, certs);
    const seenBefore = relay.events.length;
    await refuseWhileUnread(relay, PEERS);
    // Still relaying, with its stderr still unread.
    const sent = Array.from({ length: 200 }, (_, i) => message(i, 200, 'while stderr is full'));
    await sendUdp(relay.udpPort, sent);
    expectMessages(await tail.waitFor(sent.length), sent);
    expect(relay.child.exitCode).toBeNull();
    expect(relay.events.length).toBeLessThan(seenBefore + 2000); // the test really did stop reading

    relay.child.stderr!.resume();
    const report = await relay.waitEvent('log-lines-dropped', () => true, 10000);
    expect(report).toMatchObject({ level: 'warn', reason: 'stderr full' });
    expect(report.lines).toBeGreaterThan(0);
    // Every refusal is either logged or counted as dropped; none is lost silently, none is cut in half.
    await until('every rejection accounted for', () =>
      relay.all('subscriber-rejected').length + droppedReported(relay) === PEERS ? true : undefined,
    );
    const dropped = droppedReported(relay);
    console.log(
      `${mode}: ${PEERS} rejections while stderr was unread: ${relay.all('subscriber-rejected').length} logged, ${dropped} dropped and reported`,
    );
    expect(relay.otherErr).toEqual([]);
    expect((await relay.stats()).rejected).toBe(PEERS);
    expect(relay.all('task-crashed')).toEqual([]);
    expect(await relay.stop()).toBe(0);
  },
  120000,
);

test.each(['integrated', 'blocking'])(
  '%s mode: SIGTERM while stderr is unread after a burst of dropped lines: `stopped` is the last line, and every dropped line is counted before or in it',
  async (mode) => {
    const PEERS = 4000;
    const certs = makeCerts();
    const relay = await startLoud(mode, PEERS, certs);
    await refuseWhileUnread(relay, PEERS);
    relay.child.kill('SIGTERM');
    const closed = new Promise<number | null>((resolve) => relay.child.once('close', (code) => resolve(code))); // stderr read to its end
    relay.child.stderr!.resume();
    expect(await closed).toBe(0);

    const last = relay.events[relay.events.length - 1];
    expect(last).toMatchObject({ event: 'stopped', level: 'info' });
    expect(relay.all('stopped')).toHaveLength(1);
    const reported = droppedReported(relay);
    const dropped = reported + ((last.log_lines_dropped as number | undefined) ?? 0);
    expect(dropped).toBeGreaterThan(0); // the pipe really was full
    expect(relay.all('subscriber-rejected').length + dropped).toBe(PEERS);
    expect(relay.otherErr).toEqual([]);
    console.log(`${mode}: ${dropped} lines dropped, ${reported} of them reported before stopped`);
  },
  120000,
);
