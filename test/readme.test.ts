/**
 * Every fenced code block of README.md runs as written: one test per block, named by its line.
 *
 * How a block is run, by its language:
 * - `sh`, `bash`, `shell`: with `bash -e`; `console`: its `$ ` lines with `bash -e` (the rest is output).
 * - `js`: with `node`, saved as `block.mjs` when it has an `import` statement, else `block.cjs`.
 * - `ts`: type-checked with `tsc --strict` (module nodenext, @types/node), then run with `tsx`; saved as
 *   `block.mts`.
 * - Any other language (`text`, `json`, none) is not a program and is not run.
 * Each block runs in a fresh temp dir (its cwd) where `pollset` resolves to this checkout (as in a project
 * that installed it) and `logrelay`, `logtail`, `tsx` and `tsc` are on PATH. It passes when it exits 0
 * within its time (60 s by default).
 *
 * A block that needs more says so in an HTML comment on the line right before its fence (invisible on
 * GitHub), words separated by spaces:
 *
 *   <!-- doctest: file=relay.mjs certs netns -->
 *
 * - `file=NAME`: save it under this name (the one the README tells the reader to use; the extension
 *   decides ES module or CommonJS, `.mts` for TypeScript with top-level await).
 * - `certs`: the cwd holds development certificates under the names the README uses: `ca.pem`,
 *   `server.pem`, `server-key.pem` (127.0.0.1, ::1, localhost), `me.pem`, `me-key.pem` (a client).
 * - `netns`: run in a network namespace of its own (test/netns.ts), for blocks that bind fixed ports
 *   (5514, 6514) whatever holds them on the host.
 * - `until="TEXT"`: a long-running command (`npm start`, a server): the block passes once its output
 *   (stdout and stderr) contains TEXT; then its whole process group is killed.
 * - `timeout=S`: seconds before the block counts as hung (default 60).
 * - `syntax: WHY` (alone, and last): the block is only checked, not run — `bash -n`, `node --check`, or
 *   the TypeScript type check — because running it here cannot work or must not happen (placeholder
 *   hosts and files, multi-minute builds, commands that rebuild the tree the suite runs from). WHY is
 *   required and shows in the test's name; prefer making a block runnable to marking it.
 * An unknown word is an error, so a misspelt annotation fails rather than being ignored.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { makeClientCert, makeDevCa, makeServerCert } from '../lib';
import { NetNamespace } from './netns';

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'node_modules', '.bin');

interface Block {
  line: number; // of the opening fence, 1-based
  lang: string;
  code: string;
  file?: string;
  certs: boolean;
  netns: boolean;
  until?: string;
  timeoutS: number;
  syntax?: string;
}

const LANGS: Record<string, 'shell' | 'console' | 'js' | 'ts'> = {
  sh: 'shell',
  bash: 'shell',
  shell: 'shell',
  console: 'console',
  js: 'js',
  javascript: 'js',
  ts: 'ts',
  typescript: 'ts',
};

/** The annotation of a block: `<!-- doctest: … -->` on the line before the fence. */
function annotate(block: Block, comment: string): void {
  const body = /^<!--\s*doctest:(.*?)-->\s*$/.exec(comment.trim())?.[1];
  if (body === undefined) return;
  const syntax = /(?:^|\s)syntax:(.*)$/.exec(body);
  if (syntax) {
    block.syntax = syntax[1].trim();
    if (!block.syntax) throw new Error(`README.md:${block.line}: doctest syntax: needs a reason`);
  }
  const words = (syntax ? body.slice(0, syntax.index) : body).match(/\S+="[^"]*"|\S+/g) ?? [];
  for (const word of words) {
    const [key, raw] = word.split(/=(.*)/s);
    const value = raw?.replace(/^"(.*)"$/s, '$1');
    if (key === 'file' && value) block.file = value;
    else if (key === 'certs' && raw === undefined) block.certs = true;
    else if (key === 'netns' && raw === undefined) block.netns = true;
    else if (key === 'until' && value) block.until = value;
    else if (key === 'timeout' && Number(value) > 0) block.timeoutS = Number(value);
    else throw new Error(`README.md:${block.line}: unknown doctest annotation ${JSON.stringify(word)}`);
  }
}

