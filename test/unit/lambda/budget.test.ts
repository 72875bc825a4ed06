import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AbortedError } from '../../../src/core/errors.ts';
import { watchTimeBudget } from '../../../src/lambda/budget.ts';

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
