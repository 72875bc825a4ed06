import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { quoteConnValue } from '../core/conninfo.ts';
import { AbortedError, ConnectionError, ToolProcessError, UnsafeContentError, describeError } from '../core/errors.ts';
import { redact } from '../core/redact.ts';
import type { ArchiveFilters, GatedRestore, GlobalsReport, RestoreTarget, TableCounts, ToolReport } from '../core/restore-target.ts';
import type { ExitStatus, ServerInfo } from '../core/source.ts';
import { connect } from './client.ts';
import { libpqEnv, type ResolvedConnection } from './credentials.ts';
import { assertRestricted, newRestrictKey, RestrictGuard, restrictedGlobalsScript } from './psql-restrict.ts';
import { spawnPipedTool, type PipedTool } from './restore-process.ts';
import { CommitGate, TransactionTimeoutFilter } from './restore-script.ts';
import { quoteIdent } from './source.ts';
import type { PgTools } from './tools.ts';

const TX_TIMEOUT_ERROR = /unrecognized configuration parameter "transaction_timeout"/;
const PG17 = 170000;

/** pg_restore's selection flags. */
export function filterArgs(f: ArchiveFilters): string[] {
  const args: string[] = [];
  for (const s of f.schemas) args.push(`--schema=${s}`);
  for (const t of f.tables) args.push(`--table=${t}`);
  if (f.noOwner) args.push('--no-owner');
  if (f.noAcl) args.push('--no-acl');
  if (f.clean) args.push('--clean', '--if-exists');
  return args;
}

function dbArg(database: string): string {
  // Quoted conninfo: a database named like "host=evil" stays a name.
  return `--dbname=dbname=${quoteConnValue(database)}`;
}

function statusFailed(s: ExitStatus): boolean {
  return s.code !== 0 || s.signal !== null;
}

function hintFor(stderr: string): string | undefined {
  if (/already exists/.test(stderr)) return 'the target already has these objects: restore into an empty database, use --create, or --clean to replace them (all inside the one transaction)';
  if (/role ".*" does not exist/.test(stderr)) return 'the roles of the backup are missing on the target: restore the globals first (restore --globals), or use --no-owner --no-acl';
  if (/password authentication failed|no password supplied/i.test(stderr)) return 'check the user and password of --target (PGPASSWORD, the secret, or IAM auth)';
  if (/database ".*" does not exist/.test(stderr)) return 'create the database first, or use --create';
  if (/permission denied/i.test(stderr)) return 'the target user lacks privileges for this restore (try --no-owner --no-acl, or a more privileged user)';
  if (/could not (read|uncompress|decompress)|corrupt|unexpected end of|invalid (compressed|stored block)/i.test(stderr)) return 'the archive looks damaged: `verify --integrity-only` checks it against its manifest; pick another backup';
  if (/out of shared memory|max_locks_per_transaction/i.test(stderr)) return 'one transaction holds a lock per object: raise max_locks_per_transaction on the target, or use --no-single-transaction';
  return undefined;
}

/** RestoreTarget over a real server: `pg` for facts and bookkeeping, pg_restore and psql for the restore itself. */
export class PgRestoreTarget implements RestoreTarget {
  readonly #conn: ResolvedConnection;
  readonly #tools: PgTools;
  readonly database: string | null;
  readonly description: string;
  #server: ServerInfo | undefined;

  /** `database`: the database the target names (null: none given). */
  constructor(conn: ResolvedConnection, tools: PgTools, database: string | null) {
    this.#conn = conn;
    this.#tools = tools;
    this.database = database;
    this.description = `${conn.user ?? '(default user)'}@${conn.host ?? '(local socket)'}:${conn.port}${database ? `/${database}` : ''}`;
  }

