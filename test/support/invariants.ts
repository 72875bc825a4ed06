// The one check every fault test ends with: whatever went wrong, the bucket must not contain anything that looks
// like a backup but is not one, and the error must say what failed and what to do.
//   1. no manifest without its data object, with the size and SHA-256 the manifest records;
//   2. no data object that `rds-s3-backup list --json` reports as a complete backup without a manifest;
//   3. no multipart upload left open once the run has ended (unless the test says why one must remain);
// and, for failures, stderr (or the JSON report) names the failure and carries a hint.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { runCli, type CliResult } from './cli.ts';
import type { MotoServer } from './moto.ts';

export type ListedBackup = {
  id: string;
  kind: 'database' | 'globals';
  database: string | null;
  status: 'complete' | 'incomplete' | 'invalid';
  problem: string | null;
  key: string | null;
  manifestKey: string | null;
  bytes: number | null;
  sha256: string | null;
};

export type ListJson = { target: string; backups: ListedBackup[]; openUploads: { key: string; uploadId: string }[] | null };

export type BucketState = {
  readonly keys: readonly string[];
  readonly listed: ListJson;
  readonly complete: readonly ListedBackup[];
  readonly incomplete: readonly ListedBackup[];
  readonly openUploads: readonly { Key: string; UploadId: string }[];
};

export type InvariantOptions = {
  /** Multipart uploads that may legitimately remain open (S3 gone for good: the abort cannot reach it). */
  readonly allowOpenUploads?: number;
};

async function sha256Of(moto: MotoServer, bucket: string, key: string): Promise<{ sha256: string; bytes: number }> {
  const obj = await moto.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of obj.Body as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Reads the bucket directly from moto (never through a fault proxy) and checks the three invariants. */
export async function assertBucketInvariants(
  moto: MotoServer,
  bucket: string,
  prefix = 'p',
  options: InvariantOptions = {},
): Promise<BucketState> {
  const keys = await moto.listKeys(bucket);
  const list = await runCli(['list', '--from', `s3://${bucket}/${prefix}`, '--json'], moto.env());
  assert.equal(list.code, 0, `list failed: ${list.stderr}`);
  const listed = JSON.parse(list.stdout) as ListJson;

  // 1. Every manifest has its complete data object.
  const manifests = keys.filter((k) => k.endsWith('.manifest.json'));
  for (const mk of manifests) {
    const body = await moto.s3().send(new GetObjectCommand({ Bucket: bucket, Key: mk }));
    const manifest = JSON.parse(await body.Body!.transformToString()) as { object: { key: string; bytes: number; sha256: string } };
    assert.ok(keys.includes(manifest.object.key), `manifest ${mk} names ${manifest.object.key}, which does not exist`);
    const actual = await sha256Of(moto, bucket, manifest.object.key);
    assert.equal(actual.bytes, manifest.object.bytes, `${manifest.object.key}: size differs from its manifest`);
    assert.equal(actual.sha256, manifest.object.sha256, `${manifest.object.key}: SHA-256 differs from its manifest`);
  }

  // 2. Nothing without a manifest lists as complete; everything complete has one.
  for (const b of listed.backups) {
    if (b.status === 'complete') {
      assert.ok(b.manifestKey && keys.includes(b.manifestKey), `${b.key} lists as complete without a manifest`);
      assert.ok(b.key && keys.includes(b.key), `${b.manifestKey} lists as complete without its data object`);
    }
  }
  const dataKeys = keys.filter((k) => k.endsWith('.dump') || k.endsWith('.sql'));
  for (const dk of dataKeys) {
    const entry = listed.backups.find((b) => b.key === dk);
    assert.ok(entry, `${dk} is missing from the listing`);
    const hasManifest = manifests.includes(dk.replace(/\.(dump|sql)$/, '.manifest.json'));
    if (!hasManifest) assert.notEqual(entry.status, 'complete', `${dk} has no manifest but lists as complete`);
  }

  // 3. No multipart upload left open.
  const openUploads = await moto.listMultipartUploads(bucket);
  const allowed = options.allowOpenUploads ?? 0;
  assert.ok(openUploads.length <= allowed, `multipart uploads left open: ${JSON.stringify(openUploads)}`);
  assert.equal((listed.openUploads ?? []).length, openUploads.length, 'list --json reports the open uploads');

  return {
    keys,
    listed,
    complete: listed.backups.filter((b) => b.status === 'complete'),
    incomplete: listed.backups.filter((b) => b.status !== 'complete'),
    openUploads,
  };
}

/** Nothing at all was stored (and nothing is left open). */
export async function assertNothingStored(moto: MotoServer, bucket: string, prefix = 'p'): Promise<void> {
  const state = await assertBucketInvariants(moto, bucket, prefix);
  assert.deepEqual(state.keys, [], 'no object and no manifest');
}

/**
 * A failed run: exit code 1 (or `code`), stderr names what failed (`what`) and carries a hint matching `hint`
 * (what to do). Returns stderr for further checks.
 */
export function assertActionableFailure(res: CliResult, what: RegExp, hint: RegExp, code = 1): string {
  assert.equal(res.code, code, `exit code ${res.code}; stderr:\n${res.stderr}`);
  assert.match(res.stderr, what, `stderr does not say what failed:\n${res.stderr}`);
  const hints = res.stderr.split('\n').filter((l) => /^\s*hint: /.test(l));
  assert.ok(hints.length > 0, `stderr has no hint (what to do):\n${res.stderr}`);
  assert.ok(
    hints.some((h) => hint.test(h)),
    `no hint matches ${hint}:\n${hints.join('\n')}`,
  );
  return res.stderr;
}

/** Polls `fn` until it returns something other than undefined. */
export async function until<T>(fn: () => Promise<T | undefined> | T | undefined, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}
