// More tier cases (the base table is in tiers.test.ts): what the backup's single listing can and cannot see.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeTier, tierListingPrefix } from '../../../../src/core/catalog/tiers.ts';

const d = (s: string): Date => new Date(s);

test('tier edge cases, table-driven', () => {
  const cases: [now: string, existing: string[], want: string, why: string][] = [
    ['2027-01-01T00:00:00Z', [], 'yearly', 'midnight UTC on Jan 1 opens the year (the listing is of this year only)'],
    ['2026-12-31T23:59:59Z', ['2026-12-01T00:00:00Z'], 'weekly', 'last second of the year, new ISO week (Mon Dec 28)'],
    [
      '2027-01-04T03:00:00Z',
      ['2027-01-01T03:00:00Z', '2027-01-02T03:00:00Z'],
      'weekly',
      'Monday after a year-opening Friday: ISO week 1 of 2027',
    ],
    ['2028-02-29T03:00:00Z', ['2028-02-28T03:00:00Z'], 'daily', 'leap day in the same ISO week (Mon Feb 28)'],
    ['2028-03-01T03:00:00Z', ['2028-02-29T03:00:00Z'], 'monthly', 'month after a leap day'],
    ['2026-11-24T03:00:00Z', ['2026-11-24T03:00:00Z'], 'daily', 're-run in the same second (another id, same stamp)'],
    ['2026-11-24T03:00:00Z', ['2026-11-25T01:00:00Z'], 'daily', 'skewed clock: a backup stamped tomorrow, same ISO week, counts'],
    [
      '2026-11-24T03:00:00Z',
      ['2026-12-02T01:00:00Z'],
      'monthly',
      'skewed clock far ahead: a backup stamped next month does not count for this month',
    ],
    [
      '2026-11-24T03:00:00Z',
      ['2026-11-02T00:00:00Z', '2026-03-01T00:00:00Z', '2026-11-23T00:00:00Z'],
      'daily',
      'order of the listing does not matter',
    ],
  ];
  for (const [now, existing, want, why] of cases) {
    assert.equal(computeTier(d(now), existing.map(d)), want, why);
  }
});

test('one listing per backup: this year of one database folder', () => {
  assert.equal(tierListingPrefix('p/app/', d('2027-01-01T00:00:00Z')), 'p/app/2027');
  assert.equal(tierListingPrefix('@globals/', d('2026-11-24T03:00:00Z')), '@globals/2026');
});
