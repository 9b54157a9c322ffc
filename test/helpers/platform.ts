/** Tests whose assertions only hold on one platform say so, and why, in their name. */

/**
 * `describe` on Linux; elsewhere the same block, skipped, so a macOS or FreeBSD run lists what it
 * did not check and why.
 */
export function describeOnLinux(name: string, reason: string, body: () => void): void {
  (process.platform === 'linux' ? describe : describe.skip)(`${name} (Linux only: ${reason})`, body);
}
