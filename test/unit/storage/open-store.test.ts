// restore --download-streams reaches the S3 store's ranged reads; file:// stores offer none (one read).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { worthRanging } from '../../../src/core/restore/ranged-download.ts';
import { openStore } from '../../../src/storage/open-store.ts';

const s3 = { kind: 's3', bucket: 'bkt', prefix: 'p', url: 's3://bkt/p' } as const;
const env = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' };
const GIB = 1024 * 1024 * 1024;

test('S3: 8 MiB × 4 by default, --download-streams N sets the concurrency, 1 means one GET', () => {
  const dflt = openStore(s3, { env }).rangedReads;
  assert.deepEqual({ partSize: dflt?.partSize, concurrency: dflt?.concurrency }, { partSize: 8 * 1024 * 1024, concurrency: 4 });
  assert.equal(openStore(s3, { env, downloadStreams: 8 }).rangedReads?.concurrency, 8);
  assert.equal(worthRanging(GIB, openStore(s3, { env, downloadStreams: 1 }).rangedReads), false);
  assert.equal(worthRanging(GIB, openStore(s3, { env }).rangedReads), true);
});

test('file:// keeps the single read', () => {
  assert.equal(openStore({ kind: 'file', root: '/tmp', prefix: '', url: 'file:///tmp' }, { env }).rangedReads, undefined);
});
