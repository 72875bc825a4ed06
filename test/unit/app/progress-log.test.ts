import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clock, estimateText, progressLog } from '../../../src/app/progress-log.ts';
import { estimate, STABLE_AFTER_MS } from '../../../src/core/backup/dump-progress.ts';
import { foresee } from '../../../src/lambda/foresight.ts';

const sample = {
  doneBytes: 250e6,
  totalBytes: 1000e6,
  currentTable: 'public.orders',
  tablesDone: 2,
  tablesTotal: 12,
  method: 'copy',
} as const;

test('estimate: percent and ETA from database bytes at the average rate since the start', () => {
  const e = estimate('shop', sample, 10_000);
  assert.equal(e.percent, 25);
  assert.equal(e.bytesPerSecond, 25e6);
  assert.equal(e.etaMs, 30_000);
  assert.equal(e.stable, true);
  assert.equal(estimateText(e), '25.0% of 1000 MB, 25.0 MB/s, ETA 0:30, public.orders (3/12)');
  // Not stable before 5% unless a minute has passed.
  assert.equal(estimate('shop', { ...sample, doneBytes: 10e6 }, 1000).stable, false);
  assert.equal(estimate('shop', { ...sample, doneBytes: 10e6 }, STABLE_AFTER_MS).stable, true);
  // Nothing copied yet: no rate, no ETA, never stable.
  const none = estimate('shop', { ...sample, doneBytes: 0 }, 120_000);
  assert.deepEqual([none.bytesPerSecond, none.etaMs, none.stable], [null, null, false]);
  assert.equal(clock(3_725_000), '1:02:05');
});

test('foresee: aborts only a stable projection that ends after the time before the margin, and says so with the numbers', () => {
  const e = estimate('shop', sample, 10_000); // needs 30 s more
  assert.equal(foresee(e, 60_000, 5_000), null);
  assert.equal(foresee(e, 30_000, 5_000), null, 'within the tolerance (30 s needed, 25 s left): runs on');
  const err = foresee(e, 20_000, 5_000);
  assert.ok(err);
  assert.match(err.message, /needs about 0:40 in all \(0:30 more\), but only 0:15 remain before the abort margin/);
  assert.match(err.message, /runner = "ecs" fits/);
  assert.equal(foresee(estimate('shop', { ...sample, doneBytes: 10e6 }, 1000), 1000, 500), null, 'unstable: never');
});

test('progressLog: one line per interval, from the estimate when there is one, else the archive bytes; unknown at debug', async () => {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  const log = {
    info: (msg: string, fields: Record<string, unknown>) => lines.push({ level: 'info', msg, fields }),
    debug: (msg: string, fields: Record<string, unknown>) => lines.push({ level: 'debug', msg, fields }),
  };
  const on = progressLog(log, () => ({ remainingMs: 1 }), 100);
  on({ type: 'start', database: 'shop', key: 'k', partSize: 1, tier: 'daily' });
  on({ type: 'progress', database: 'shop', bytes: 5, elapsedMs: 1 });
  assert.equal(lines.length, 0, 'not before the interval');
  await new Promise((r) => setTimeout(r, 120));
  on({ type: 'progress', database: 'shop', bytes: 7, elapsedMs: 30 });
  assert.deepEqual(lines.at(-1), {
    level: 'info',
    msg: 'backup progress',
    fields: { database: 'shop', bytes: 7, elapsedMs: 30, remainingMs: 1 },
  });
  await new Promise((r) => setTimeout(r, 120));
  on({ type: 'estimate', database: 'shop', estimate: estimate('shop', sample, 10_000), reason: null });
  assert.equal(lines.at(-1)!.fields.progress, 'shop 25.0% of 1000 MB, 25.0 MB/s, ETA 0:30, public.orders (3/12)');
  assert.equal(lines.at(-1)!.fields.percent, 25);
  on({ type: 'estimate', database: 'shop', estimate: null, reason: 'too many clients' });
  assert.equal(lines.at(-1)!.level, 'debug');
  assert.equal(lines.filter((l) => l.level === 'info').length, 2);
});
