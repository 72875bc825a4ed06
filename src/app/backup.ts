import type { BackupConfig } from '../core/config/backup-config.ts';
import { runBackup, type BackupEvent, type BackupReport } from '../core/backup/run-backup.ts';
import { passwordNeedsScram, resolveConnection } from '../postgres/credentials.ts';
import { PgSource } from '../postgres/source.ts';
import { locatePgTools } from '../postgres/tools.ts';
import { assertRequireAuthSupport } from '../postgres/tools-restrict.ts';
import { openStore } from '../storage/open-store.ts';
import type { ExecuteOptions } from './options.ts';

/** Wires the adapters around core for one backup run: shared by the CLI and the Lambda handler. */
export async function executeBackup(config: BackupConfig, options: ExecuteOptions<BackupEvent>): Promise<BackupReport> {
  const env = options.env;
  // Independent, and each may wait (pg_dump --version; Secrets Manager or an IAM token): one wait instead of two.
  // When both fail, the tools' error is reported, as when they ran one after the other.
  const [located, resolved] = await Promise.allSettled([
    locatePgTools(config.pgtoolsDir, env),
    resolveConnection(config.connection, config.auth, { env, signer: options.signer }),
  ]);
  if (located.status === 'rejected') throw located.reason;
  if (resolved.status === 'rejected') throw resolved.reason;
  const tools = located.value;
  const conn = resolved.value;
  assertRequireAuthSupport(tools, passwordNeedsScram(conn));
  const store = options.store ?? openStore(config.target, { env, kmsKeyId: config.kmsKeyId });
  const source = new PgSource(conn, tools);
  try {
    return await runBackup(
      {
        databases: config.databases,
        globals: config.globals,
        compression: config.compression,
        rowCounts: config.rowCounts,
        lockWaitTimeout: config.lockWaitTimeout,
        partSizeMinBytes: config.partSizeMinBytes,
        queueSize: config.queueSize,
        kmsKeyId: config.kmsKeyId,
      },
      { source, store, signal: options.signal, onEvent: options.onEvent, progressIntervalMs: options.progressIntervalMs },
    );
  } finally {
    await source.close();
  }
}