  /** Bookkeeping connection: to the named database, else `postgres`. */
  async #withClient<T>(database: string | null, fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = await connect(this.#conn, database ?? this.database ?? 'postgres');
    try {
      return await fn(c);
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  async serverInfo(): Promise<ServerInfo> {
    if (this.#server) return this.#server;
    const info = await this.#withClient(null, async (c) => {
      const [row] = (await c.query<{ v: string; n: string }>("select current_setting('server_version') as v, current_setting('server_version_num') as n")).rows;
      return { version: row!.v.split(' ')[0]!, versionNum: Number(row!.n), host: this.#conn.host };
    });
    this.#server = info;
    return info;
  }

  async databaseExists(name: string): Promise<boolean> {
    return this.#withClient(null, async (c) => (await c.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1);
  }

  async createEmptyDatabase(name: string): Promise<void> {
    await this.#withClient(null, async (c) => {
      try {
        await c.query(`create database ${quoteIdent(name)} template template0 encoding 'UTF8'`);
      } catch (err) {
        throw new ConnectionError(`creating database ${name} on ${this.description} failed: ${describeError(err)}`, { cause: err, hint: 'the user needs CREATEDB' });
      }
    });
  }

  async dropDatabase(name: string): Promise<void> {
    await this.#withClient(name === (this.database ?? 'postgres') ? 'postgres' : null, async (c) => {
      await c.query(`drop database if exists ${quoteIdent(name)} with (force)`);
    });
  }

  async #env(appName?: string): Promise<Record<string, string>> {
    const env = await libpqEnv(this.#conn);
    if (appName) env.PGAPPNAME = appName;
    return env;
  }

  /** The restore script filter is only needed (and only enabled) for servers that reject transaction_timeout. */
  async #needsTxTimeoutFilter(): Promise<boolean> {
    return (await this.serverInfo()).versionNum < PG17 && this.#tools.major >= 17;
  }

  #psql(database: string, env: Record<string, string>, onErrorStop: boolean, onStderrLine?: (l: string) => void): PipedTool {
    const args = ['--no-psqlrc', '--quiet', '--no-password', '--set', `ON_ERROR_STOP=${onErrorStop ? 1 : 0}`, '--file=-', dbArg(database)];
    return spawnPipedTool('psql', this.#tools.psql, args, env, { stdin: true, stdout: false, ...(onStderrLine ? { onStderrLine } : {}) });
  }

  async createDatabaseFromArchive(head: Buffer, entryIds: readonly number[], filters: ArchiveFilters): Promise<ToolReport> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'rds-s3-backup-list-'));
    try {
      const list = path.join(dir, 'database.list');
      await writeFile(list, entryIds.map((id) => `${id}\n`).join(''), { mode: 0o600 });
      const env = await this.#env();
      const key = newRestrictKey();
      const restore = spawnPipedTool('pg_restore', this.#tools.pgRestore, ['--format=custom', '--file=-', `--restrict-key=${key}`, '--create', `--use-list=${list}`, ...filterArgs({ ...filters, schemas: [], tables: [], clean: false })], env, {
        stdin: true,
        stdout: true,
      });
      // pg_restore reads only the TOC for these entries and may exit before taking all of `head`.
      restore.stdin!.end(head);
      const out: Buffer[] = [];
      restore.stdout!.on('data', (c: Buffer) => out.push(c));
      const rs = await restore.exited;
      if (statusFailed(rs)) throw new ToolProcessError('pg_restore', rs, { detail: 'creating the database (--create)' });
      // A few statements only: adapt them to older servers as a whole, then run them.
      const script = Buffer.concat(out).toString('utf8');
      assertRestricted(script, key);
      const adapted = await adaptDatabaseScript(script, (await this.serverInfo()).versionNum, this.#tools.major);
      const psql = this.#psql(this.database ?? 'postgres', env, true);
      psql.stdin!.end(adapted.script);
      const ps = await psql.exited;
      if (statusFailed(ps)) throw new ToolProcessError('psql', ps, { detail: 'creating the database (--create)', hint: /already exists/.test(ps.stderrTail) ? 'the database already exists: drop it first, or restore into it without --create' : hintFor(ps.stderrTail) });
      return { toleratedErrors: 0, filtered: adapted.filtered, notes: [] };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async startGatedRestore(database: string, filters: ArchiveFilters, options: { readonly singleTransaction: boolean }): Promise<GatedRestore> {
    const appName = `rds-s3-backup-restore-${randomBytes(6).toString('hex')}`;
    const env = await this.#env(appName);
    const filter = (await this.#needsTxTimeoutFilter()) ? new TransactionTimeoutFilter() : null;
    // psql reads archive content: it must be in restricted mode (no meta-commands) before the first archive byte.
    const key = newRestrictKey();
    const args = ['--format=custom', '--file=-', `--restrict-key=${key}`, ...(options.singleTransaction ? ['--single-transaction'] : []), ...filterArgs(filters)];
    const restore = spawnPipedTool('pg_restore', this.#tools.pgRestore, args, env, { stdin: true, stdout: true });
    const psql = this.#psql(database, env, true);
    const gate = new CommitGate({ expectCommit: options.singleTransaction });
    gate.on('error', () => undefined);
    const guard = new RestrictGuard(key);
    const stages = filter ? [restore.stdout!, guard, filter, gate, psql.stdin!] : [restore.stdout!, guard, gate, psql.stdin!];
    const piped = (pipeline as (...s: unknown[]) => Promise<void>)(...stages);

    let failWith: (e: Error) => void = () => undefined;
    const failure = new Promise<Error>((resolve) => {
      failWith = resolve;
    });
    let aborted = false;
    let committing = false;
    let inputClosed = false;
    const stdin = restore.stdin!;
    stdin.on('close', () => {
      inputClosed = true;
    });
    stdin.on('error', () => {
      inputClosed = true;
    });
    const outcome = options.singleTransaction ? 'nothing was committed' : 'objects restored before the failing statement remain (--no-single-transaction)';
    const psqlFailed = (st: ExitStatus): ToolProcessError =>
      new ToolProcessError('psql', st, { detail: `the restore stopped before it was complete; ${outcome}`, hint: hintFor(st.stderrTail) });
    // pg_restore failing to write its script is a symptom of psql having stopped: psql's status says why.
    const explainRestoreFailure = async (rs: ExitStatus): Promise<ToolProcessError> => {
      if (/could not write|broken pipe|reset by peer/i.test(rs.stderrTail)) {
        const st = await Promise.race([psql.exited, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
        if (st && statusFailed(st)) return psqlFailed(st);
      }
      return new ToolProcessError('pg_restore', rs, { hint: hintFor(rs.stderrTail) });
    };
    // Any tool ending on its own before commit() is a failure (pg_restore may end early with 0: selective restore).
    void restore.exited.then(async (s) => {
      inputClosed = true;
      if (statusFailed(s) && !aborted) failWith(await explainRestoreFailure(s));
    });
    void psql.exited.then((st) => {
      if (!aborted && !committing) failWith(psqlFailed(st));
    });
    void piped.catch(async (err: unknown) => {
      if (aborted || committing) return;
      if (err instanceof UnsafeContentError) {
        failWith(err);
        return;
      }
      // A broken pipe is a symptom: psql (or pg_restore) ended, and its own status says why.
      const st = await Promise.race([psql.exited, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
      if (st && statusFailed(st)) failWith(psqlFailed(st));
      else failWith(new ToolProcessError('pg_restore', { code: null, signal: null, stderrTail: describeError(err) }, { detail: 'restore script pipeline failed' }));
    });

    const report = (): ToolReport => ({
      toleratedErrors: 0,
      filtered: filter && filter.removed > 0 ? [`SET transaction_timeout (x${filter.removed}): the target server is older than PostgreSQL 17`] : [],
      notes: [],
    });

    const terminateBackend = async (): Promise<void> => {
      // psql is gone; make the server drop its session (and the transaction's locks) now rather than later.
      await this.#withClient(database, async (c) => {
        for (let i = 0; i < 50; i++) {
          const r = await c.query<{ n: string }>(
            'select count(*)::text as n from (select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and pid <> pg_backend_pid()) t',
            [appName],
          );
          if (r.rows[0]!.n === '0') return;
          await new Promise((res) => setTimeout(res, 100));
        }
      }).catch(() => undefined);
    };

    return {
      failure,
      write: async (chunk) => {
        if (aborted) throw new AbortedError('restore aborted');
        if (inputClosed) return;
        if (!stdin.write(chunk)) {
          // Never rejects: a closed stdin only means pg_restore stopped reading (its exit status tells why).
          // The signal removes the losing listeners (one set per blocked write would pile up otherwise).
          const done = new AbortController();
          try {
            await Promise.race([
              once(stdin, 'drain', { signal: done.signal }).catch(() => undefined),
              once(stdin, 'close', { signal: done.signal }).catch(() => undefined),
              restore.exited,
            ]);
          } finally {
            done.abort();
          }
        }
      },
      endInput: async () => {
        if (inputClosed) return;
        stdin.end();
      },
      commit: async () => {
        committing = true;
        const rs = await restore.exited;
        if (statusFailed(rs)) {
          const err = await explainRestoreFailure(rs);
          await this.#kill(restore, psql);
          throw err;
        }
        // psql must still be waiting for the rest of the script: if it ended, it failed (nothing committed).
        const early = await Promise.race([gate.inputEnded.then(() => null), psql.exited]);
        if (early) {
          await this.#kill(restore, psql);
          throw psqlFailed(early);
        }
        gate.release();
        const [ps] = await Promise.all([psql.exited, piped.catch(() => undefined)]);
        if (statusFailed(ps)) {
          throw new ToolProcessError('psql', ps, { detail: options.singleTransaction ? 'the transaction did not commit; the target is unchanged' : outcome, hint: hintFor(ps.stderrTail) });
        }
        return report();
      },
      abort: async () => {
        if (aborted) return;
        aborted = true;
        failWith(new AbortedError('restore aborted'));
        await this.#kill(restore, psql);
        gate.destroy();
        await piped.catch(() => undefined);
        await terminateBackend();
      },
    };
  }

  async #kill(...tools: PipedTool[]): Promise<void> {
    // SIGKILL: psql must not get a chance to read anything else (such as the end of its input).
    for (const t of tools) t.kill('SIGKILL');
    await Promise.all(tools.map((t) => t.exited));
  }

  async restoreFile(database: string, file: string, jobs: number, filters: ArchiveFilters, signal: AbortSignal | undefined, options: { readonly create: boolean }): Promise<ToolReport> {
    const env = await this.#env();
    const tolerate = await this.#needsTxTimeoutFilter();
    let tolerated = 0;
    const fatal: string[] = [];
    let pendingError: string | null = null;
    const onLine = (line: string): void => {
      if (pendingError !== null) {
        // An execution error is followed by "Command was: <sql>": only that exact SET may be tolerated.
        const txTimeout = tolerate && TX_TIMEOUT_ERROR.test(pendingError) && line.startsWith('Command was: SET transaction_timeout = 0;');
        if (txTimeout) tolerated++;
        else fatal.push(pendingError);
        pendingError = null;
        if (line.startsWith('Command was:')) return;
      }
      if (line.startsWith('pg_restore: error: ')) pendingError = line;
    };
    const args = ['--format=custom', `--jobs=${jobs}`, '--no-password', ...(options.create ? ['--create'] : []), ...filterArgs(filters), dbArg(database), file];
    const restore = spawnPipedTool('pg_restore', this.#tools.pgRestore, args, env, { stdin: false, stdout: false, onStderrLine: onLine });
    const onAbort = (): void => restore.kill('SIGTERM');
    signal?.addEventListener('abort', onAbort, { once: true });
    const status = await restore.exited.finally(() => signal?.removeEventListener('abort', onAbort));
    if (pendingError !== null) fatal.push(pendingError);
    if (signal?.aborted) throw new AbortedError('restore interrupted: pg_restore was stopped; objects restored so far remain (parallel restore is not one transaction)');
    // pg_restore exits 1 when it "ignored" errors: accept that only when every error was the one we expect.
    const onlyTolerated = status.code === 1 && status.signal === null && fatal.length === 0 && tolerated > 0;
    if (statusFailed(status) && !onlyTolerated) {
      throw new ToolProcessError('pg_restore', status, { hint: hintFor(fatal.join('\n') || status.stderrTail), detail: fatal.length > 0 ? `${fatal.length} error(s), first: ${redact(fatal[0]!)}` : '' });
    }
    return {
      toleratedErrors: tolerated,
      filtered: [],
      notes: tolerated > 0 ? [`tolerated ${tolerated} error(s) "unrecognized configuration parameter transaction_timeout": pg_restore ${this.#tools.major} sets it, the server is older than PostgreSQL 17`] : [],
    };
  }

  async applyGlobals(sql: Buffer, what = 'the globals object'): Promise<GlobalsReport> {
    // Refused before psql starts: nothing from a globals object with meta-commands runs.
    const script = restrictedGlobalsScript(sql, newRestrictKey(), what);
    const env = await this.#env();
    const lines: string[] = [];
    const psql = this.#psql(this.database ?? 'postgres', env, false, (l) => lines.push(l));
    const filter = (await this.#needsTxTimeoutFilter()) ? new TransactionTimeoutFilter() : null;
    if (filter) {
      filter.pipe(psql.stdin!);
      filter.end(script);
    } else psql.stdin!.end(script);
    const status = await psql.exited;
    if (statusFailed(status)) throw new ToolProcessError('psql', status, { detail: 'applying globals' });
    const errors = lines.filter((l) => /\bERROR:/.test(l)).map((l) => redact(l.replace(/^psql:<stdin>:\d+: /, '').replace(/^psql:-:\d+: /, '')));
    const expected = errors.filter((e) => /role ".*" already exists/.test(e));
    return { expectedErrors: expected, errors: errors.filter((e) => !expected.includes(e)) };
  }

  async tableCounts(database: string): Promise<TableCounts> {
    return this.#withClient(database, async (c) => {
      // Counts must not be silently filtered by row-level security: fail instead.
      await c.query('set row_security = off');
      await c.query('begin transaction isolation level repeatable read read only');
      const rows = (
        await c.query<{ nspname: string; relname: string; relkind: string }>(
          `select n.nspname, c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_toast%'
             and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
           order by 1, 2`,
        )
      ).rows;
      const rowCounts: Record<string, number> = {};
      for (const t of rows) {
        if (t.relkind !== 'r') continue;
        const [r] = (await c.query<{ n: string }>(`select count(*)::text as n from ${quoteIdent(t.nspname)}.${quoteIdent(t.relname)}`)).rows;
        rowCounts[`${t.nspname}.${t.relname}`] = Number(r!.n);
      }
      await c.query('commit');
      return { tables: rows.map((t) => `${t.nspname}.${t.relname}`), rowCounts };
    });
  }

  async close(): Promise<void> {
    // Connections are per operation; nothing is held open.
  }
}

/** pg_restore -l over the archive's first bytes (its TOC), with the restore's filters: "what would be restored". */
export async function listArchive(tools: PgTools, head: Buffer, filters: ArchiveFilters, options: { create?: boolean } = {}): Promise<string[]> {
  const restore = spawnPipedTool('pg_restore', tools.pgRestore, ['--format=custom', '--list', ...(options.create ? ['--create'] : []), ...filterArgs(filters)], { LC_ALL: 'C.UTF-8', PATH: '/usr/bin:/bin' }, { stdin: true, stdout: true });
  restore.stdin!.end(head);
  const chunks: Buffer[] = [];
  restore.stdout!.on('data', (c: Buffer) => chunks.push(c));
  const status = await restore.exited;
  if (statusFailed(status)) throw new ToolProcessError('pg_restore', status, { detail: 'listing the archive' });
  return Buffer.concat(chunks).toString('utf8').split('\n').filter((l) => l.length > 0);
}

/**
 * The --create script (CREATE DATABASE, its comment and settings) adapted to the target: without
 * `SET transaction_timeout` below PostgreSQL 17, and without `LOCALE_PROVIDER = libc` below 15 (the only
 * provider those servers have, so dropping the clause changes nothing). Anything else an older server rejects
 * is reported by psql as it is.
 */
export async function adaptDatabaseScript(script: string, serverVersionNum: number, toolsMajor: number): Promise<{ script: string; filtered: string[] }> {
  const filtered: string[] = [];
  let text = script;
  if (serverVersionNum < PG17 && toolsMajor >= 17) {
    const f = new TransactionTimeoutFilter();
    const chunks: Buffer[] = [];
    f.on('data', (c: Buffer) => chunks.push(c));
    f.end(Buffer.from(text));
    await once(f, 'end');
    text = Buffer.concat(chunks).toString('utf8');
    if (f.removed > 0) filtered.push(`SET transaction_timeout (x${f.removed}): the target server is older than PostgreSQL 17`);
  }
  if (serverVersionNum < 150000) {
    let n = 0;
    text = text.replace(/^(CREATE DATABASE .*?) LOCALE_PROVIDER = libc(?= |;)/gm, (_m, head: string) => {
      n++;
      return head;
    });
    if (n > 0) filtered.push('LOCALE_PROVIDER = libc in CREATE DATABASE: the target server is older than PostgreSQL 15 (libc is its only provider)');
  }
  return { script: text, filtered };
}
