import type { ArchiveFilters, GatedRestore, GlobalsReport, RestoreTarget, TableCounts, ToolReport } from '../core/ports/database-target.ts';
import type { ServerInfo } from '../core/ports/database-source.ts';
import { connect } from './client.ts';
import type { ResolvedConnection } from './credentials.ts';
import { PgRestoreTarget } from './restore-target.ts';
import { quoteIdent } from './source.ts';
import type { PgTools } from './tools.ts';

/** Role names a pg_dumpall globals script creates (`CREATE ROLE name;`), and nothing else from it. */
export function rolesInGlobals(sql: string): string[] {
  const names: string[] = [];
  for (const m of sql.matchAll(/^CREATE ROLE ("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*);$/gm)) {
    const raw = m[1]!;
    names.push(raw.startsWith('"') ? raw.slice(1, -1).replace(/""/g, '"') : raw);
  }
  return names;
}

/**
 * verify's throwaway server, split by privilege: the archive (pg_restore, psql) runs as the restore role; the
 * bootstrap superuser only creates the scratch database (owned by the restore role), creates the backup's roles
 * by name, counts rows and drops the database. The globals script itself never runs: its role attributes
 * (SUPERUSER, passwords, memberships) are exactly what a hostile object would use, and only the names are
 * needed for privileges to restore.
 */
export class SandboxedTarget implements RestoreTarget {
  readonly #admin: PgRestoreTarget;
  readonly #adminConn: ResolvedConnection;
  readonly #restorer: PgRestoreTarget;
  readonly #restoreRole: string;
  readonly description: string;
  readonly database: string | null = null;

  constructor(admin: ResolvedConnection, restorer: ResolvedConnection, tools: PgTools) {
    this.#adminConn = admin;
    this.#admin = new PgRestoreTarget(admin, tools, 'postgres');
    this.#restorer = new PgRestoreTarget(restorer, tools, null, { adaptForVerify: true });
    this.#restoreRole = restorer.user ?? '';
    this.description = this.#restorer.description;
  }

  serverInfo(): Promise<ServerInfo> {
    return this.#admin.serverInfo();
  }

  databaseExists(name: string): Promise<boolean> {
    return this.#admin.databaseExists(name);
  }

  async #admin_<T>(database: string, fn: (q: (sql: string) => Promise<unknown>) => Promise<T>): Promise<T> {
    const c = await connect(this.#adminConn, database);
    try {
      return await fn((sql) => c.query(sql));
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  async createEmptyDatabase(name: string): Promise<void> {
    await this.#admin.createEmptyDatabase(name);
    const role = quoteIdent(this.#restoreRole);
    await this.#admin_('postgres', (q) => q(`alter database ${quoteIdent(name)} owner to ${role}`));
    // Before PostgreSQL 15, public belongs to the bootstrap superuser: the dump's COMMENT/ALTER on it need its owner.
    await this.#admin_(name, (q) => q(`alter schema public owner to ${role}`));
  }

  createDatabaseFromArchive(head: Buffer, entryIds: readonly number[], filters: ArchiveFilters): Promise<ToolReport> {
    return this.#restorer.createDatabaseFromArchive(head, entryIds, filters);
  }

  dropDatabase(name: string): Promise<void> {
    return this.#admin.dropDatabase(name);
  }

  startGatedRestore(database: string, filters: ArchiveFilters, options: { readonly singleTransaction: boolean }): Promise<GatedRestore> {
    return this.#restorer.startGatedRestore(database, filters, options);
  }

  restoreFile(
    database: string,
    file: string,
    jobs: number,
    filters: ArchiveFilters,
    signal: AbortSignal | undefined,
    options: { readonly create: boolean },
  ): Promise<ToolReport> {
    return this.#restorer.restoreFile(database, file, jobs, filters, signal, options);
  }

  /** Creates the globals' roles by name only: no login, no attributes; the restore role may grant to them. */
  async applyGlobals(sql: Buffer): Promise<GlobalsReport> {
    const roles = rolesInGlobals(sql.toString('utf8'));
    const expectedErrors: string[] = [];
    await this.#admin_('postgres', async (q) => {
      for (const r of roles) {
        if (r === 'postgres' || r === this.#restoreRole || r.startsWith('pg_')) {
          expectedErrors.push(`role "${r}" already exists`);
          continue;
        }
        await q(`create role ${quoteIdent(r)} nologin nosuperuser nocreatedb nocreaterole noreplication nobypassrls`);
        // Membership lets the restore role ALTER DEFAULT PRIVILEGES FOR ROLE and GRANT as the object's grantor.
        await q(`grant ${quoteIdent(r)} to ${quoteIdent(this.#restoreRole)}`);
      }
    });
    return { expectedErrors, errors: [] };
  }

  tableCounts(database: string): Promise<TableCounts> {
    return this.#admin.tableCounts(database);
  }

  async close(): Promise<void> {
    await Promise.all([this.#admin.close(), this.#restorer.close()]);
  }
}
