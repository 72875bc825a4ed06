import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { ConnectionError, describeError } from '../core/errors.ts';
import type { DbInstanceRef } from './config.ts';

export type InstanceEndpoint = {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly engine: string | null;
  readonly status: string | null;
  readonly iamAuthEnabled: boolean | null;
};

/** The only call the function makes to the RDS API: one instance, so the policy can name its ARN. */
export type DescribeInstance = (
  ref: DbInstanceRef,
  options: { region: string | null; signal?: AbortSignal | undefined },
) => Promise<unknown>;

const describeWithSdk: DescribeInstance = async (ref, options) => {
  const client = new RDSClient(options.region ? { region: options.region } : {});
  try {
    const out = await client.send(
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: ref.id }),
      options.signal ? { abortSignal: options.signal } : {},
    );
    return out.DBInstances?.[0];
  } finally {
    client.destroy();
  }
};

type DescribedInstance = {
  Endpoint?: { Address?: string; Port?: number };
  Engine?: string;
  DBInstanceStatus?: string;
  IAMDatabaseAuthenticationEnabled?: boolean;
};

/** rds:DescribeDBInstances on that one instance → host and port, checked for what a backup needs. */
export async function resolveInstance(
  ref: DbInstanceRef,
  options: { region: string | null; authMode: string; signal?: AbortSignal | undefined; describe?: DescribeInstance | undefined },
): Promise<InstanceEndpoint> {
  const describe = options.describe ?? describeWithSdk;
  const region = ref.region ?? options.region;
  let found: DescribedInstance | undefined;
  try {
    found = (await describe(ref, { region, signal: options.signal })) as DescribedInstance | undefined;
  } catch (err) {
    const name = (err as { name?: string })?.name ?? '';
    const hint =
      name === 'DBInstanceNotFoundFault' || name === 'DBInstanceNotFound'
        ? `check RDS_S3_BACKUP_DB_INSTANCE_ID and the region (${region ?? 'AWS_REGION'})`
        : 'the function needs rds:DescribeDBInstances on this instance and a network path to the RDS API (VPC endpoint or NAT)';
    throw new ConnectionError(`describing RDS instance ${ref.id} failed: ${describeError(err)}`, { cause: err, hint });
  }
  if (!found)
    throw new ConnectionError(`RDS instance ${ref.id} was not found`, {
      hint: `check RDS_S3_BACKUP_DB_INSTANCE_ID and the region (${region ?? 'AWS_REGION'})`,
    });
  const engine = found.Engine ?? null;
  if (engine && !/postgres/i.test(engine)) throw new ConnectionError(`RDS instance ${ref.id} runs ${engine}, not PostgreSQL`);
  const host = found.Endpoint?.Address;
  const port = found.Endpoint?.Port;
  if (!host || !port) {
    throw new ConnectionError(`RDS instance ${ref.id} has no endpoint (status: ${found.DBInstanceStatus ?? 'unknown'})`, {
      hint: 'the instance is being created or is stopped; start it or wait until it is available',
    });
  }
  if (options.authMode === 'iam' && found.IAMDatabaseAuthenticationEnabled === false) {
    throw new ConnectionError(`IAM database authentication is not enabled on RDS instance ${ref.id}`, {
      hint: 'enable it on the instance (iam_database_authentication_enabled) or use RDS_S3_BACKUP_AUTH=secret',
    });
  }
  return {
    id: ref.id,
    host,
    port,
    engine,
    status: found.DBInstanceStatus ?? null,
    iamAuthEnabled: found.IAMDatabaseAuthenticationEnabled ?? null,
  };
}
