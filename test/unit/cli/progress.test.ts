import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backupProgress } from '../../../src/cli/progress.ts';
import type { DatabaseResult } from '../../../src/core/backup/run-backup.ts';

const result: DatabaseResult = {
  kind: 'database',
  database: 'app',
  ok: true,
  id: 'x',
  key: 'p/app/x.dump',
  manifestKey: 'p/app/x.manifest.json',
  bytes: 3 * 1024 * 1024,
  sha256: 'a'.repeat(64),
  tier: 'daily',
  durationMs: 2000,
  error: null,
};

function render(isTTY: boolean, quiet = false): string {
  let text = '';
  const on = backupProgress(
    {
      write: (t) => {
        text += t;
      },
      isTTY,
    },
    { quiet },
  );
  on({ type: 'start', database: 'app', key: 'p/app/x.dump', partSize: 16 << 20, tier: 'daily' });
  on({ type: 'progress', database: 'app', bytes: 1024 * 1024, elapsedMs: 500 });
  on({ type: 'done', result });
  return text;
}

test('a TTY gets a live line (bytes, rate, elapsed) that the result replaces', () => {
  const t = render(true);
  assert.match(t, /app: 1\.0 MiB {2}2\.0 MiB\/s {2}0\.5s/);
  assert.ok(t.includes('\r\x1b[2K'), 'the live line is cleared');
  assert.match(t, /✓ app: 3\.0 MiB in 2\.0s \(1\.5 MiB\/s\), daily → p\/app\/x\.dump\n$/);
});

test('not a TTY: no live updates, one line per finished database; quiet: nothing', () => {
  const t = render(false);
  assert.ok(!t.includes('\r'));
  assert.doesNotMatch(t, /starting/);
  assert.equal(t.split('\n').filter(Boolean).length, 1);
  assert.equal(render(true, true), '');
});
