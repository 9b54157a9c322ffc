/**
 * A tiny `logrelay/1` client for the relay's tests, written from the README's protocol section with
 * Node's own TLS (so the relay is tested against another implementation): offers the ALPN name,
 * reads HELLO, sends one request line, and parses every frame that follows.
 */
import * as fs from 'fs';
import * as tls from 'tls';
import { Deframer, Framing } from '../lib/relay/framing';
import { CertFiles, until } from './relay-helpers';

export type Frame =
  | { kind: 'MSG'; first: number; count: number; bytes: Buffer }
  | { kind: 'TIME'; first: number; count: number; lines: { time: number; source: string }[] }
  | { kind: 'GAP'; first: number; count: number; reason: string }
  | { kind: 'SKIP'; first: number; count: number }
  | { kind: 'RESET'; log: string }
  | { kind: 'BYE'; reason: string };

export interface Hello {
  version: number;
  log: string;
  framing: Framing;
  oldest: number;
  next: number;
  /** HELLO says `filter=1`. */
  filter: boolean;
}

export class ProtocolClient {
  hello: Hello | undefined;
  readonly frames: Frame[] = [];
  /** Every message received, by seq. */
  readonly messages = new Map<number, Buffer>();
  /** The seqs in the order they arrived. */
  readonly order: number[] = [];
  alpn: string | false = false;
  closed = false;
  error: Error | undefined;
  #pending: Buffer = Buffer.alloc(0);
  #payload: { frame: Frame & { kind: 'MSG' }; need: number } | undefined;
  #time: { first: number; count: number; lines: { time: number; source: string }[] } | undefined;

  private constructor(readonly socket: tls.TLSSocket) {
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#feed(chunk);
      } catch (e) {
        this.error = e as Error;
        socket.destroy();
      }
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', (e) => (this.error = e));
  }

  /**
   * Connects, offering `alpn` (default logrelay/1), waits for HELLO, and sends `request` (a line
   * without LF; null sends nothing).
   */
  static async connect(
    port: number,
    certs: Pick<CertFiles, 'ca' | 'clientCert' | 'clientKey'>,
    request: string | null,
    alpn: string[] | null = ['logrelay/1'],
  ): Promise<ProtocolClient> {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca: fs.readFileSync(certs.ca),
      cert: fs.readFileSync(certs.clientCert),
      key: fs.readFileSync(certs.clientKey),
      servername: 'localhost',
      ...(alpn ? { ALPNProtocols: alpn } : {}),
    });
    const client = new ProtocolClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    client.alpn = socket.alpnProtocol ?? false;
    if (client.alpn !== 'logrelay/1') return client;
    await until(
      () => `HELLO (have ${client.#pending.length} bytes)`,
      () => client.hello ?? (client.closed ? null : undefined),
    );
    if (request !== null) socket.write(request + '\n');
    return client;
  }

  /** Messages first…last, in seq order, or throws naming the missing ones. */
  range(first: number, last: number): Buffer[] {
    const out: Buffer[] = [];
    for (let seq = first; seq <= last; seq++) {
      const m = this.messages.get(seq);
      if (!m)
        throw new Error(
          `seq ${seq} not received (have ${this.messages.size}: ${[...this.messages.keys()].slice(0, 5).join(',')}…)`,
        );
      out.push(m);
    }
    return out;
  }

  /** Waits until `pred` holds (polling every 10 ms, bounded). */
  waitFor(what: string, pred: (c: ProtocolClient) => boolean, timeoutMs = 10000): Promise<true> {
    return until(
      () => `${what} (frames: ${this.summary()})`,
      () =>
        pred(this)
          ? true
          : this.error
            ? (() => {
                throw this.error;
              })()
            : undefined,
      timeoutMs,
    );
  }

  /** Waits for the connection to close. */
  waitClosed(timeoutMs = 10000): Promise<true> {
    return until(
      () => `close (frames: ${this.summary()})`,
      () => (this.closed ? true : undefined),
      timeoutMs,
    );
  }

  gaps(reason?: string): (Frame & { kind: 'GAP' })[] {
    return this.frames.filter(
      (f): f is Frame & { kind: 'GAP' } => f.kind === 'GAP' && (reason === undefined || f.reason === reason),
    );
  }

  summary(): string {
    return this.frames
      .map((f) =>
        f.kind === 'MSG' || f.kind === 'TIME' || f.kind === 'SKIP'
          ? `${f.kind} ${f.first}+${f.count}`
          : f.kind === 'GAP'
            ? `GAP ${f.first}+${f.count} ${f.reason}`
            : `${f.kind} ${'log' in f ? f.log : f.reason}`,
      )
      .slice(-12)
      .join(' | ');
  }

  close(): void {
    this.socket.destroy();
  }

  #feed(chunk: Buffer): void {
    this.#pending = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    for (;;) {
      if (this.#payload) {
        if (this.#pending.length < this.#payload.need) return;
        this.#payload.frame.bytes = this.#pending.subarray(0, this.#payload.need);
        this.#pending = this.#pending.subarray(this.#payload.need);
        this.#message(this.#payload.frame);
        this.#payload = undefined;
        continue;
      }
      const nl = this.#pending.indexOf(10);
      if (nl < 0) return;
      const line = this.#pending.subarray(0, nl).toString('utf8');
      this.#pending = this.#pending.subarray(nl + 1);
      this.#line(line);
    }
  }

  #line(line: string): void {
    if (this.#time) {
      const sp = line.indexOf(' ');
      this.#time.lines.push({ time: Number(line.slice(0, sp)), source: line.slice(sp + 1) });
      if (this.#time.lines.length === this.#time.count) {
        this.frames.push({ kind: 'TIME', ...this.#time });
        this.#time = undefined;
      }
      return;
    }
    const [kind, ...words] = line.split(' ');
    if (kind === 'HELLO') {
      const kv = Object.fromEntries(words.slice(1).map((w) => w.split('=')));
      this.hello = {
        version: Number(words[0]),
        log: kv.log,
        framing: kv.framing,
        oldest: Number(kv.oldest),
        next: Number(kv.next),
        filter: kv.filter === '1',
      };
    } else if (kind === 'MSG') {
      const frame = { kind: 'MSG' as const, first: Number(words[0]), count: Number(words[1]), bytes: Buffer.alloc(0) };
      this.frames.push(frame);
      this.#payload = { frame, need: Number(words[2]) };
    } else if (kind === 'TIME') {
      this.#time = { first: Number(words[0]), count: Number(words[1]), lines: [] };
    } else if (kind === 'GAP') {
      this.frames.push({ kind: 'GAP', first: Number(words[0]), count: Number(words[1]), reason: words[2] });
    } else if (kind === 'SKIP') {
      this.frames.push({ kind: 'SKIP', first: Number(words[0]), count: Number(words[1]) });
    } else if (kind === 'RESET') {
      this.frames.push({ kind: 'RESET', log: words[0] });
    } else if (kind === 'BYE') {
      this.frames.push({ kind: 'BYE', reason: words.join(' ') });
    } else {
      throw new Error(`unknown frame line ${JSON.stringify(line.slice(0, 80))}`);
    }
  }

  #message(frame: Frame & { kind: 'MSG' }): void {
    const messages = new Deframer(this.hello!.framing).push(frame.bytes);
    if (messages.length !== frame.count)
      throw new Error(`MSG ${frame.first} says ${frame.count} messages, holds ${messages.length}`);
    messages.forEach((m, i) => {
      const seq = frame.first + i;
      if (this.messages.has(seq)) throw new Error(`seq ${seq} received twice`);
      this.messages.set(seq, m);
      this.order.push(seq);
    });
  }
}
