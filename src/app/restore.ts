import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import os from 'node:os';
import type { RestoreConfig, RestoreTargetSettings } from '../core/config/restore-config.ts';
import type { RestoreEvent } from '../core/restore/common.ts';
import { ConfigError, describeError } from '../core/errors.ts';
import { runRestore, type RestoreReport } from '../core/restore/restore.ts';
import { passwordNeedsScram, resolveConnection, type IamSigner } from '../postgres/credentials.ts';
import { listArchive } from '../postgres/archive-list.ts';
import { PgRestoreTarget } from '../postgres/restore-target.ts';
import { locatePgTools, type PgTools } from '../postgres/tools.ts';
import { assertRequireAuthSupport, assertRestrictSupport } from '../postgres/tools-restrict.ts';
import { openStore } from '../storage/open-store.ts';
import type { ExecuteOptions } from './options.ts';
import type { Env } from '../core/env.ts';

/** A restore target on the server the settings name, with credentials resolved (password, secret or IAM). */
export async function openRestoreTarget(
  settings: RestoreTargetSettings,
  tools: PgTools,
  options: { readonly env: Env; readonly signer?: IamSigner | undefined },
): Promise<PgRestoreTarget> {
  const conn = await resolveConnection(settings.connection, settings.auth, {
    env: options.env,
    signer: options.signer,
  });
  assertRequireAuthSupport(tools, passwordNeedsScram(conn));
  return new PgRestoreTarget(conn, tools, settings.database);
}

/** --temp-dir must be a writable directory: a usage error naming it, before anything is downloaded. */
export async function checkTempDir(dir: string): Promise<void> {
  let problem: string | null = null;
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) problem = `${dir} is not a directory`;
    else await access(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    problem = problem ?? (code === 'ENOENT' ? `${dir} does not exist` : `${dir} is not writable (${code ?? describeError(err)})`);
  }
  if (problem) throw new ConfigError([{ field: '--temp-dir', message: problem }]);
}

/** Where a restore writes, as resolved (flag, conninfo, environment, default), shown before anything changes. */
export type RestoreDestination = {
  readonly host: string | null;
  readonly port: number;
  /** null: the backup's own database name (known once the backup is selected). */
  readonly database: string | null;
  readonly user: string | null;
};

function restoreDestination(config: RestoreConfig): RestoreDestination | null {
  if (!config.target || config.list) return null;
  const c = config.target.connection;
  // With --create the conninfo's dbname is only where CREATE DATABASE runs; the new database has the backup's name.
  const database = config.create ? config.database : (config.target.database ?? config.database);
  return { host: c.host, port: c.port, database, user: c.user };
}

export type ExecutedRestore = RestoreReport & { readonly destination: RestoreDestination | null };

/** Wires the adapters around core/restore/restore.ts for the CLI. */
export async function executeRestore(
  config: RestoreConfig,
  options: ExecuteOptions<RestoreEvent> & { onDestination?: (d: RestoreDestination) => void },
): Promise<ExecutedRestore> {
  const env = options.env;
  if (config.tempDir !== null) await checkTempDir(config.tempDir);
  const destination = restoreDestination(config);
  if (destination) options.onDestination?.(destination);
  const tools = await locatePgTools(config.pgtoolsDir, env);
  if (!config.list) await assertRestrictSupport(tools);
  const store = options.store ?? openStore(config.source, { env, downloadStreams: config.downloadStreams });
  const target = config.target && !config.list ? await openRestoreTarget(config.target, tools, { env, signer: options.signer }) : null;
  try {
    const report = await runRestore(
      {
        selector: config.selector,
        database: config.database,
        globals: config.globals,
        targetDatabase: config.target?.database ?? null,
        create: config.create,
        singleTransaction: config.singleTransaction,
        jobs: config.jobs,
        selection: { schemas: config.schemas, tables: config.tables, noOwner: config.noOwner, noAcl: config.noAcl, clean: config.clean },
        tempDir: config.tempDir ?? os.tmpdir(),
        listOnly: config.list,
      },
      {
        store,
        target,
        lister: (head, filters) => listArchive(tools, head, filters),
        signal: options.signal,
        onEvent: options.onEvent,
        progressIntervalMs: options.progressIntervalMs,
      },
    );
    return { ...report, destination };
  } finally {
    await target?.close();
  }
}
