import type { CatalogEntry, VerificationRecord } from './listing.ts';
import { backupKeys } from './keys.ts';
import type { Manifest } from './manifest.ts';
import type { BackupStore } from '../ports/store.ts';
import { TIER_TAG } from './tiers.ts';
import { TOOL_NAME, TOOL_VERSION } from '../version.ts';

import type { Verdict } from './verdict.ts';

/** @1 records have no verdict (ok ⇒ verified, else failed: see verdictOf); @2 adds verdict and missing. */
const VERIFY_SCHEMA = 'rds-s3-backup/verify@2';

/**
 * `<id>.verify.json` beside the backup: the latest verification's verdict. `list` reads the first four fields
 * (see VerificationRecord in catalog.ts); the rest is for people and scripts.
 */
export type VerifyRecord = VerificationRecord & {
  readonly schema: typeof VERIFY_SCHEMA;
  readonly verdict: Verdict;
  /** With could-not-verify: what the verifying server lacked (an extension, a compression method, ...). */
  readonly missing: readonly string[];
  /** 'restore' (restored and compared) or 'integrity' (checksum and TOC only). */
  readonly mode: 'restore' | 'integrity';
  readonly backup: {
    readonly id: string;
    readonly database: string | null;
    readonly key: string;
    readonly sha256: string;
    readonly bytes: number;
  };
  /** Where it was restored; null for integrity-only. */
  readonly server: {
    readonly version: string;
    readonly kind: 'embedded' | 'target';
    readonly note: string;
    /** Throwaway servers: network namespace, OS user, database role, environment, as in force. */
    readonly isolation: readonly string[];
  } | null;
  readonly checks: {
    /** null: not established (the restore failed before the end of the object). */
    readonly sha256: boolean | null;
    readonly toc: boolean | null;
    readonly restore: boolean | null;
    readonly tables: number | null;
    /** null: the backup has no row counts (taken without --row-counts). */
    readonly rowCounts: boolean | null;
  };
  readonly mismatches: readonly string[];
  /** What verify adapted or could not check (e.g. lz4 columns stored with pglz); @2. */
  readonly notes: readonly string[];
  readonly durationMs: number;
  readonly tool: { readonly name: string; readonly version: string };
};

/** The record's key comes from where the catalog found the backup (its key), never from the manifest's content. */
function verifyRecordKey(store: BackupStore, entry: Pick<CatalogEntry, 'kind' | 'database' | 'id'>): string {
  return backupKeys(store.prefix, entry.kind, entry.database, entry.id).verify;
}

function serializeVerifyRecord(r: Omit<VerifyRecord, 'schema' | 'tool'>): string {
  const full: VerifyRecord = { schema: VERIFY_SCHEMA, ...r, tool: { name: TOOL_NAME, version: TOOL_VERSION } };
  return JSON.stringify(full, null, 2) + '\n';
}

/** Same tier tag as the backup, so the bucket's lifecycle rules expire the record together with it. */
export async function writeVerifyRecord(
  store: BackupStore,
  entry: CatalogEntry & { readonly manifest: Manifest },
  record: Omit<VerifyRecord, 'schema' | 'tool'>,
): Promise<string> {
  const manifest = entry.manifest;
  const key = verifyRecordKey(store, entry);
  await store.putSmall(key, serializeVerifyRecord(record), {
    contentType: 'application/json',
    metadata: { 'tool-version': TOOL_VERSION, 'backup-id': manifest.id },
    tags: { [TIER_TAG]: manifest.tier },
    // The latest verification replaces the previous one; only the verify-record writer may do that.
    mode: 'replace',
  });
  return key;
}
