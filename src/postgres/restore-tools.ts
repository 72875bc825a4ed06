import type pg from 'pg';
import { quoteConnValue } from '../core/config/conninfo.ts';
import type { ArchiveFilters } from '../core/ports/database-target.ts';
import type { ExitStatus, ServerInfo } from '../core/ports/database-source.ts';
import { type PipedTool, spawnPipedTool } from './restore-process.ts';
import type { PgTools } from './tools.ts';

export const PG17 = 170000;

/** What the restore steps need from the target: its tools, a libpq environment and bookkeeping connections. */
export type RestoreSession = {
  readonly tools: PgTools;
  /** The database the target names (null: none given). */
  readonly database: string | null;
  env(appName?: string): Promise<Record<string, string>>;
  /** The restore script filter is only needed (and only enabled) for servers that reject transaction_timeout. */
  needsTxTimeoutFilter(): Promise<boolean>;
  serverInfo(): Promise<ServerInfo>;
  withClient<T>(database: string | null, fn: (c: pg.Client) => Promise<T>): Promise<T>;
};

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

export function dbArg(database: string): string {
  // Quoted conninfo: a database named like "host=evil" stays a name.
  return `--dbname=dbname=${quoteConnValue(database)}`;
}

export function statusFailed(s: ExitStatus): boolean {
  return s.code !== 0 || s.signal !== null;
}

/** psql reading a script on stdin against one database. */
export function spawnPsql(
  tools: PgTools,
  database: string,
  env: Record<string, string>,
  onErrorStop: boolean,
  onStderrLine?: (l: string) => void,
): PipedTool {
  const args = ['--no-psqlrc', '--quiet', '--no-password', '--set', `ON_ERROR_STOP=${onErrorStop ? 1 : 0}`, '--file=-', dbArg(database)];
  return spawnPipedTool('psql', tools.psql, args, env, { stdin: true, stdout: false, onStderrLine });
}

export async function killTools(...tools: PipedTool[]): Promise<void> {
  // SIGKILL: psql must not get a chance to read anything else (such as the end of its input).
  for (const t of tools) t.kill('SIGKILL');
  await Promise.all(tools.map((t) => t.exited));
}
