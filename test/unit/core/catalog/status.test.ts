import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verdictOf } from '../../../../src/core/catalog/verdict.ts';

test("verdictOf: the record's own verdict when known, else ok ⇒ verified, otherwise failed (records before verdicts)", () => {
  const base = { verifiedAt: '2026-12-01T00:00:00Z', mode: 'restore', summary: '' };
  assert.equal(verdictOf({ ...base, ok: true }), 'verified');
  assert.equal(verdictOf({ ...base, ok: false }), 'failed');
  assert.equal(verdictOf({ ...base, ok: false, verdict: 'could-not-verify' } as never), 'could-not-verify');
  assert.equal(verdictOf({ ...base, ok: true, verdict: 'nonsense' } as never), 'verified');
});
