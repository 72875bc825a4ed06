import type { VerificationRecord } from './listing.ts';
import { backupKeys } from './keys.ts';
import type { Manifest } from './manifest.ts';
import type { BackupStore } from '../ports/store.ts';
import { TIER_TAG } from './tiers.ts';
import { TOOL_NAME, TOOL_VERSION } from '../version.ts';

const VERIFY_SCHEMA = 'rds-s3-backup/verify@1';

/**
 * `<id>.verify.json` beside the backup: the latest verification's verdict. `list` reads the first four fields
 * (see VerificationRecord in catalog.ts); the rest is for people and scripts.
 */
export type VerifyRecord = VerificationRecord & {
  readonly schema: typeof VERIFY_SCHEMA;
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
  readonly server: { readonly version: string; readonly kind: 'embedded' | 'target'; readonly note: string } | null;
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
  readonly durationMs: number;
  readonly tool: { readonly name: string; readonly version: string };
};

function verifyRecordKey(store: BackupStore, manifest: Manifest): string {
  return backupKeys(store.prefix, manifest.kind, manifest.database, manifest.id).verify;
}

function serializeVerifyRecord(r: Omit<VerifyRecord, 'schema' | 'tool'>): string {
  const full: VerifyRecord = { schema: VERIFY_SCHEMA, ...r, tool: { name: TOOL_NAME, version: TOOL_VERSION } };
  return JSON.stringify(full, null, 2) + '\n';
}

/** Same tier tag as the backup, so the bucket's lifecycle rules expire the record together with it. */
export async function writeVerifyRecord(
  store: BackupStore,
  manifest: Manifest,
  record: Omit<VerifyRecord, 'schema' | 'tool'>,
): Promise<string> {
  const key = verifyRecordKey(store, manifest);
  await store.putSmall(key, serializeVerifyRecord(record), {
    contentType: 'application/json',
    metadata: { 'tool-version': TOOL_VERSION, 'backup-id': manifest.id },
    tags: { [TIER_TAG]: manifest.tier },
    // The latest verification replaces the previous one; only the verify-record writer may do that.
    mode: 'replace',
  });
  return key;
}
