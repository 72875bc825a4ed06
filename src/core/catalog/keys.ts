import { randomBytes } from 'node:crypto';
import { MAX_NAME_BYTES } from '../config/database-name.ts';

/**
 * Bucket layout (the bucket alone must be enough to find and restore any backup):
 *   <prefix>/<db>/<YYYYMMDDTHHMMSSZ>-<id>.dump            pg_dump custom-format archive
 *   <prefix>/<db>/<YYYYMMDDTHHMMSSZ>-<id>.manifest.json   written last: the commit marker
 *   <prefix>/<db>/<YYYYMMDDTHHMMSSZ>-<id>.verify.json     result of the latest `verify`
 *   <prefix>/@globals/<...>.sql|.manifest.json            roles and tablespaces (pg_dumpall --globals-only)
 * Keys of one database sort by time; '@' never appears in an encoded database name, so '@globals' cannot collide.
 */

const GLOBALS_FOLDER = '@globals';

const Suffix = {
  dump: '.dump',
  globals: '.sql',
  manifest: '.manifest.json',
  verify: '.verify.json',
} as const;

/** Percent-encode everything outside a conservative set so names with '/', '..', control characters or unicode stay one safe path segment. */
export function encodeDatabaseName(name: string): string {
  if (name.length === 0) throw new RangeError('database name is empty');
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) throw new RangeError(`database name is longer than ${MAX_NAME_BYTES} bytes`);
  const out = Array.from(Buffer.from(name, 'utf8'))
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9_-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
  return out;
}

export function decodeDatabaseName(segment: string): string {
  return Buffer.from(
    segment.replace(/%([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
    'latin1',
  ).toString('utf8');
}

/** UTC ISO-8601 basic format, second precision: 20261124T031500Z. */
export function formatStamp(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

export function parseStamp(stamp: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(stamp);
  if (!m) return undefined;
  const d = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** Random suffix so two runs in the same second never share a key. */
export function newBackupId(date: Date): string {
  return `${formatStamp(date)}-${randomBytes(4).toString('hex')}`;
}

export function normalizePrefix(prefix: string): string {
  return prefix.replace(/^\/+|\/+$/g, '');
}

function join(...parts: string[]): string {
  return parts.filter((p) => p.length > 0).join('/');
}

export function databaseFolder(prefix: string, database: string): string {
  return join(normalizePrefix(prefix), encodeDatabaseName(database)) + '/';
}

export function globalsFolder(prefix: string): string {
  return join(normalizePrefix(prefix), GLOBALS_FOLDER) + '/';
}

export type BackupKind = 'database' | 'globals';

export type BackupKeys = {
  readonly id: string;
  readonly data: string;
  readonly manifest: string;
  readonly verify: string;
};

export function backupKeys(prefix: string, kind: BackupKind, database: string | null, id: string): BackupKeys {
  const folder = kind === 'globals' ? globalsFolder(prefix) : databaseFolder(prefix, database ?? '');
  const base = folder + id;
  return {
    id,
    data: base + (kind === 'globals' ? Suffix.globals : Suffix.dump),
    manifest: base + Suffix.manifest,
    verify: base + Suffix.verify,
  };
}

export type ParsedKey = {
  readonly folder: string;
  readonly kind: BackupKind;
  readonly database: string | null;
  readonly id: string;
  readonly stamp: Date;
  readonly role: keyof typeof Suffix;
};

/** Recognise our own keys in a listing; anything else returns undefined and is ignored. */
export function parseKey(prefix: string, key: string): ParsedKey | undefined {
  const p = normalizePrefix(prefix);
  const rest = p ? (key.startsWith(p + '/') ? key.slice(p.length + 1) : undefined) : key;
  if (rest === undefined) return undefined;
  const slash = rest.indexOf('/');
  if (slash <= 0 || rest.indexOf('/', slash + 1) !== -1) return undefined;
  const folder = rest.slice(0, slash);
  const file = rest.slice(slash + 1);
  const m = /^(\d{8}T\d{6}Z)-([0-9a-f]{8})(\.dump|\.sql|\.manifest\.json|\.verify\.json)$/.exec(file);
  if (!m) return undefined;
  const stamp = parseStamp(m[1]!);
  if (!stamp) return undefined;
  const role = (Object.keys(Suffix) as (keyof typeof Suffix)[]).find((r) => Suffix[r] === m[3])!;
  const kind: BackupKind = folder === GLOBALS_FOLDER ? 'globals' : 'database';
  if (kind === 'globals' && role === 'dump') return undefined;
  if (kind === 'database' && role === 'globals') return undefined;
  return {
    folder,
    kind,
    database: kind === 'globals' ? null : decodeDatabaseName(folder),
    id: `${m[1]}-${m[2]}`,
    stamp,
    role,
  };
}
