import type { ArchiveToc, TocEntry } from '../archive/toc.ts';
import { BackupToolError, ExitCode } from '../errors.ts';
import type { ArchiveFilters } from '../ports/database-target.ts';

/** What the user asked for, before it is checked against the archive. */
export type RestoreSelectionRequest = {
  /** Schema names. */
  readonly schemas: readonly string[];
  /** `table`, `schema.table`, or with double quotes for names containing dots: `"my.schema"."t"`. */
  readonly tables: readonly string[];
  readonly noOwner: boolean;
  readonly noAcl: boolean;
  readonly clean: boolean;
};

/** The selection names something the backup does not contain, or something pg_restore cannot express. */
export class SelectionMismatchError extends BackupToolError {}

/** Entry types pg_restore --table selects (pg_backup_archiver.c, _tocEntryRequired). */
const TABLE_LIKE = new Set([
  'TABLE',
  'TABLE DATA',
  'VIEW',
  'MATERIALIZED VIEW',
  'MATERIALIZED VIEW DATA',
  'FOREIGN TABLE',
  'SEQUENCE',
  'SEQUENCE SET',
]);
const RELATION = new Set(['TABLE', 'VIEW', 'MATERIALIZED VIEW', 'FOREIGN TABLE', 'SEQUENCE']);

export type QualifiedName = { readonly schema: string | null; readonly name: string };

function readIdent(s: string, pos: number): { value: string; end: number } | undefined {
  if (s[pos] === '"') {
    let value = '';
    let i = pos + 1;
    while (i < s.length) {
      if (s[i] === '"') {
        if (s[i + 1] === '"') {
          value += '"';
          i += 2;
          continue;
        }
        return { value, end: i + 1 };
      }
      value += s[i];
      i++;
    }
    return undefined;
  }
  const dot = s.indexOf('.', pos);
  const end = dot === -1 ? s.length : dot;
  const value = s.slice(pos, end);
  return value.length > 0 ? { value, end } : undefined;
}

/** `t`, `s.t`, `"s.x"."t"`: names are taken literally (no case folding), as pg_restore compares them. */
export function parseQualifiedName(input: string): QualifiedName | undefined {
  const s = input.trim();
  const first = readIdent(s, 0);
  if (!first) return undefined;
  if (first.end === s.length) return { schema: null, name: first.value };
  if (s[first.end] !== '.') return undefined;
  const second = readIdent(s, first.end + 1);
  if (!second || second.end !== s.length) return undefined;
  return { schema: first.value, name: second.value };
}

function label(q: QualifiedName): string {
  return q.schema === null ? q.name : `${q.schema}.${q.name}`;
}

/**
 * Checks the selection against the archive's TOC before anything touches the target (a selective restore that
 * silently restores nothing is the failure to avoid) and turns it into pg_restore's -n/-t flags, refusing
 * combinations where those flags would select more than was asked for.
 */
