import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type DumpEstimate, watchDump } from '../../../../src/core/backup/dump-progress.ts';
import type { ProgressProbe, ProgressSample } from '../../../../src/core/ports/database-source.ts';

const sample: ProgressSample = { doneBytes: 10, totalBytes: 100, currentTable: 'a.t', tablesDone: 0, tablesTotal: 1, method: 'copy' };

function probe(fail: (n: number) => boolean): ProgressProbe & { calls: number; closed: number } {
  const p = {
    calls: 0,
    closed: 0,
    async sample() {
      p.calls++;
      if (fail(p.calls)) throw new Error(`sorry, too many clients already (${p.calls})`);
      return sample;
    },
    async close() {
      p.closed++;
    },
  };
  return p;
}

test('a probe error ends the watch: progress unknown once, the probe closed, no further queries', async () => {
  const p = probe((n) => n === 2);
  const estimates: DumpEstimate[] = [];
  const unknown: string[] = [];
  const w = watchDump(p, {
    database: 'shop',
    startedAt: Date.now(),
    intervalMs: 5,
    onEstimate: (e) => estimates.push(e),
    onUnknown: (r) => unknown.push(r),
  });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(estimates.length, 1);
  assert.deepEqual(unknown, ['sorry, too many clients already (2)']);
  assert.equal(p.calls, 2, 'no query after the failure');
  assert.ok(p.closed >= 1);
  await w.stop();
});

test('stop: no estimate after it, the probe is closed, a consumer that throws only makes progress unknown', async () => {
  const p = probe(() => false);
  const estimates: DumpEstimate[] = [];
  const w = watchDump(p, {
    database: 'shop',
    startedAt: Date.now() - 1000,
    intervalMs: 5,
    onEstimate: (e) => estimates.push(e),
    onUnknown: () => undefined,
  });
  await new Promise((r) => setTimeout(r, 200));
  await w.stop();
  const n = estimates.length;
  assert.ok(n >= 1);
  assert.equal(estimates[0]!.percent, 10);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(estimates.length, n);
  assert.equal(p.closed, 1);

  const unknown: string[] = [];
  const w2 = watchDump(
    probe(() => false),
    {
      database: 'shop',
      startedAt: Date.now(),
      intervalMs: 5,
      onEstimate: () => {
        throw new Error('renderer bug');
      },
      onUnknown: (r) => unknown.push(r),
    },
  );
  await new Promise((r) => setTimeout(r, 200));
  await w2.stop();
  assert.deepEqual(unknown, ['renderer bug']);
});
