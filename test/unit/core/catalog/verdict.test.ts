import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VERDICT_TEXT, verdictOf } from '../../../../src/core/catalog/verdict.ts';
import { missingCapabilities } from '../../../../src/core/restore/missing-capability.ts';

test('verdictOf: the record verdict when known; records from before verdicts read by ok', () => {
  assert.equal(verdictOf({ ok: true }), 'verified');
  assert.equal(verdictOf({ ok: false }), 'failed');
  assert.equal(verdictOf({ ok: false, verdict: 'could-not-verify' }), 'could-not-verify');
  assert.equal(verdictOf({ ok: false, verdict: 'something-new' }), 'failed');
  assert.equal(VERDICT_TEXT['could-not-verify'], 'could not verify ?');
});

test('missingCapabilities names what the server lacked, and nothing for a genuine failure', () => {
  assert.deepEqual(missingCapabilities('ERROR:  compression method lz4 not supported\nDETAIL: ...'), [
    'column compression method lz4 (the server was built without it)',
  ]);
  assert.deepEqual(
    missingCapabilities(
      'ERROR:  could not open extension control file "/x/share/postgresql/extension/postgis.control": No such file or directory',
    ),
    ['extension postgis (not installed on the verifying server)'],
  );
  assert.deepEqual(missingCapabilities('ERROR:  extension "vector" is not available'), [
    'extension vector (not installed on the verifying server)',
  ]);
  assert.match(missingCapabilities('ERROR:  permission denied to create extension "dblink"')[0]!, /extension dblink \(not trusted/);
  assert.deepEqual(missingCapabilities('ERROR:  tablespace "fast" does not exist'), ['tablespace fast']);
  assert.deepEqual(missingCapabilities('ERROR:  must be superuser to create an event trigger'), [
    'superuser privilege to create an event trigger (verify restores without superuser)',
  ]);
  assert.deepEqual(missingCapabilities('ERROR:  duplicate key value violates unique constraint "t_pkey"'), []);
  assert.deepEqual(missingCapabilities('pg_restore: error: could not read input file: end of file'), []);
});
