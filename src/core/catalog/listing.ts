import { isVerdict, type Verdict } from './verdict.ts';
import { describeError } from '../errors.ts';
import { backupKeys, databaseFolder, globalsFolder, normalizePrefix, parseKey, type BackupKind } from './keys.ts';
import { parseManifest, type Manifest } from './manifest.ts';
import type { BackupStore, IncompleteUpload } from '../ports/store.ts';

/** What a listing of the bucket says about one backup id. The bucket is the only source of truth. */
export type CatalogEntry = {
  readonly id: string;
  readonly kind: BackupKind;
  readonly database: string | null;
  readonly startedAt: Date;
  readonly status: 'complete' | 'incomplete' | 'invalid';
  /** Why it is not complete. */
  readonly problem: string | null;
  readonly dataKey: string | null;
  readonly dataBytes: number | null;
  readonly manifestKey: string | null;
  readonly verifyKey: string | null;
  readonly manifest: Manifest | null;
  readonly verification: VerificationRecord | null;
};

export type VerificationRecord = {
  readonly ok: boolean;
  /** Absent in records written before verdicts existed: read it with verdictOf(). */
  readonly verdict?: Verdict;
  readonly verifiedAt: string;
  readonly mode: string;
  readonly summary: string;
};

export type CatalogFilter = {
  readonly database?: string | null;
  readonly kind?: BackupKind;
  readonly since?: Date | null;
  readonly until?: Date | null;
};

type Listed = { key: string; size: number };
type Group = { kind: BackupKind; database: string | null; stamp: Date; data?: Listed; manifest?: Listed; verify?: Listed };

/**
 * Manifests and verify records are a few KiB. Anyone who can write the bucket can put a 400 MB one there, and
 * `list` reads them all: refuse by the listed size before reading, and stop reading at the cap whatever the
 * listing said (it may be stale).
 */
export const JSON_MAX_BYTES = 1024 * 1024;

class OversizeError extends Error {}

/** Reads a small JSON object, never more than JSON_MAX_BYTES of it. */
async function readJson(store: BackupStore, o: Listed): Promise<string> {
  if (o.size > JSON_MAX_BYTES)
    throw new OversizeError(`${o.size} bytes, over the ${JSON_MAX_BYTES}-byte limit for a manifest or record: not read`);
  const body = await store.read(o.key);
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of body) {
      const b = Buffer.isBuffer(c) ? c : Buffer.from(c as string);
      n += b.length;
      if (n > JSON_MAX_BYTES)
        throw new OversizeError(`longer than the ${JSON_MAX_BYTES}-byte limit for a manifest or record: reading stopped`);
      chunks.push(b);
    }
  } finally {
    body.destroy();
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Lists backups newest first; reads each candidate's manifest (and verification record). */
export async function listCatalog(store: BackupStore, filter: CatalogFilter = {}, concurrency = 8): Promise<CatalogEntry[]> {
  const prefix = filter.database
    ? databaseFolder(store.prefix, filter.database)
    : filter.kind === 'globals'
      ? globalsFolder(store.prefix)
      : normalizePrefix(store.prefix) === ''
        ? ''
        : normalizePrefix(store.prefix) + '/';
  const groups = new Map<string, Group>();
  for await (const o of store.list(prefix)) {
    const k = parseKey(store.prefix, o.key);
    if (!k) continue;
    if (filter.kind && k.kind !== filter.kind) continue;
    if (filter.since && k.stamp < filter.since) continue;
    if (filter.until && k.stamp > filter.until) continue;
    const gid = `${k.folder}/${k.id}`;
    const g = groups.get(gid) ?? { kind: k.kind, database: k.database, stamp: k.stamp };
    if (k.role === 'dump' || k.role === 'globals') g.data = { key: o.key, size: o.size };
    else if (k.role === 'manifest') g.manifest = { key: o.key, size: o.size };
    else if (k.role === 'verify') g.verify = { key: o.key, size: o.size };
    groups.set(gid, g);
  }
  // A verification record can outlive its backup (lifecycle counts from each object's creation): not a backup.
  const ids = [...groups.entries()].filter(([, g]) => g.data !== undefined || g.manifest !== undefined);
  const out: CatalogEntry[] = new Array(ids.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const i = next++;
      const [gid, g] = ids[i]!;
      out[i] = await resolveEntry(store, gid.slice(gid.indexOf('/') + 1), g);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
  return out.sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime() || (a.id < b.id ? 1 : -1));
}

async function resolveEntry(store: BackupStore, id: string, g: Group): Promise<CatalogEntry> {
  const base = {
    id,
    kind: g.kind,
    database: g.database,
    startedAt: g.stamp,
    dataKey: g.data?.key ?? null,
    dataBytes: g.data?.size ?? null,
    manifestKey: g.manifest?.key ?? null,
    verifyKey: g.verify?.key ?? null,
  };
  if (!g.manifest) {
    return { ...base, status: 'incomplete', problem: 'no manifest: the backup did not finish', manifest: null, verification: null };
  }
  let manifest: Manifest | string;
  try {
    manifest = parseManifest(await readJson(store, g.manifest));
  } catch (err) {
    manifest = `manifest unreadable: ${describeError(err)}`;
  }
  if (typeof manifest === 'string') return { ...base, status: 'invalid', problem: manifest, manifest: null, verification: null };
  // The key is where restore and verify look and where verify writes: a manifest describing another backup is not this one.
  const own = backupKeys(store.prefix, g.kind, g.database, id);
  if (manifest.kind !== g.kind || manifest.database !== g.database || manifest.id !== id) {
    const said = `${manifest.kind} ${manifest.kind === 'globals' ? '' : `of ${JSON.stringify(manifest.database)} `}${manifest.id}`;
    return {
      ...base,
      status: 'invalid',
      problem: `manifest describes ${said}, not the backup its key names`,
      manifest: null,
      verification: null,
    };
  }
  let problem: string | null = null;
  if (!g.data) problem = 'manifest without its data object';
  else if (g.data.key !== manifest.object.key || manifest.object.key !== own.data) problem = 'manifest names a different object';
  else if (g.data.size !== manifest.object.bytes) problem = `object is ${g.data.size} bytes, manifest says ${manifest.object.bytes}`;
  let verification: VerificationRecord | null = null;
  if (g.verify) {
    try {
      const v = JSON.parse(await readJson(store, g.verify)) as Partial<VerificationRecord> & {
        backup?: { id?: unknown; sha256?: unknown; bytes?: unknown };
      };
      // A record counts only for the very object it checked: one left from before an overwrite says nothing about this one.
      const same = v.backup?.id === manifest.id && v.backup.sha256 === manifest.object.sha256 && v.backup.bytes === manifest.object.bytes;
      if (same && typeof v.ok === 'boolean' && typeof v.verifiedAt === 'string') {
        verification = {
          ok: v.ok,
          ...(isVerdict(v.verdict) ? { verdict: v.verdict } : {}),
          verifiedAt: v.verifiedAt,
          mode: String(v.mode ?? ''),
          summary: String(v.summary ?? ''),
        };
      }
    } catch {
      verification = null; // a broken verification record only means "not verified"
    }
  }
  return { ...base, status: problem ? 'invalid' : 'complete', problem, manifest, verification };
}

export async function listIncompleteUploads(store: BackupStore): Promise<readonly IncompleteUpload[] | undefined> {
  const p = normalizePrefix(store.prefix);
  return store.listIncomplete(p ? p + '/' : '');
}
