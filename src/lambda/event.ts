import type { BackupConfig } from '../core/config/backup-config.ts';
import { checkDatabaseName } from '../core/config/database-name.ts';
import { ConfigError, type ConfigIssue } from '../core/errors.ts';

/**
 * What an invocation may ask for. The event can only narrow what the function's environment configures: it never
 * carries credentials, never changes the bucket, the connection or the dump settings.
 */
export type Selection = {
  /** A subset of the configured databases (any name when the configuration says "all"). */
  readonly databases: readonly string[] | null;
  /** false skips the configured globals backup; true only when globals are configured. */
  readonly globals: boolean | null;
};

export type InvocationEvent = {
  /** "scheduled" = an EventBridge Scheduled Event envelope; "direct" = a plain JSON input (or none). */
  readonly kind: 'scheduled' | 'direct';
  readonly id: string | null;
  readonly source: string | null;
  /** The schedule's time, for log correlation. */
  readonly time: string | null;
  readonly selection: Selection;
};

const SELECTION_FIELDS = ['databases', 'globals'] as const;

/** The keys of an EventBridge event envelope (https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html). */
const ENVELOPE_FIELDS = ['version', 'id', 'detail-type', 'source', 'account', 'time', 'region', 'resources', 'detail'] as const;
const SCHEDULED = 'Scheduled Event';
const MAX_SHOWN_KEY = 40;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function shownKey(key: string): string {
  // The key is echoed (it is a field name), cut short and JSON-quoted so control characters stay visible.
  return JSON.stringify(key.length > MAX_SHOWN_KEY ? `${key.slice(0, MAX_SHOWN_KEY)}…` : key);
}

/** Why a field is refused: the message names what the field looks like it tries to do. */
function refusalFor(key: string): string {
  const k = key.toLowerCase();
  if (/pass|secret|token|cred|auth|api.?key|access.?key|private|session|cert|signature/.test(k)) {
    return 'an event cannot carry credentials: the function reads them from Secrets Manager or signs an RDS IAM token (RDS_S3_BACKUP_AUTH)';
  }
  if (/bucket|^to$|^from$|target|dest|prefix|s3|kms|url|uri|path|region|account/.test(k)) {
    return 'an event cannot change where backups go: the destination is fixed by the function configuration (RDS_S3_BACKUP_TO, RDS_S3_BACKUP_KMS_KEY_ID)';
  }
  if (
    /host|port|endpoint|instance|user|role|dbname|ssl|conn|pg|tool|dir|compress|timeout|lock|part|queue|env|option|config|setting/.test(k)
  ) {
    return 'an event cannot change connection or dump settings: they come from the function environment';
  }
  if (k === 'database' || k === 'db' || k === 'dbs') return 'unknown field; did you mean "databases" (a list of names)?';
  return `unknown field; an event may only contain ${SELECTION_FIELDS.map((f) => `"${f}"`).join(' and ')}`;
}

function parseSelection(o: Record<string, unknown>, where: string, issues: ConfigIssue[]): Selection {
  let databases: string[] | null = null;
  let globals: boolean | null = null;
  for (const key of Object.keys(o)) {
    const field = `${where}${shownKey(key)}`;
    if (key === 'databases') {
      const v = o[key];
      if (!Array.isArray(v) || v.length === 0 || !v.every((d) => typeof d === 'string')) {
        issues.push({ field, message: 'must be a non-empty list of database names' });
        continue;
      }
      const names = [...new Set(v as string[])];
      let ok = true;
      for (const name of names) {
        const bad = checkDatabaseName(name);
        // A connection string or URL in place of a name would be an attempt to point the dump elsewhere.
        const looksLikeConn = /:\/\/|=|@/.test(name);
        if (bad || looksLikeConn) {
          ok = false;
          issues.push({ field, message: bad ?? 'entries must be database names, not connection strings or URLs' });
        }
      }
      if (ok) databases = names;
    } else if (key === 'globals') {
      if (typeof o[key] !== 'boolean') issues.push({ field, message: 'must be true or false' });
      else globals = o[key];
    } else {
      issues.push({ field, message: refusalFor(key) });
    }
  }
  return { databases, globals };
}

/** Validates an invocation payload: an EventBridge scheduled event, a plain selection object, or nothing. */
export function parseEvent(event: unknown): InvocationEvent {
  const issues: ConfigIssue[] = [];
  const none: Selection = { databases: null, globals: null };
  let result: InvocationEvent = { kind: 'direct', id: null, source: null, time: null, selection: none };
  if (event === undefined || event === null) return result;
  if (!isObject(event)) {
    throw new ConfigError([
      {
        field: 'event',
        message: `must be a JSON object (an EventBridge scheduled event or {"databases": [...]}), not ${Array.isArray(event) ? 'an array' : typeof event}`,
      },
    ]);
  }
  if ('detail-type' in event || ('source' in event && 'detail' in event)) {
    for (const key of Object.keys(event)) {
      if ((ENVELOPE_FIELDS as readonly string[]).includes(key)) continue;
      const message = (SELECTION_FIELDS as readonly string[]).includes(key)
        ? 'in an EventBridge event the selection goes inside "detail" (or send the selection alone as the input)'
        : `not a field of an EventBridge event; ${refusalFor(key)}`;
      issues.push({ field: `event.${shownKey(key)}`, message });
    }
    if (event['detail-type'] !== SCHEDULED) {
      issues.push({ field: 'event."detail-type"', message: `must be "${SCHEDULED}": only a schedule starts a backup` });
    }
    for (const key of ['id', 'source', 'time', 'version', 'account', 'region'] as const) {
      if (event[key] !== undefined && typeof event[key] !== 'string') issues.push({ field: `event."${key}"`, message: 'must be a string' });
    }
    if (event.resources !== undefined && !(Array.isArray(event.resources) && event.resources.every((r) => typeof r === 'string'))) {
      issues.push({ field: 'event."resources"', message: 'must be a list of strings' });
    }
    let selection = none;
    if (event.detail !== undefined && event.detail !== null) {
      if (!isObject(event.detail)) issues.push({ field: 'event."detail"', message: 'must be an object' });
      else selection = parseSelection(event.detail, 'event.detail.', issues);
    }
    const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
    result = { kind: 'scheduled', id: str(event.id), source: str(event.source), time: str(event.time), selection };
  } else {
    result = { ...result, selection: parseSelection(event, 'event.', issues) };
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return result;
}

/** Narrows the configuration to the selection; refuses anything the configuration does not already allow. */
export function applySelection(config: BackupConfig, selection: Selection): BackupConfig {
  const issues: ConfigIssue[] = [];
  let databases = config.databases;
  if (selection.databases) {
    if (config.databases !== 'all') {
      const configured = new Set(config.databases);
      const outside = selection.databases.filter((d) => !configured.has(d));
      for (const d of outside)
        issues.push({
          field: 'event.databases',
          message: `${JSON.stringify(d)} is not among the configured databases (RDS_S3_BACKUP_DATABASES)`,
        });
    }
    databases = Object.freeze([...selection.databases]);
  }
  let globals = config.globals;
  if (selection.globals !== null) {
    if (selection.globals && !config.globals)
      issues.push({ field: 'event.globals', message: 'globals are not configured for this function (RDS_S3_BACKUP_GLOBALS)' });
    globals = selection.globals && config.globals;
  }
  if (issues.length > 0) throw new ConfigError(issues);
  if (databases === config.databases && globals === config.globals) return config;
  return Object.freeze({ ...config, databases, globals });
}
