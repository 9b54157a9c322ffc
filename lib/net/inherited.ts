/**
 * Sockets a process did not open itself (systemd socket activation hands them over as fds 3, 4…):
 * what each one is, checked before it is used, so a UDP input given a TCP socket is a clear error
 * at start rather than a receive that never works.
 */
import { setNonBlocking } from '../fd';
import { SocketOption } from '../native';
import { AddressFamily } from './address';
import { getOption, localAddress } from './socket';

/** What a relay can take over: a datagram socket (UDP or unix), or a listening stream socket. */
export type SocketKind = 'udp' | 'unix-dgram' | 'tcp-listen' | 'unix-listen';

const DESCRIBED: Record<SocketKind, string> = {
  udp: 'a UDP socket',
  'unix-dgram': 'a unix datagram socket',
  'tcp-listen': 'a listening TCP socket',
  'unix-listen': 'a listening unix stream socket',
};

/** What `fd` is, in words, for error messages. */
function describe(fd: number): { kind?: SocketKind; text: string; family?: AddressFamily } {
  let type: number;
  let family: AddressFamily;
  try {
    type = getOption(fd, SocketOption.Type);
    family = localAddress(fd).family;
  } catch (e) {
    return { text: `not a socket (${(e as { code?: string }).code})` };
  }
  const inet = family !== 'unix';
  if (type === 2) return { kind: inet ? 'udp' : 'unix-dgram', text: DESCRIBED[inet ? 'udp' : 'unix-dgram'], family };
  if (type === 1) {
    let listening = 0;
    try {
      listening = getOption(fd, SocketOption.AcceptConn);
    } catch {
      // without SO_ACCEPTCONN the socket is taken to be what was asked for; listen(2) was the sender's job
      listening = 1;
    }
    const kind = inet ? 'tcp-listen' : 'unix-listen';
    if (listening) return { kind, text: DESCRIBED[kind], family };
    return { text: `a ${inet ? 'TCP' : 'unix stream'} socket that is not listening`, family };
  }
  return { text: 'a socket of another type', family };
}

/**
 * Checks that inherited `fd` is `want` (one of), makes it non-blocking and close-on-exec, and returns
 * its address family. Throws an Error (code ERR_INHERITED_SOCKET) naming the fd, `name` and both kinds.
 */
export function takeInherited(fd: number, name: string, want: readonly SocketKind[]): AddressFamily {
  const found = describe(fd);
  if (!found.kind || !want.includes(found.kind)) {
    const wanted = want.map((k) => DESCRIBED[k]).join(' or ');
    throw Object.assign(new Error(`inherited fd ${fd} named ${JSON.stringify(name)} is ${found.text}, not ${wanted}`), {
      code: 'ERR_INHERITED_SOCKET',
      fd,
    });
  }
  setNonBlocking(fd);
  return found.family!;
}