export function resolveFilters(
  toc: ArchiveToc | null,
  req: RestoreSelectionRequest,
): { filters: ArchiveFilters; selectedTables: readonly string[] } {
  const base = { noOwner: req.noOwner, noAcl: req.noAcl, clean: req.clean };
  const tables: QualifiedName[] = [];
  for (const t of req.tables) {
    const q = parseQualifiedName(t);
    if (!q)
      throw new SelectionMismatchError(`--table ${JSON.stringify(t)} is not a table name (table, schema.table, or "quoted"."names")`, {
        exitCode: ExitCode.usage,
      });
    tables.push(q);
  }
  if (!toc) {
    // A newer archive than the TOC reader knows: pass the names through unchecked (pg_restore semantics).
    if (tables.some((t) => t.schema !== null)) {
      throw new SelectionMismatchError(
        'this archive is newer than this tool reads, so --table cannot be schema-qualified: use --schema and --table',
        { exitCode: ExitCode.usage },
      );
    }
    return { filters: { ...base, schemas: [...req.schemas], tables: tables.map((t) => t.name) }, selectedTables: tables.map(label) };
  }
  const entries = toc.entries;
  const schemasInArchive = new Set<string>();
  for (const e of entries) {
    if (e.namespace) schemasInArchive.add(e.namespace);
    if (e.desc === 'SCHEMA') schemasInArchive.add(e.tag);
  }
  for (const s of req.schemas) {
    if (!schemasInArchive.has(s)) {
      throw new SelectionMismatchError(`schema ${JSON.stringify(s)} is not in this backup`, {
        hint: `schemas in the backup: ${[...schemasInArchive].sort().join(', ') || '(none)'}`,
      });
    }
  }
  const relations = entries.filter((e) => RELATION.has(e.desc));
  const wanted = new Set<string>();
  for (const t of tables) {
    const inScope = (e: TocEntry): boolean =>
      t.schema !== null ? e.namespace === t.schema : req.schemas.length === 0 || req.schemas.includes(e.namespace ?? '');
    const matches = relations.filter((e) => e.tag === t.name && inScope(e));
    if (matches.length === 0) {
      const elsewhere = relations.filter((e) => e.tag.toLowerCase() === t.name.toLowerCase()).map((e) => `${e.namespace}.${e.tag}`);
      throw new SelectionMismatchError(
        `table ${label(t)} is not in this backup${req.schemas.length > 0 && t.schema === null ? ` (in schema(s) ${req.schemas.join(', ')})` : ''}`,
        {
          hint:
            elsewhere.length > 0
              ? `it exists as ${elsewhere.join(', ')}`
              : 'pg_restore compares names exactly (case-sensitive); `restore --list` shows the archive contents',
        },
      );
    }
    const namespaces = new Set(matches.map((e) => e.namespace ?? ''));
    if (namespaces.size > 1) {
      throw new SelectionMismatchError(
        `table ${t.name} exists in several schemas (${[...namespaces].sort().join(', ')}): qualify it as schema.table`,
        { exitCode: ExitCode.usage },
      );
    }
    for (const e of matches) wanted.add(`${e.namespace}\u0000${e.tag}`);
  }
  const schemas = new Set(req.schemas);
  for (const t of tables) if (t.schema !== null) schemas.add(t.schema);
  const names = new Set(tables.map((t) => t.name));
  if (tables.length > 0) {
    // pg_restore applies -n and -t independently: every (schema, table) pair of the flags is selected.
    const selected = entries.filter(
      (e) => TABLE_LIKE.has(e.desc) && names.has(e.tag) && (schemas.size === 0 || schemas.has(e.namespace ?? '')),
    );
    const got = new Set(selected.filter((e) => RELATION.has(e.desc)).map((e) => `${e.namespace}\u0000${e.tag}`));
    const extra = [...got].filter((k) => !wanted.has(k));
    const missing = [...wanted].filter((k) => !got.has(k));
    if (extra.length > 0 || missing.length > 0) {
      const show = (ks: string[]): string => ks.map((k) => k.replace('\u0000', '.')).join(', ');
      throw new SelectionMismatchError(
        `pg_restore's --schema/--table flags cannot select exactly these tables: they would ${extra.length > 0 ? `also restore ${show(extra)}` : `leave out ${show(missing)}`}`,
        {
          exitCode: ExitCode.usage,
          hint: 'pg_restore applies every --schema to every --table: restore tables from different schemas in separate runs',
        },
      );
    }
  }
  const selectedTables = tables.length > 0 ? [...wanted].map((w) => w.replace('\u0000', '.')).sort() : [];
  return { filters: { ...base, schemas: [...schemas], tables: [...names] }, selectedTables };
}

/** The archive's own DATABASE entries, which `pg_restore --create` runs before anything else. */
export function databaseEntries(toc: ArchiveToc): { name: string; ids: number[] } | undefined {
  const db = toc.entries.find((e) => e.desc === 'DATABASE');
  if (!db) return undefined;
  const ids = toc.entries
    .filter(
      (e) =>
        e.desc === 'DATABASE' ||
        e.desc === 'DATABASE PROPERTIES' ||
        (['COMMENT', 'SECURITY LABEL', 'ACL'].includes(e.desc) && e.tag === `DATABASE ${db.tag}`),
    )
    .map((e) => e.dumpId);
  return { name: db.tag, ids };
}