/** Every fenced block of `text`, with its annotation. */
function blocks(text: string): Block[] {
  const lines = text.split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith(open[1]) && l.trim() === open[1]);
    if (end < 0) throw new Error(`README.md:${i + 1}: a fence that is never closed`);
    const block: Block = {
      line: i + 1,
      lang: open[2],
      code: lines.slice(i + 1, end).join('\n') + '\n',
      certs: false,
      netns: false,
      timeoutS: 60,
    };
    if (i > 0) annotate(block, lines[i - 1]);
    out.push(block);
    i = end;
  }
  return out;
}

/** A temp dir as a project that installed pollset would be, with the certificates if asked. */
function workspace(block: Block): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-block-'));
  // Links to single packages only, never to a directory of them: a block that runs npm here may prune
  // node_modules, and must only ever remove links, not what they point to in the checkout.
  fs.mkdirSync(path.join(dir, 'node_modules', '@types'), { recursive: true });
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'pollset'));
  fs.symlinkSync(path.join(ROOT, 'node_modules', '@types', 'node'), path.join(dir, 'node_modules', '@types', 'node'));
  const bin = path.join(dir, 'node_modules', '.bin');
  fs.mkdirSync(bin);
  for (const name of ['logrelay', 'logtail'])
    fs.symlinkSync(path.join(ROOT, 'bin', `${name}.js`), path.join(bin, name));
  for (const name of ['tsx', 'tsc']) fs.symlinkSync(path.join(BIN, name), path.join(bin, name));
  if (block.certs) {
    const ca = makeDevCa({ cn: 'README example CA' });
    const server = makeServerCert(ca);
    const me = makeClientCert(ca, { cn: 'me' });
    const files: Record<string, string> = {
      'ca.pem': ca.cert,
      'server.pem': server.cert,
      'server-key.pem': server.key,
      'me.pem': me.cert,
      'me-key.pem': me.key,
    };
    for (const [name, pem] of Object.entries(files))
      fs.writeFileSync(path.join(dir, name), pem, { mode: name.includes('key') ? 0o600 : 0o644 });
  }
  return dir;
}

interface Outcome {
  code: number | string;
  output: string;
  matched: boolean;
}

/**
 * Runs argv in `cwd` as the leader of a process group of its own; resolves when it exits, or (with
 * `until`) once its output contains that text — then, or on timeout, the whole group is killed.
 */
function run(argv: string[], cwd: string, block: Block): Promise<Outcome> {
  const env = { ...process.env, PATH: `${path.join(cwd, 'node_modules', '.bin')}:${process.env.PATH}` };
  const child = spawn(argv[0], argv.slice(1), { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve) => {
    const killGroup = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // ESRCH: the group is gone
      }
    };
    let matched = false;
    const timer = setTimeout(() => {
      output += `\n[doctest: no exit within ${block.timeoutS} s; killed]`;
      killGroup();
    }, block.timeoutS * 1000);
    const collect = (c: Buffer) => {
      output += c.toString();
      if (block.until && !matched && output.includes(block.until)) {
        matched = true;
        killGroup();
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: String(err), output, matched });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      killGroup(); // whatever the block left running in the background
      resolve({ code: code ?? signal!, output, matched });
    });
  });
}

/** The command lines of a `console` block: its `$ ` lines. */
function consoleCommands(code: string): string {
  return (
    code
      .split('\n')
      .filter((l) => l.startsWith('$ '))
      .map((l) => l.slice(2))
      .join('\n') + '\n'
  );
}

function defaultFile(block: Block, kind: string): string {
  if (kind === 'ts') return 'block.mts';
  if (kind === 'js') return /^\s*import\s/m.test(block.code) ? 'block.mjs' : 'block.cjs';
  return 'block.sh';
}

/** The commands that check or run a block, in order; each must exit 0. */
function commands(block: Block, kind: string, file: string): string[][] {
  const tsc = [
    'tsc',
    '--noEmit',
    '--strict',
    '--module',
    'nodenext',
    '--moduleResolution',
    'nodenext',
    '--target',
    'es2022',
    '--types',
    'node',
    '--skipLibCheck',
    file,
  ];
  if (kind === 'ts') return block.syntax ? [tsc] : [tsc, ['tsx', file]];
  if (kind === 'js') return [block.syntax ? ['node', '--check', file] : ['node', file]];
  return [block.syntax ? ['bash', '-n', file] : ['bash', '-e', file]];
}

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const all = blocks(readme);
const programs = all.filter((b) => LANGS[b.lang]);

