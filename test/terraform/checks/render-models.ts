// What the renderer knows about values only AWS computes (ARNs, ids) and about the
// data sources the module reads: fixed stand-ins, so the rendered files are
// reproducible, listed in terraform/rendered/context.json.
import { createHash } from 'node:crypto';
import type { Value } from './evaluate.ts';
import type { TfBlock } from './load.ts';

/** The values only a real account knows; stable so the rendered files are reproducible. */
export const FAKE = {
  account_id: '111122223333',
  partition: 'aws',
  dns_suffix: 'amazonaws.com',
  reverse_dns_prefix: 'com.amazonaws',
  random_hex: '0a1b2c3d',
  s3_prefix_list_id: 'pl-6da54004',
} as const;

export const AWS_DEFAULT_ENDPOINT_POLICY = {
  Version: '2008-10-17',
  Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }],
};

function hex(address: string, n: number): string {
  return createHash('sha256').update(address).digest('hex').slice(0, n);
}

function uuid(address: string): string {
  const h = hex(address, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface World {
  region: string;
}

type Attrs = (block: TfBlock, arg: (name: string) => Promise<Value>, world: World) => Promise<Record<string, Value>>;

const P = FAKE.partition;
const A = FAKE.account_id;

/** Attributes the provider computes, per resource type (what the module and examples read). */
export const COMPUTED: Record<string, Attrs> = {
  aws_iam_role: async (_b, arg) => {
    const name = String(await arg('name'));
    const path = (await arg('path')) ?? '/';
    return { name, id: name, arn: `arn:${P}:iam::${A}:role${String(path)}${name}` };
  },
  aws_s3_bucket: async (_b, arg) => {
    const bucket = String(await arg('bucket'));
    return { bucket, id: bucket, arn: `arn:${P}:s3:::${bucket}` };
  },
  aws_kms_key: async (b, _arg, w) => ({
    id: uuid(b.address),
    key_id: uuid(b.address),
    arn: `arn:${P}:kms:${w.region}:${A}:key/${uuid(b.address)}`,
  }),
  aws_cloudwatch_log_group: async (_b, arg, w) => ({ arn: `arn:${P}:logs:${w.region}:${A}:log-group:${String(await arg('name'))}` }),
  aws_lambda_function: async (_b, arg, w) => ({ arn: `arn:${P}:lambda:${w.region}:${A}:function:${String(await arg('function_name'))}` }),
  aws_security_group: async (b, _arg, w) => ({
    id: `sg-${hex(b.address, 17)}`,
    arn: `arn:${P}:ec2:${w.region}:${A}:security-group/sg-${hex(b.address, 17)}`,
  }),
  aws_sns_topic: async (_b, arg, w) => ({ arn: `arn:${P}:sns:${w.region}:${A}:${String(await arg('name'))}` }),
  aws_sqs_queue: async (_b, arg, w) => ({ arn: `arn:${P}:sqs:${w.region}:${A}:${String(await arg('name'))}` }),
  aws_subnet: async (b) => ({ id: `subnet-${hex(b.address, 17)}` }),
  aws_vpc: async (b) => ({ id: `vpc-${hex(b.address, 17)}` }),
  aws_route_table: async (b) => ({ id: `rtb-${hex(b.address, 17)}` }),
  aws_db_instance: async (b, arg, w) => ({
    address: `${String(await arg('identifier'))}.c0${hex(b.address, 10)}.${w.region}.rds.amazonaws.com`,
    port: 5432,
    resource_id: `db-${hex(b.address, 26)
      .toUpperCase()
      .replace(/[^A-Z0-9]/g, 'X')}`,
  }),
  aws_scheduler_schedule_group: async (_b, arg, w) => ({
    arn: `arn:${P}:scheduler:${w.region}:${A}:schedule-group/${String(await arg('name'))}`,
  }),
  random_id: async () => ({ hex: FAKE.random_hex }),
  // For runners of the engine other than the Lambda function (ECS).
  aws_ecs_cluster: async (_b, arg, w) => ({ arn: `arn:${P}:ecs:${w.region}:${A}:cluster/${String(await arg('name'))}` }),
  aws_ecs_task_definition: async (_b, arg, w) => ({
    arn: `arn:${P}:ecs:${w.region}:${A}:task-definition/${String(await arg('family'))}:1`,
    arn_without_revision: `arn:${P}:ecs:${w.region}:${A}:task-definition/${String(await arg('family'))}`,
  }),
  aws_ecr_repository: async (_b, arg, w) => {
    const name = String(await arg('name'));
    return {
      name,
      arn: `arn:${P}:ecr:${w.region}:${A}:repository/${name}`,
      repository_url: `${A}.dkr.ecr.${w.region}.amazonaws.com/${name}`,
    };
  },
  aws_cloudwatch_event_rule: async (_b, arg, w) => {
    const name = String(await arg('name'));
    return { name, id: name, arn: `arn:${P}:events:${w.region}:${A}:rule/${name}` };
  },
  aws_secretsmanager_secret: async (b, arg, w) => ({
    arn: `arn:${P}:secretsmanager:${w.region}:${A}:secret:${String((await arg('name')) ?? (await arg('name_prefix')) ?? 'secret')}-${hex(b.address, 6)}`,
  }),
};

export const DATA: Record<string, (world: World) => Record<string, Value>> = {
  aws_partition: () => ({ partition: P, dns_suffix: FAKE.dns_suffix, reverse_dns_prefix: FAKE.reverse_dns_prefix }),
  aws_caller_identity: () => ({ account_id: A }),
  aws_region: (w) => ({ id: w.region, name: w.region, region: w.region }),
  aws_availability_zones: (w) => ({ names: ['a', 'b', 'c'].map((z) => `${w.region}${z}`) }),
  aws_prefix_list: () => ({ id: FAKE.s3_prefix_list_id }),
};
