import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backupProgress } from '../../../src/cli/progress.ts';
import type { DatabaseResult } from '../../../src/core/backup/run-backup.ts';
import { estimate } from '../../../src/core/backup/dump-progress.ts';

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
  skipped: false,
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

function renderEstimate(isTTY: boolean, mode: 'auto' | 'bar' | 'json' | 'none'): string {
  let text = '';
  const write = (t: string): void => {
    text += t;
  };
  const on = backupProgress({ write, isTTY }, { quiet: false, mode });
  on({ type: 'start', database: 'app', key: 'p/app/x.dump', partSize: 16 << 20, tier: 'daily' });
  on({ type: 'estimate', database: 'app', estimate: estimate('app', sample, 10_000), reason: null });
  on({ type: 'progress', database: 'app', bytes: 1024 * 1024, elapsedMs: 500 });
  on({ type: 'done', result });
  return text;
}
const sample = {
  doneBytes: 250e6,
  totalBytes: 1000e6,
  currentTable: 'public.orders',
  tablesDone: 2,
  tablesTotal: 12,
  method: 'copy',
} as const;

test('the server estimate draws a bar (percent, database MB/s, ETA, table) that archive bytes do not overwrite', () => {
  const t = renderEstimate(true, 'auto');
  assert.ok(t.includes('app [██████░░░░░░░░░░░░░░░░░░] 25.0% of 1000 MB, 25.0 MB/s, ETA 0:30, public.orders (3/12)'), t);
  assert.doesNotMatch(t, /1\.0 MiB {2}2\.0 MiB\/s/);
  assert.doesNotMatch(renderEstimate(false, 'auto'), /ETA/, 'no bar off a TTY');
  assert.match(renderEstimate(false, 'bar'), /ETA 0:30/, '--progress=bar draws anyway');
  assert.equal(renderEstimate(true, 'none'), '');
});

test('--progress=json: one JSON document per event, estimate fields included', () => {
  const lines = renderEstimate(false, 'json')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    lines.map((l) => l.event),
    ['start', 'estimate', 'progress', 'done'],
  );
  assert.equal((lines[1]!.estimate as { percent: number }).percent, 25);
});
