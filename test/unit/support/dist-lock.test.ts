// The lock that keeps two test files from rebuilding dist/ at once (test/support/dist.ts), checked with real
// processes: their critical sections never overlap, and a lock left by a dead process does not block forever.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { withFileLock } from '../../support/dist.ts';

const work = mkdtempSync(path.join(tmpdir(), 'rsb-dist-lock-'));
after(() => rmSync(work, { recursive: true, force: true }));
const support = pathToFileURL(path.join(import.meta.dirname, '..', '..', 'support', 'dist.ts')).href;

function holder(lock: string, log: string): Promise<number | null> {
  const code = `
    import { appendFileSync } from 'node:fs';
    import { withFileLock } from ${JSON.stringify(support)};
    withFileLock(${JSON.stringify(lock)}, () => {
      appendFileSync(${JSON.stringify(log)}, 'enter\\n');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
      appendFileSync(${JSON.stringify(log)}, 'exit\\n');
    });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: 'inherit' });
  return new Promise((resolve) => child.on('exit', (c) => resolve(c)));
}

test('three processes taking the lock at once run one after the other', async () => {
  const lock = path.join(work, 'a.lock');
  const log = path.join(work, 'a.log');
  writeFileSync(log, '');
  const codes = await Promise.all([holder(lock, log), holder(lock, log), holder(lock, log)]);
  assert.deepEqual(codes, [0, 0, 0]);
  assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), ['enter', 'exit', 'enter', 'exit', 'enter', 'exit']);
});

test('a lock left by a process that died is taken over', () => {
  const dead = spawnSync(process.execPath, ['-e', 'process.pid']).pid!;
  const lock = path.join(work, 'b.lock');
  writeFileSync(lock, String(dead));
  assert.equal(
    withFileLock(lock, () => 'ran', 2000),
    'ran',
  );
});

test('a lock held by a live process past the timeout is an error, not a race', () => {
  const lock = path.join(work, 'c.lock');
  writeFileSync(lock, String(process.ppid));
  assert.throws(() => withFileLock(lock, () => 'ran', 300), /is held by process/);
});
