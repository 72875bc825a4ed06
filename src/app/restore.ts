import os from 'node:os';
import type { RestoreConfig, RestoreTargetSettings } from '../core/config/restore-config.ts';
import type { RestoreEvent } from '../core/restore/common.ts';
import { runRestore, type RestoreReport } from '../core/restore/restore.ts';
import { resolveConnection, type IamSigner } from '../postgres/credentials.ts';
import { listArchive } from '../postgres/archive-list.ts';
import { PgRestoreTarget } from '../postgres/restore-target.ts';
import { locatePgTools, type PgTools } from '../postgres/tools.ts';
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
  return new PgRestoreTarget(conn, tools, settings.database);
}

/** Wires the adapters around core/restore/restore.ts for the CLI. */
export async function executeRestore(config: RestoreConfig, options: ExecuteOptions<RestoreEvent>): Promise<RestoreReport> {
  const env = options.env;
  const tools = await locatePgTools(config.pgtoolsDir, env);
  const store = options.store ?? openStore(config.source, { env });
  const target = config.target && !config.list ? await openRestoreTarget(config.target, tools, { env, signer: options.signer }) : null;
  try {
    return await runRestore(
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
  } finally {
    await target?.close();
  }
}
