import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { checkTempDir } from '../../../src/app/restore.ts';
import { ConfigError, ExitCode } from '../../../src/core/errors.ts';

function usageNaming(pattern: RegExp) {
  return (err: unknown): boolean =>
    err instanceof ConfigError &&
    err.exitCode === ExitCode.usage &&
    err.issues.some((i) => i.field === '--temp-dir' && pattern.test(i.message));
}

test('--temp-dir missing, a file, or not writable ⇒ usage error (exit 2) naming it', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rsb-tempdir-'));
  try {
    await checkTempDir(dir);
    const missing = path.join(dir, 'nope');
    await assert.rejects(checkTempDir(missing), usageNaming(new RegExp(`${missing} does not exist`)));
    const file = path.join(dir, 'file');
    await writeFile(file, 'x');
    await assert.rejects(checkTempDir(file), usageNaming(/is not a directory/));
    // root writes anywhere: the permission case runs only as a normal user.
    if (process.getuid?.() !== 0) {
      const ro = path.join(dir, 'ro');
      await mkdir(ro);
      await chmod(ro, 0o500);
      await assert.rejects(checkTempDir(ro), usageNaming(/is not writable/));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
