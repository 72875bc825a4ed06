import { checkDatabaseName } from '../core/config/database-name.ts';
import { collectRaw } from '../core/config/raw.ts';
import { type ListConfig, parseListConfig } from '../core/config/list-config.ts';
import { parseVerifyConfig, type VerifyConfig } from '../core/config/verify-config.ts';
import { ConfigError, type ConfigIssue } from '../core/errors.ts';
import { parseLambdaConfig, type LambdaConfig, type RunnerProfile } from '../runner/config.ts';

/**
 * The container's configuration: the Lambda's environment schema and checks (one source of truth:
 * src/runner/config.ts on top of src/core/config/), with the image's CA bundle as the verify-full default.
 */

type Env = Readonly<Record<string, string | undefined>>;

/** Where the image keeps the Amazon RDS CA bundle (scripts/image/rootfs.ts writes it). */
const CONTAINER_CA_FILE = '/etc/ssl/certs/rds-ca-bundle.pem';

const CONTAINER_RUNNER: RunnerProfile = {
  name: 'the ECS task',
  configuration: 'the task definition',
  caFile: () => CONTAINER_CA_FILE,
  caSource: 'the Amazon RDS CA bundle of the image, or a file mounted into the task',
};

export type ContainerBackupConfig = LambdaConfig;

export function parseContainerBackupConfig(env: Env, caFile: string = CONTAINER_CA_FILE): ContainerBackupConfig {
  return parseLambdaConfig(env, { ...CONTAINER_RUNNER, caFile: () => caFile });
}

export type DrillConfig = {
  /** Databases whose newest complete backup is verified; null: every database with a backup in the bucket. */
  readonly databases: readonly string[] | null;
  /** The verify configuration of one database (source, selector latest, recorded). */
  readonly forDatabase: (database: string) => VerifyConfig;
  /** Listing the bucket, to find the databases when none are configured. */
  readonly list: ListConfig;
};

/**
 * The drill (`verify` command): the newest backup of each configured database, restored into a throwaway server
 * inside the task. It reads RDS_S3_BACKUP_FROM (default RDS_S3_BACKUP_TO) and RDS_S3_BACKUP_DATABASES; it needs
 * no database connection or credentials at all.
 */
export function parseDrillConfig(env: Env): DrillConfig {
  const issues: ConfigIssue[] = [];
  const raw = env.RDS_S3_BACKUP_DATABASES?.trim();
  let databases: string[] | null = null;
  if (raw && raw.toLowerCase() !== 'all') {
    databases = [
      ...new Set(
        raw
          .split(',')
          .map((d) => d.trim())
          .filter(Boolean),
      ),
    ];
    for (const d of databases) {
      const problem = checkDatabaseName(d);
      if (problem) issues.push({ field: 'RDS_S3_BACKUP_DATABASES', message: problem });
    }
  }
  // Only what verify reads: the connection variables of a backup task would otherwise be rejected as unknown.
  const verifyEnv: Record<string, string | undefined> = {
    RDS_S3_BACKUP_FROM: env.RDS_S3_BACKUP_FROM,
    RDS_S3_BACKUP_TO: env.RDS_S3_BACKUP_TO,
    RDS_S3_BACKUP_PGTOOLS_DIR: env.RDS_S3_BACKUP_PGTOOLS_DIR,
  };
  const forDatabase = (database: string): VerifyConfig =>
    parseVerifyConfig(collectRaw('verify', { database, latest: true, record: true, quiet: true }, verifyEnv));
  // Check source and options once up front, with a placeholder database, so a bad bucket URL fails before any work.
  try {
    forDatabase(databases?.[0] ?? 'postgres');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // Field labels name the environment variable only: there are no flags here.
    for (const i of err.issues)
      issues.push({ field: i.field.split(' / ').find((p) => /^[A-Z][A-Z0-9_]*$/.test(p)) ?? i.field, message: i.message });
  }
  if (!env.RDS_S3_BACKUP_FROM?.trim() && !env.RDS_S3_BACKUP_TO?.trim())
    issues.push({ field: 'RDS_S3_BACKUP_FROM', message: 'is required (or RDS_S3_BACKUP_TO): the bucket whose backups are verified' });
  if (issues.length > 0) throw new ConfigError(issues);
  const list = parseListConfig(collectRaw('list', {}, verifyEnv));
  return Object.freeze({ databases: databases ? Object.freeze(databases) : null, forDatabase, list });
}
