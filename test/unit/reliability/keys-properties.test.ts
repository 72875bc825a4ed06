// Property-based tests of names, prefixes and keys: any database name PostgreSQL allows becomes one safe key
// segment that decodes back exactly; any target URL is refused or yields keys S3 accepts (≤ 1024 bytes) and
// file paths that stay under the root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { checkDatabaseName } from '../../../src/core/config/database-name.ts';
import { backupKeys, decodeDatabaseName, encodeDatabaseName, newBackupId, parseKey } from '../../../src/core/catalog/keys.ts';
import { parseTargetUrl } from '../../../src/core/config/target-url.ts';
import { StorageError } from '../../../src/core/errors.ts';
import { FileStore } from '../../../src/storage/file.ts';
import { uploadAll } from '../../support/upload.ts';

const RUNS = Number(process.env.FC_RUNS ?? 500);

const nameChars = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 63 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 63 }),
  fc.constantFrom(
    '..',
    '.',
    '/',
    '../../etc/passwd',
    '@globals',
    '%2F',
    '%',
    'a/b',
    'C:\\x',
    '~',
    '-',
    '$(id)',
    '`id`',
    "'; drop",
    '\u202e',
    'ß',
    '😀',
  ),
);
const acceptedName = nameChars.filter((n) => checkDatabaseName(n) === undefined);

const prefixArb = fc.oneof(
  fc.constant(''),
  fc.array(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }), { maxLength: 6 }).map((s) => s.join('/')),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.constantFrom('a/../b', './x', 'x//y', '/lead', 'trail/', 'é'.repeat(512), '😀'.repeat(200), 'x'.repeat(512), 'x'.repeat(513)),
);

test('property: an accepted database name is one safe segment, decodes back exactly, and its keys parse back', () => {
  fc.assert(
    fc.property(acceptedName, fc.constantFrom('', 'p', 'prod/eu'), (name, prefix) => {
      const seg = encodeDatabaseName(name);
      assert.match(seg, /^[A-Za-z0-9_%-]+$/);
      assert.ok(seg !== '.' && seg !== '..');
      assert.equal(decodeDatabaseName(seg), name);
      const keys = backupKeys(prefix, 'database', name, newBackupId(new Date()));
      for (const k of [keys.data, keys.manifest, keys.verify]) {
        const parsed = parseKey(prefix, k);
        assert.ok(parsed, k);
        assert.equal(parsed.database, name);
        assert.equal(parsed.kind, 'database');
      }
    }),
    { numRuns: RUNS },
  );
});

test('property: a name checkDatabaseName refuses is refused by the key encoder too (no silent truncation)', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 100 }), (name) => {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what this pattern rejects
      if (checkDatabaseName(name) !== undefined && !/[\u0000-\u001f\u007f]/.test(name)) {
        assert.throws(() => encodeDatabaseName(name), RangeError);
      }
    }),
    { numRuns: RUNS },
  );
});

test('property: any s3:// target is refused or gives keys of at most 1024 bytes with no "." / ".." segments', () => {
  fc.assert(
    fc.property(prefixArb, acceptedName, (prefix, name) => {
      const t = parseTargetUrl(`s3://bucket-ok/${prefix}`);
      if (typeof t === 'string') return;
      assert.equal(t.kind, 's3');
      const segments = t.prefix.split('/').filter((s) => s.length > 0);
      assert.ok(!segments.some((s) => s === '.' || s === '..'), t.prefix);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what this pattern rejects
      assert.doesNotMatch(t.prefix, /[\u0000-\u001f\u007f]/);
      const keys = backupKeys(t.prefix, 'database', name, newBackupId(new Date()));
      for (const k of [keys.data, keys.manifest, keys.verify]) {
        assert.ok(
          Buffer.byteLength(k, 'utf8') <= 1024,
          `key of ${Buffer.byteLength(k, 'utf8')} bytes for an accepted target (S3 refuses > 1024)`,
        );
      }
    }),
    { numRuns: RUNS },
  );
});

test('property: any file:// target is refused or is an absolute path without ".." segments', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 60 }),
        fc.constantFrom('/tmp/../etc', '/tmp/%2e%2e/etc', '/tmp/%2E%2E', '/a/./b', '//x', '/%00', '/%zz'),
      ),
      (p) => {
        const t = parseTargetUrl(`file://${p}`);
        if (typeof t === 'string') return;
        assert.equal(t.kind, 'file');
        assert.ok(path.isAbsolute(t.root));
        assert.ok(!t.root.split('/').includes('..'), t.root);
      },
    ),
    { numRuns: RUNS },
  );
});

test('property: FileStore never touches a path outside its root, whatever the key', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'rsb-keys-prop-'));
  const store = new FileStore(root);
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 60 }),
          fc.constantFrom(
            '../x',
            '../../etc/passwd',
            '/etc/passwd',
            'a/../../x',
            'a/../b',
            '..',
            '.',
            '',
            'a/./../..',
            `${'../'.repeat(20)}tmp/x`,
          ),
        ),
        async (key) => {
          try {
            await store.putSmall(key, 'x');
          } catch (err) {
            assert.ok(err instanceof StorageError, `${key}: ${String(err)}`);
            return;
          }
          const resolved = path.resolve(root, key);
          assert.ok(resolved.startsWith(root + path.sep), `${JSON.stringify(key)} was written at ${resolved}`);
        },
      ),
      { numRuns: 300 },
    );
    // And a streamed upload with an escaping key fails without writing anything outside.
    const h = store.openUpload('../escape.dump', { contentType: 'x', metadata: {}, tags: {}, partSize: 1, queueSize: 1 });
    await assert.rejects(uploadAll(h, [Buffer.from('x')]), StorageError);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
