// Lambda artifacts: sizes (from `npm run package`'s manifest) and the cold init of the bundled handler — the
// time a fresh Node 24 process needs to import index.mjs (module load and top level, i.e. the part of Lambda's
// Init Duration the code controls; the runtime's own bootstrap is not included).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { BENCH_CACHE, REPO } from './build.ts';
import type { Log } from './phases.ts';
import { MiB, spread } from './stats.ts';
import type { PackageInfo } from './types.ts';

const exec = promisify(execFile);

type Manifest = { artifacts: Array<{ file: string; bytes: number; unpackedBytes?: number }> };

export async function measurePackage(reps: number, log: Log): Promise<PackageInfo> {
  const packager = path.join(REPO, 'scripts', 'package.ts');
  if (!existsSync(packager)) {
    return {
      available: false,
      note: 'scripts/package.ts does not exist yet: no artifacts to measure',
      artifacts: [],
      coldInitMs: null,
      coldInitRssMiB: null,
    };
  }
  // Built here, from the working tree, so the bench never overwrites someone's dist/.
  const out = path.join(BENCH_CACHE, 'package');
  log('packaging the Lambda artifacts (scripts/package.ts --out .cache/bench/package)');
  try {
    await exec(process.execPath, [packager, '--out', out, '--no-pgtools-build'], { cwd: REPO, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    const why = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(-5).join(' / ');
    return { available: false, note: `scripts/package.ts failed: ${why}`, artifacts: [], coldInitMs: null, coldInitRssMiB: null };
  }
  const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
  const artifacts = manifest.artifacts.map((a) => ({ file: a.file, bytes: a.bytes, unpackedBytes: a.unpackedBytes ?? null }));

  const dir = await mkdtemp(path.join(os.tmpdir(), 'rds-s3-backup-bench-fn-'));
  try {
    await exec('unzip', ['-q', path.join(out, 'function.zip'), '-d', dir]);
    const entry = pathToFileURL(path.join(dir, 'index.mjs')).href;
    const script =
      `const t = performance.now(); const m = await import(${JSON.stringify(entry)});` +
      `if (typeof m.handler !== 'function') throw new Error('no handler export');` +
      `process.stdout.write(JSON.stringify({ ms: performance.now() - t, rss: process.memoryUsage().rss }));`;
    const ms: number[] = [];
    const rss: number[] = [];
    // A Lambda-like environment: no credentials needed to load, none given.
    const env = { PATH: '/usr/bin:/bin', AWS_REGION: 'eu-west-1', AWS_LAMBDA_FUNCTION_NAME: 'bench', LAMBDA_TASK_ROOT: dir, TZ: 'UTC' };
    for (let i = 0; i < reps + 1; i++) {
      const { stdout } = await exec(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, env });
      const r = JSON.parse(stdout) as { ms: number; rss: number };
      // The first import warms the OS file cache (as a provisioned Lambda's disk would be): discarded.
      if (i > 0) {
        ms.push(r.ms);
        rss.push(r.rss / MiB);
      }
    }
    log(
      `function.zip ${(artifacts.find((a) => a.file === 'function.zip')?.bytes ?? 0) / 1024} KiB; handler import median ${spread(ms).median.toFixed(0)} ms`,
    );
    return {
      available: true,
      note: 'built from the working tree with scripts/package.ts; init = import of index.mjs in a fresh Node process',
      artifacts,
      coldInitMs: spread(ms),
      coldInitRssMiB: spread(rss),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
