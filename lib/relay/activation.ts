/**
 * systemd socket activation (sd_listen_fds(3)): the service manager binds the sockets (port 514
 * without root, sockets that outlive a restart) and passes them as fds 3, 4, … with
 *
 * - `LISTEN_PID`: the process they are for (this one, or they are not ours);
 * - `LISTEN_FDS`: how many;
 * - `LISTEN_FDNAMES`: a name for each, colon-separated (`FileDescriptorName=` in the .socket unit).
 *
 * A name is the long name of the flag the socket stands for: `udp` and `unix` for inputs, `tls`
 * for the subscriber port (and any other listener flag by its name). Several sockets may share one
 * name (two `udp` inputs). The variables are removed once read, so no child inherits them.
 */

/** The first fd passed (SD_LISTEN_FDS_START). */
export const LISTEN_FDS_START = 3;

export class ActivationError extends Error {
  readonly code = 'ERR_SOCKET_ACTIVATION';
}

/** Sockets passed to this process, by name; empty when none were. Removes the variables from `env`. */
export function listenFds(env: NodeJS.ProcessEnv = process.env, pid = process.pid): Map<string, number[]> {
  const { LISTEN_PID: forPid, LISTEN_FDS: count, LISTEN_FDNAMES: names } = env;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  const byName = new Map<string, number[]>();
  if (count === undefined || forPid === undefined || forPid !== String(pid)) return byName;
  if (!/^[0-9]{1,4}$/.test(count))
    throw new ActivationError(`socket activation: LISTEN_FDS is not a count of fds: ${JSON.stringify(count)}`);
  const n = Number(count);
  const list = names === undefined ? [] : names.split(':');
  if (names !== undefined && list.length !== n) {
    throw new ActivationError(`socket activation: LISTEN_FDNAMES names ${list.length} sockets, LISTEN_FDS passes ${n}`);
  }
  for (let i = 0; i < n; i++) {
    // systemd names a socket without FileDescriptorName= after its unit; here every socket needs a role.
    const name = list[i] || 'unknown';
    byName.set(name, [...(byName.get(name) ?? []), LISTEN_FDS_START + i]);
  }
  return byName;
}

/**
 * Checks that every passed socket's name is one of `known`, so a socket never sits unused: a name
 * that is no listener flag is a mistake in the .socket unit.
 */
export function checkNames(fds: Map<string, number[]>, known: readonly string[]): void {
  for (const [name, list] of fds) {
    if (!known.includes(name)) {
      throw new ActivationError(
        `socket activation: fd ${list.join(', ')} is named ${JSON.stringify(name)}; FileDescriptorName= must be one of ${known.join(', ')}`,
      );
    }
  }
}
