// One answer to "is dist/ fresh?" for every test that runs the built Lambda (test/integration/lambda.test.ts and
// test/support/lambda-runner.ts), and a lock so that two test files running at once (--test-concurrency=2) never
// rebuild dist/ at the same time: the second waits, then finds it fresh.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const DIST = path.join(ROOT, 'dist');
export const LAYER_ARCH = process.arch === 'arm64' ? 'arm64' : 'x86_64';
/** Outside dist/: the package script replaces what is in it. */
const LOCK = path.join(ROOT, '.cache', 'dist-build.lock');

function newestMtime(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(p).map((n) => newestMtime(path.join(p, n))));
}

/** dist/ holds every artifact and each is newer than everything that goes into it. */
export function distIsFresh(): boolean {
  const files = ['function.zip', `pgtools-layer-${LAYER_ARCH}.zip`, 'manifest.json'].map((f) => path.join(DIST, f));
  const inputs = [
    path.join(ROOT, 'src'),
    path.join(ROOT, 'scripts', 'package.ts'),
    path.join(ROOT, 'scripts', 'package'),
    path.join(ROOT, 'package-lock.json'),
    path.join(ROOT, '.cache', 'pgtools'),
  ];
  return (
    files.every((f) => existsSync(f)) &&
    Math.min(...files.map((f) => statSync(f).mtimeMs)) > Math.max(...inputs.filter(existsSync).map(newestMtime))
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Runs `fn` while holding an exclusive lock file (O_EXCL create, holding this process id). A lock left by a dead
 * process is taken over; one held longer than `timeoutMs` by a live process is an error, not a silent race.
 */
export function withFileLock<T>(lockFile: string, fn: () => T, timeoutMs = 20 * 60_000): T {
  mkdirSync(path.dirname(lockFile), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = 0;
    try {
      holder = Number(readFileSync(lockFile, 'utf8'));
    } catch {
      continue; // released between our attempt and the read
    }
    // An empty file is a holder between create and write: wait for it like for any other.
    if (holder > 0 && !alive(holder)) {
      rmSync(lockFile, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${lockFile} is held by process ${holder} for more than ${timeoutMs} ms`);
    sleep(200);
  }
  try {
    return fn();
  } finally {
    rmSync(lockFile, { force: true });
  }
}

/** Reuses dist/ when it is fresh, else runs `scripts/package.ts` (as `npm run package` does), one process at a time. */
export function ensureLambdaArtifacts(): { rebuilt: boolean } {
  if (distIsFresh()) return { rebuilt: false };
  return withFileLock(LOCK, () => {
    // Another test file may have rebuilt it while this one waited for the lock.
    if (distIsFresh()) return { rebuilt: false };
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'package.ts')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    return { rebuilt: true };
  });
}
