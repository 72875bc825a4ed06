import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeImageManifest, type ImageEntry } from '../../../scripts/image/manifest.ts';
import { imageEmbeddedInstalls } from '../../../src/container/embedded.ts';

const entry = (file: string, digest: string): ImageEntry => ({ file, manifestDigest: digest }) as unknown as ImageEntry;

test('dist/manifest.json: the image build owns "images" only; entries not rebuilt stay', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rsb-manifest-'));
  try {
    const file = path.join(dir, 'manifest.json');
    writeFileSync(file, JSON.stringify({ schema: 'rds-s3-backup/lambda-artifacts@1', artifacts: [{ file: 'function.zip' }] }));
    writeImageManifest(file, [entry('image-backup-amd64.oci.tar', 'sha256:a'), entry('image-backup-arm64.oci.tar', 'sha256:b')]);
    writeImageManifest(file, [entry('image-backup-amd64.oci.tar', 'sha256:c')]);
    const m = JSON.parse(readFileSync(file, 'utf8')) as {
      schema: string;
      artifacts: unknown[];
      images: { file: string; manifestDigest: string }[];
    };
    assert.equal(m.schema, 'rds-s3-backup/lambda-artifacts@1');
    assert.equal(m.artifacts.length, 1);
    assert.deepEqual(
      m.images.map((i) => [i.file, i.manifestDigest]),
      [
        ['image-backup-amd64.oci.tar', 'sha256:c'],
        ['image-backup-arm64.oci.tar', 'sha256:b'],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the verify image's throwaway servers are found under /opt/postgresql/<major>, newest first; none outside an image", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rsb-pg-'));
  try {
    assert.equal(imageEmbeddedInstalls(path.join(dir, 'missing')), null);
    for (const major of ['17', '18']) {
      mkdirSync(path.join(dir, major, 'bin'), { recursive: true });
      for (const bin of ['postgres', 'initdb']) writeFileSync(path.join(dir, major, 'bin', bin), '');
    }
    writeFileSync(path.join(dir, '18', 'VERSION'), '18.4\n');
    mkdirSync(path.join(dir, 'lost+found'));
    mkdirSync(path.join(dir, '16', 'bin'), { recursive: true }); // no binaries: not offered
    assert.deepEqual(imageEmbeddedInstalls(dir), [
      { major: 18, version: '18.4', binDir: path.join(dir, '18', 'bin') },
      { major: 17, version: '17', binDir: path.join(dir, '17', 'bin') },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
