import { test } from 'node:test';
import assert from 'node:assert/strict';
import { choosePartSize, maxObjectBytes, S3_MAX_OBJECT, S3_MAX_PART } from '../../../../src/core/config/part-size.ts';
import { parseCompression } from '../../../../src/core/config/compression.ts';

const MiB = 1024 * 1024;
const TiB = 1024 * 1024 * MiB;

test('small databases use the floor', () => {
  assert.equal(choosePartSize(null), 8 * MiB);
  assert.equal(choosePartSize(10 * 1024 * MiB), 8 * MiB);
});

test('part size lets a dump twice the database size fit in 10,000 parts', () => {
  for (const size of [100 * 1024 * MiB, 1 * TiB, 2.5 * TiB]) {
    const p = choosePartSize(size);
    assert.ok(maxObjectBytes(p) >= Math.min(size * 2, S3_MAX_OBJECT), `${size}`);
    assert.equal(p % MiB, 0);
  }
  assert.equal(maxObjectBytes(choosePartSize(5 * TiB)), S3_MAX_OBJECT);
  assert.ok(choosePartSize(100 * TiB) <= S3_MAX_PART);
});

test('compression specs', () => {
  assert.deepEqual(parseCompression('zstd:3'), { algorithm: 'zstd', level: 3 });
  assert.deepEqual(parseCompression('none'), { algorithm: 'none', level: null });
  assert.deepEqual(parseCompression('lz4'), { algorithm: 'lz4', level: null });
  assert.equal(typeof parseCompression('zstd:23'), 'string');
  assert.equal(typeof parseCompression('brotli:3'), 'string');
  assert.equal(typeof parseCompression('gzip:0'), 'string');
});
