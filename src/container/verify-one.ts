import os from 'node:os';
import { executeVerify } from '../compose-restore.ts';
import type { VerifyConfig } from '../core/config.ts';
import { ToolError } from '../core/errors.ts';
import { runVerify, type ScratchProvider, type VerifyEvent, type VerifyReport } from '../core/verify.ts';
import { chooseEmbeddedMajor, startEmbeddedServer, type EmbeddedInstall } from '../postgres/embedded-server.ts';
import { PgRestoreTarget } from '../postgres/restore-target.ts';
import { locatePgTools } from '../postgres/tools.ts';
import { openStore } from '../storage/open-store.ts';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * One database's verify, through core's runVerify. With servers installed in the image (the verify image) the
 * throwaway server comes from there; without (development), the normal composition finds the npm packages.
 */
export async function verifyOne(config: VerifyConfig, deps: { env: Env; shutdown: { signal: AbortSignal }; embeddedInstalls: readonly EmbeddedInstall[] | null }, onEvent: (e: VerifyEvent) => void): Promise<VerifyReport> {
  if (!deps.embeddedInstalls) return executeVerify(config, { signal: deps.shutdown.signal, env: deps.env, onEvent });
  const installs = deps.embeddedInstalls;
  const tools = await locatePgTools(config.pgtoolsDir, deps.env);
  const scratch: ScratchProvider = async (major) => {
    const choice = chooseEmbeddedMajor(major, installs.map((i) => i.major));
    if (!choice) throw new ToolError(`the image has no PostgreSQL ${major} or newer for the throwaway server (it has: ${installs.map((i) => i.major).join(', ') || 'none'})`, { hint: 'rebuild the verify image with --pg-majors including it' });
    const server = await startEmbeddedServer(installs.find((i) => i.major === choice.major)!);
    return { target: new PgRestoreTarget(server.connection, tools, 'postgres'), kind: 'embedded', version: server.version, note: choice.note, stop: () => server.stop() };
  };
  return runVerify(
    { selector: config.selector, database: config.database, integrityOnly: false, record: config.record, tempDir: os.tmpdir() },
    { store: openStore(config.source), scratch, signal: deps.shutdown.signal, onEvent },
  );
}
