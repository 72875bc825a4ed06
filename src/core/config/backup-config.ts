import { type AuthSettings, auth, type ConnectionSettings, connection, type OutputSettings, output, target } from './connection.ts';
import { bool, finish, Issues, int, str, unknownKeys } from './coerce.ts';
import { DEFAULT_COMPRESSION, formatCompression, parseCompression } from './compression.ts';
import { checkDatabaseName } from './database-name.ts';
import { DEFAULT_PART_MIB, DEFAULT_QUEUE_SIZE } from './part-size.ts';
import type { RawValues } from './raw.ts';
import type { TargetUrl } from './target-url.ts';

export type BackupConfig = {
  readonly command: 'backup';
  readonly target: TargetUrl;
  readonly connection: ConnectionSettings;
  readonly auth: AuthSettings;
  readonly databases: 'all' | readonly string[];
  readonly globals: boolean;
  readonly compression: string;
  readonly rowCounts: boolean;
  readonly lockWaitTimeout: string | null;
  readonly pgtoolsDir: string | null;
  readonly partSizeMinBytes: number;
  readonly queueSize: number;
  readonly kmsKeyId: string | null;
  readonly output: OutputSettings;
  /** How the CLI shows a dump's progress (PROGRESS_MODES). */
  readonly progress: ProgressMode;
};

function lockWaitTimeout(raw: RawValues, issues: Issues): string | null {
  const s = str(raw, 'lockWaitTimeout') ?? '2min';
  if (s === '0' || s.toLowerCase() === 'none') return null;
  // pg_dump passes it to SET lock_timeout: a number of ms or a quantity with a unit.
  const m = /^(\d+)\s*(ms|s|min|h)?$/i.exec(s);
  if (!m) {
    issues.add('lockWaitTimeout', 'must be a duration such as 500ms, 30s, 2min or 1h (0 = wait forever)');
    return null;
  }
  // The server takes at most INT_MAX milliseconds; a larger value would only fail once pg_dump runs.
  const ms = Number(m[1]) * ({ ms: 1, s: 1000, min: 60_000, h: 3_600_000 } as Record<string, number>)[(m[2] ?? 'ms').toLowerCase()]!;
  if (ms > 2_147_483_647) {
    issues.add('lockWaitTimeout', 'must be at most 596h (the server limit of 2147483647 ms)');
    return null;
  }
  return s.replace(/\s+/g, '');
}

function databases(raw: RawValues, issues: Issues, fallback: string): 'all' | readonly string[] {
  const v = raw.databases;
  if (v === undefined) return [fallback];
  const list = (typeof v === 'string' ? v : '')
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d.length > 0);
  if (list.length === 1 && list[0]!.toLowerCase() === 'all') return 'all';
  if (list.length === 0) {
    issues.add('databases', 'is empty; give names separated by commas, or "all"');
    return [];
  }
  for (const d of list) {
    const bad = checkDatabaseName(d);
    if (bad) issues.add('databases', bad);
  }
  return Object.freeze([...new Set(list)]);
}

const PROGRESS_MODES = ['auto', 'bar', 'json', 'none'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

function progressMode(raw: RawValues, issues: Issues): ProgressMode {
  const v = str(raw, 'progress') || 'auto';
  const mode = PROGRESS_MODES.find((m) => m === v);
  if (!mode) issues.add('progress', `must be one of ${PROGRESS_MODES.join(', ')}`);
  return mode ?? 'auto';
}

export function parseBackupConfig(raw: RawValues): BackupConfig {
  const issues = new Issues();
  unknownKeys('backup', raw, issues);
  const t = target(raw, 'to', issues);
  const conn = connection(raw, issues);
  const a = auth(raw, issues);
  const c = parseCompression(str(raw, 'compress') ?? DEFAULT_COMPRESSION);
  if (typeof c === 'string') issues.add('compress', c);
  const cfg: BackupConfig = {
    command: 'backup',
    target: t ?? { kind: 'file', root: '/', prefix: '', url: '' },
    connection: conn,
    auth: a,
    databases: databases(raw, issues, conn.database),
    globals: bool(raw, 'globals', issues, false),
    compression: typeof c === 'string' ? 'none' : formatCompression(c),
    rowCounts: bool(raw, 'rowCounts', issues, false),
    lockWaitTimeout: lockWaitTimeout(raw, issues),
    pgtoolsDir: str(raw, 'pgtoolsDir') || null,
    partSizeMinBytes: int(raw, 'partSizeMb', issues, DEFAULT_PART_MIB, 5, 5120) * 1024 * 1024,
    queueSize: int(raw, 'queueSize', issues, DEFAULT_QUEUE_SIZE, 1, 64),
    kmsKeyId: str(raw, 'kmsKeyId') || null,
    output: output(raw, issues),
    progress: progressMode(raw, issues),
  };
  return finish(issues, cfg);
}
