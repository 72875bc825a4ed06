import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AbortedError } from '../../../src/core/errors.ts';
import type { BackupReport, DatabaseResult } from '../../../src/core/backup/run-backup.ts';
import { budgetError, watchTimeBudget } from '../../../src/lambda/budget.ts';

const clock = (remainingAtStart: number) => {
  const t0 = Date.now();
  return () => remainingAtStart - (Date.now() - t0);
};

test('aborts with an AbortedError when the remaining time reaches the margin', async () => {
  const budget = watchTimeBudget(clock(5150), 5000);
  assert.equal(budget.expired(), false);
  await new Promise((r) => budget.signal.addEventListener('abort', r, { once: true }));
  assert.ok(budget.signal.reason instanceof AbortedError);
  assert.match(budget.signal.reason.message, /time budget ran out/);
  assert.match(budget.signal.reason.hint ?? '', /ECS Fargate task \(runner = "ecs" in the Terraform module\) or the rds-s3-backup CLI/);
  budget.dispose();
});

test('already inside the margin: aborted at once; the hard stop fires shortly before the timeout', async () => {
  const budget = watchTimeBudget(clock(1300), 30_000);
  assert.equal(budget.expired(), true);
  const t0 = Date.now();
  await assert.rejects(budget.hardStop, /cleanup did not finish in time/);
  const waited = Date.now() - t0;
  assert.ok(waited >= 200 && waited < 1000, `hard stop after ${waited} ms`);
  budget.dispose();
});

test('dispose cancels the timers (no abort after the run ended)', async () => {
  const budget = watchTimeBudget(clock(5100), 5000);
  budget.dispose();
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(budget.expired(), false);
});

const result = (database: string, over: Partial<DatabaseResult>): DatabaseResult => ({
  kind: 'database',
  database,
  ok: false,
  id: 'x',
  key: `p/${database}/x.dump`,
  manifestKey: null,
  bytes: 0,
  sha256: null,
  tier: null,
  durationMs: 10,
  skipped: false,
  error: { name: 'AbortedError', message: 'the backup was aborted', hint: null },
  ...over,
});

const report = (results: DatabaseResult[]): BackupReport => ({
  ok: false,
  target: 's3://b/p',
  startedAt: '2026-12-03T00:00:00.000Z',
  finishedAt: '2026-12-03T00:14:00.000Z',
  server: null,
  pgDumpVersion: null,
  results,
});

test('budgetError names the database that was cut short, from the structured skipped field, not from wording', () => {
  // The cut database's own message says "before it started" (pg_dump's last part never started): wording must
  // not decide which database the budget cut; the structured field does.
  const cut = result('orders', { error: { name: 'AbortedError', message: 'aborted before it started its last part', hint: null } });
  const later = result('audit', {
    skipped: true,
    error: { name: 'AbortedError', message: 'backup cancelled before it started', hint: null },
  });
  const done = result('app', { ok: true, bytes: 5, error: null });
  const err = budgetError(report([done, cut, later]), null, new Error('budget'));
  assert.ok(err instanceof AbortedError);
  assert.match(err.message, /ran out while backing up orders:/);
  assert.match(err.message, /completed before the cut: app/);
  assert.match(err.message, /not backed up: audit$/);
});

test('budgetError: every database skipped and nothing in flight says the budget ran out before the backup started', () => {
  const err = budgetError(report([result('app', { skipped: true })]), null, new Error('budget'));
  assert.match(err.message, /ran out before the backup started/);
  assert.match(err.message, /not backed up: app/);
});
