import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeTier, isoWeekStart, Tier } from '../../../../src/core/catalog/tiers.ts';

const d = (s: string): Date => new Date(s);

test('tier table across year, month and ISO week boundaries', () => {
  const cases: [string, string[], string, string][] = [
    ['2026-11-24T03:00:00Z', [], 'yearly', 'first backup ever'],
    ['2026-11-24T03:00:00Z', ['2025-12-31T03:00:00Z'], 'yearly', 'first of a new year'],
    ['2026-11-24T03:00:00Z', ['2026-10-31T03:00:00Z'], 'monthly', 'first of a new month'],
    ['2026-11-24T03:00:00Z', ['2026-11-20T03:00:00Z'], 'weekly', 'first of a new ISO week (Tue after Fri)'],
    ['2026-11-24T03:00:00Z', ['2026-11-23T03:00:00Z'], 'daily', 'same ISO week (Mon then Tue)'],
    ['2026-11-24T23:00:00Z', ['2026-11-24T03:00:00Z'], 'daily', 'second backup on the same day'],
    ['2026-11-30T03:00:00Z', ['2026-11-29T03:00:00Z'], 'weekly', 'Monday after Sunday starts a week'],
    ['2026-12-01T03:00:00Z', ['2026-11-30T03:00:00Z'], 'monthly', 'month boundary inside one week: month wins'],
    ['2027-01-01T03:00:00Z', ['2026-12-31T03:00:00Z'], 'yearly', 'year boundary inside one week: year wins'],
    ['2027-01-02T03:00:00Z', ['2026-12-31T03:00:00Z', '2027-01-01T03:00:00Z'], 'daily', 'same ISO week across the new year'],
    ['2026-11-24T03:00:00Z', ['2026-11-24T05:00:00Z'], 'daily', 'clock skew: a later-stamped backup of today still counts'],
  ];
  for (const [now, existing, want, why] of cases) {
    assert.equal(computeTier(d(now), existing.map(d)), want, why);
  }
});

test('a re-run on the same day does not take the tier again: the earlier run of that day already holds it', () => {
  // The first backup of the year, month and week each take that tier once; a second run the same day is daily.
  const before = [d('2025-12-31T03:00:00Z')];
  assert.equal(computeTier(d('2026-01-01T03:00:00Z'), before), Tier.yearly);
  assert.equal(computeTier(d('2026-01-01T05:00:00Z'), [...before, d('2026-01-01T03:00:00Z')]), Tier.daily);
  const november = [d('2026-01-01T03:00:00Z'), d('2026-10-30T03:00:00Z')];
  assert.equal(computeTier(d('2026-11-02T03:00:00Z'), november), Tier.monthly);
  assert.equal(computeTier(d('2026-11-02T23:59:59Z'), [...november, d('2026-11-02T03:00:00Z')]), Tier.daily);
  const week = [...november, d('2026-11-02T03:00:00Z')];
  assert.equal(computeTier(d('2026-11-09T00:00:00Z'), week), Tier.weekly);
  assert.equal(computeTier(d('2026-11-09T12:00:00Z'), [...week, d('2026-11-09T00:00:00Z')]), Tier.daily);
});

test('ISO week starts on Monday 00:00 UTC', () => {
  assert.equal(new Date(isoWeekStart(d('2026-11-29T23:59:59Z'))).toISOString(), '2026-11-23T00:00:00.000Z');
  assert.equal(new Date(isoWeekStart(d('2026-11-30T00:00:00Z'))).toISOString(), '2026-11-30T00:00:00.000Z');
});
