import { isVerdict, type Verdict } from './verdict.ts';
import { text } from 'node:stream/consumers';
import { describeError } from '../errors.ts';
import { databaseFolder, globalsFolder, normalizePrefix, parseKey, type BackupKind } from './keys.ts';
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

type Group = {
  kind: BackupKind;
  database: string | null;
  stamp: Date;
  data?: { key: string; size: number };
  manifest?: string;
  verify?: string;
};

async function readJson(store: BackupStore, key: string): Promise<string> {
  return text(await store.read(key));
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
    else if (k.role === 'manifest') g.manifest = o.key;
    else if (k.role === 'verify') g.verify = o.key;
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
    manifestKey: g.manifest ?? null,
    verifyKey: g.verify ?? null,
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
  let problem: string | null = null;
  if (!g.data) problem = 'manifest without its data object';
  else if (g.data.key !== manifest.object.key) problem = 'manifest names a different object';
  else if (g.data.size !== manifest.object.bytes) problem = `object is ${g.data.size} bytes, manifest says ${manifest.object.bytes}`;
  let verification: VerificationRecord | null = null;
  if (g.verify) {
    try {
      const v = JSON.parse(await readJson(store, g.verify)) as Partial<VerificationRecord>;
      if (typeof v.ok === 'boolean' && typeof v.verifiedAt === 'string') {
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
