import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ToolProcessError } from '../core/errors.ts';
import { restoreHint } from '../core/pg-hints.ts';
import type { ArchiveFilters, ToolReport } from '../core/ports/database-target.ts';
import { spawnPipedTool } from './restore-process.ts';
import { TransactionTimeoutFilter } from './restore-script.ts';
import { filterArgs, PG17, type RestoreSession, spawnPsql, statusFailed } from './restore-tools.ts';

/** restore --create: the archive's CREATE DATABASE (and its settings) from pg_restore --create, adapted, run by psql. */
export async function createDatabaseFromArchive(
  session: RestoreSession,
  head: Buffer,
  entryIds: readonly number[],
  filters: ArchiveFilters,
): Promise<ToolReport> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rds-s3-backup-list-'));
  try {
    const list = path.join(dir, 'database.list');
    await writeFile(list, entryIds.map((id) => `${id}\n`).join(''), { mode: 0o600 });
    const env = await session.env();
    const restore = spawnPipedTool(
      'pg_restore',
      session.tools.pgRestore,
      [
        '--format=custom',
        '--file=-',
        '--create',
        `--use-list=${list}`,
        ...filterArgs({ ...filters, schemas: [], tables: [], clean: false }),
      ],
      env,
      {
        stdin: true,
        stdout: true,
      },
    );
    // pg_restore reads only the TOC for these entries and may exit before taking all of `head`.
    restore.stdin!.end(head);
    const out: Buffer[] = [];
    restore.stdout!.on('data', (c: Buffer) => out.push(c));
    const rs = await restore.exited;
    if (statusFailed(rs)) throw new ToolProcessError('pg_restore', rs, { detail: 'creating the database (--create)' });
    // A few statements only: adapt them to older servers as a whole, then run them.
    const adapted = await adaptDatabaseScript(
      Buffer.concat(out).toString('utf8'),
      (await session.serverInfo()).versionNum,
      session.tools.major,
    );
    const psql = spawnPsql(session.tools, session.database ?? 'postgres', env, true);
    psql.stdin!.end(adapted.script);
    const ps = await psql.exited;
    if (statusFailed(ps))
      throw new ToolProcessError('psql', ps, {
        detail: 'creating the database (--create)',
        hint: /already exists/.test(ps.stderrTail)
          ? 'the database already exists: drop it first, or restore into it without --create'
          : restoreHint(ps.stderrTail),
      });
    return { toleratedErrors: 0, filtered: adapted.filtered, notes: [] };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The --create script (CREATE DATABASE, its comment and settings) adapted to the target: without
 * `SET transaction_timeout` below PostgreSQL 17, and without `LOCALE_PROVIDER = libc` below 15 (the only
 * provider those servers have, so dropping the clause changes nothing). Anything else an older server rejects
 * is reported by psql as it is.
 */
async function adaptDatabaseScript(
  script: string,
  serverVersionNum: number,
  toolsMajor: number,
): Promise<{ script: string; filtered: string[] }> {
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
    if (n > 0)
      filtered.push('LOCALE_PROVIDER = libc in CREATE DATABASE: the target server is older than PostgreSQL 15 (libc is its only provider)');
  }
  return { script: text, filtered };
}