test('README.md has code blocks, and every annotation names a block the suite runs', () => {
  expect(programs.length).toBeGreaterThan(5);
  const annotated = readme.split('\n').filter((l) => /<!--\s*doctest:/.test(l)).length;
  expect(
    all.filter((b) => b.syntax !== undefined || b.file || b.certs || b.netns || b.until).length,
  ).toBeLessThanOrEqual(annotated);
  const stray = readme
    .split('\n')
    .flatMap((l, i, lines) =>
      /<!--\s*doctest:/.test(l) && !/^(`{3,}|~{3,})/.test(lines[i + 1] ?? '') ? [`README.md:${i + 1}`] : [],
    );
  expect(stray).toEqual([]); // an annotation not right before a fence would be silently ignored
});

test('the annotations: a long-running block passes once it prints its text, and its whole process group is stopped; unknown words are errors', async () => {
  const [block] = blocks(
    '<!-- doctest: until="serving" timeout=20 -->\n```sh\nsleep 300 &\necho $! > bg.pid\necho serving\nsleep 300\n```\n',
  );
  expect(block).toMatchObject({ line: 2, lang: 'sh', until: 'serving', timeoutS: 20 });
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-block-'));
  try {
    fs.writeFileSync(path.join(cwd, 'block.sh'), block.code);
    const outcome = await run(['bash', '-e', 'block.sh'], cwd, block);
    expect(outcome.matched).toBe(true);
    expect(outcome.code).toBe('SIGKILL');
    const background = Number(fs.readFileSync(path.join(cwd, 'bg.pid'), 'utf8'));
    // Dead: gone, or a zombie waiting for its new parent to reap it (bounded wait: SIGKILL is delivered at once).
    const dead = () => {
      try {
        return / Z /.test(fs.readFileSync(`/proc/${background}/stat`, 'utf8').replace(/^.*\)/, ''));
      } catch {
        return true; // ENOENT: reaped
      }
    };
    for (let i = 0; i < 100 && !dead(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(dead()).toBe(true);
  } finally {
    fs.rmSync(cwd, { recursive: true, force: true });
  }
  expect(() => blocks('<!-- doctest: netns certz -->\n```js\n```\n')).toThrow(/unknown doctest annotation "certz"/);
  expect(() => blocks('<!-- doctest: syntax: -->\n```sh\n```\n')).toThrow(/needs a reason/);
  expect(blocks('<!-- doctest: file=a.mjs syntax: a reason, with words -->\n```js\n```\n')[0]).toMatchObject({
    file: 'a.mjs',
    syntax: 'a reason, with words',
  });
});

describe.each(
  programs.map((b) => [`README.md:${b.line} (${b.lang})${b.syntax ? `: syntax only, ${b.syntax}` : ''}`, b] as const),
)('%s', (_name, block) => {
  test(
    block.syntax
      ? 'is well-formed'
      : block.until
        ? `runs until it prints ${JSON.stringify(block.until)}`
        : 'runs as written and exits 0',
    async () => {
      const kind = LANGS[block.lang];
      const cwd = workspace(block);
      const ns = block.netns && !block.syntax ? await NetNamespace.open() : null;
      try {
        if (ns && 'unavailable' in ns)
          throw new Error(`README.md:${block.line} needs a network namespace: ${ns.unavailable}`);
        const file = block.file ?? defaultFile(block, kind);
        fs.writeFileSync(path.join(cwd, file), kind === 'console' ? consoleCommands(block.code) : block.code);
        for (const argv of commands(block, kind === 'console' ? 'shell' : kind, file)) {
          const { code, output, matched } = await run([...(ns ? ns.prefix : []), ...argv], cwd, block);
          const what = `README.md:${block.line}: \`${argv.join(' ')}\``;
          if (block.until && argv[0] !== 'tsc' && !block.syntax) {
            if (!matched)
              throw new Error(`${what} never printed ${JSON.stringify(block.until)} (exit ${code}):\n${output}`);
          } else if (code !== 0) {
            throw new Error(`${what} exited ${code}:\n${output}`);
          }
        }
      } finally {
        if (ns && !('unavailable' in ns)) await ns.close();
        fs.rmSync(cwd, { recursive: true, force: true });
      }
    },
    (block.timeoutS + 90) * 1000,
  );
});
