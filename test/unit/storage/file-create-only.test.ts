// The file:// store keeps the S3 store's rule: a backup object is created, never replaced. Before, both the upload
// and putSmall() renamed their temp file over whatever was there.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ObjectExistsError } from '../../../src/core/errors.ts';
import { FileStore } from '../../../src/storage/file.ts';
import { uploadAll } from '../../support/upload.ts';

const OPTIONS = { contentType: 'x', metadata: {}, tags: {} };
let root: string;
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'rsb-file-create-only-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('an upload to an existing key fails with ObjectExistsError and leaves the first file and no temp file', async () => {
  const store = new FileStore(root);
  const upload = { ...OPTIONS, partSize: 1, queueSize: 1 };
  await uploadAll(store.openUpload('db/a.dump', upload), [Buffer.from('first')]);
  const second = uploadAll(store.openUpload('db/a.dump', upload), [Buffer.from('second')]);
  await assert.rejects(second, (err: unknown) => err instanceof ObjectExistsError && /already exists/.test(err.message));
  assert.equal(await readFile(path.join(root, 'db/a.dump'), 'utf8'), 'first');
  assert.deepEqual(await readdir(path.join(root, 'db')), ['a.dump']);
});

test('putSmall() creates only (the default); mode replace is for verify records', async () => {
  const store = new FileStore(root);
  await store.putSmall('db/a.manifest.json', '{"first":true}', OPTIONS);
  await assert.rejects(store.putSmall('db/a.manifest.json', '{"second":true}', OPTIONS), ObjectExistsError);
  assert.equal(await readFile(path.join(root, 'db/a.manifest.json'), 'utf8'), '{"first":true}');

  await store.putSmall('db/a.verify.json', '{"run":1}', { ...OPTIONS, mode: 'replace' });
  await store.putSmall('db/a.verify.json', '{"run":2}', { ...OPTIONS, mode: 'replace' });
  assert.equal(await readFile(path.join(root, 'db/a.verify.json'), 'utf8'), '{"run":2}');
  assert.deepEqual(
    (await readdir(path.join(root, 'db'))).filter((f) => f.includes('.partial-')),
    [],
  );
});
