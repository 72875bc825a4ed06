import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseEmbeddedMajor, embeddedInstalls } from '../../../src/postgres/embedded-server.ts';

test('the embedded major matches the backed-up server, else the nearest newer one', () => {
  assert.equal(chooseEmbeddedMajor(16, [13, 14, 15, 16, 17, 18])?.major, 16);
  const c = chooseEmbeddedMajor(14, [13, 16, 18]);
  assert.equal(c?.major, 16);
  assert.match(c!.note, /14 is not installed; using 16, the nearest newer/);
  assert.equal(chooseEmbeddedMajor(18, [13, 16]), undefined, 'never an older server');
});

test('missing optional packages are skipped, not fatal', () => {
  assert.deepEqual(
    embeddedInstalls(() => {
      throw new Error('Cannot find package');
    }),
    [],
  );
});
