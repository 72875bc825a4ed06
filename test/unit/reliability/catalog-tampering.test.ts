// What `list` says about a bucket that does not hold clean backups: whatever was left behind (a failed run, a
// hand-edited or truncated object, a foreign file), nothing lists as complete unless its manifest and object agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir, truncate } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { listCatalog } from '../../../src/core/catalog/listing.ts';
import { backupKeys } from '../../../src/core/catalog/keys.ts';
import { serializeManifest, type Manifest } from '../../../src/core/catalog/manifest.ts';
import { FileStore } from '../../../src/storage/file.ts';
import { testManifest } from '../../support/fixture-store.ts';

const archive = readFileSync(new URL('../../fixtures/pg18-small.dump', import.meta.url));

function manifestFor(key: string, id: string, bytes: number): Manifest {
  return testManifest({ key, id, bytes, sha256: 'a'.repeat(64) });
}

test('left-overs and tampering never list as complete backups', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'rsb-catalog-'));
  try {
    const store = new FileStore(root);
    const put = async (key: string, body: Buffer | string): Promise<void> => {
      await mkdir(path.dirname(path.join(root, key)), { recursive: true });
      await writeFile(path.join(root, key), body);
    };
    const ids = [
      '20261124T030000Z-0000000a',
      '20261124T030001Z-0000000b',
      '20261124T030002Z-0000000c',
      '20261124T030003Z-0000000d',
      '20261124T030004Z-0000000e',
      '20261124T030005Z-0000000f',
    ];
    const k = ids.map((id) => backupKeys('', 'database', 'app', id));
    // a: complete and consistent
    await put(k[0]!.data, archive);
    await put(k[0]!.manifest, serializeManifest(manifestFor(k[0]!.data, ids[0]!, archive.length)));
    // b: object without manifest (a run that failed after the upload)
    await put(k[1]!.data, archive);
    // c: manifest without object
    await put(k[2]!.manifest, serializeManifest(manifestFor(k[2]!.data, ids[2]!, archive.length)));
    // d: object truncated after the manifest was written
    await put(k[3]!.data, archive);
    await put(k[3]!.manifest, serializeManifest(manifestFor(k[3]!.data, ids[3]!, archive.length)));
    await truncate(path.join(root, k[3]!.data), 100);
    // e: manifest that is not JSON / not a manifest
    await put(k[4]!.data, archive);
    await put(k[4]!.manifest, '{"schema": "rds-s3-backup/manifest@1", "object": ');
    // f: manifest naming another object
    await put(k[5]!.data, archive);
    await put(k[5]!.manifest, serializeManifest(manifestFor(k[0]!.data, ids[5]!, archive.length)));
    // foreign files and a temp file of an interrupted file:// write
    await put('app/notes.txt', 'hello');
    await put('app/20261124T030009Z-00000010.dump.partial-deadbeef', archive.subarray(0, 10));

    const entries = await listCatalog(store);
    const status = Object.fromEntries(entries.map((e) => [e.id, e.status]));
    assert.deepEqual(status, {
      [ids[0]!]: 'complete',
      [ids[1]!]: 'incomplete',
      [ids[2]!]: 'invalid',
      [ids[3]!]: 'invalid',
      [ids[4]!]: 'invalid',
      [ids[5]!]: 'invalid',
    });
    for (const e of entries.filter((x) => x.status !== 'complete'))
      assert.ok(e.problem && e.problem.length > 0, `${e.id} has no explanation`);
    const incomplete = await store.listIncomplete('');
    assert.equal(incomplete.length, 1, 'the temp file is reported as an unfinished upload');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
