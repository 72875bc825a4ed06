import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionError } from '../../../src/core/errors.ts';
import { resolveInstance, type DescribeInstance } from '../../../src/runner/instance.ts';

const described =
  (instance: unknown): DescribeInstance =>
  async () =>
    instance;
const pgInstance = {
  Engine: 'postgres',
  DBInstanceStatus: 'available',
  IAMDatabaseAuthenticationEnabled: true,
  Endpoint: { Address: 'prod.abc123.eu-west-1.rds.amazonaws.com', Port: 5433 },
};

test('resolves host and port of one instance, with the ARN region winning', async () => {
  const calls: unknown[] = [];
  const describe: DescribeInstance = async (ref, o) => {
    calls.push({ ref, region: o.region });
    return pgInstance;
  };
  const ep = await resolveInstance(
    { id: 'arn:aws:rds:eu-west-1:123456789012:db:prod', region: 'eu-west-1' },
    { region: 'us-east-1', authMode: 'iam', describe },
  );
  assert.equal(ep.host, 'prod.abc123.eu-west-1.rds.amazonaws.com');
  assert.equal(ep.port, 5433);
  assert.deepEqual(calls, [{ ref: { id: 'arn:aws:rds:eu-west-1:123456789012:db:prod', region: 'eu-west-1' }, region: 'eu-west-1' }]);
});

test('clear failures: not found, no endpoint, not PostgreSQL, IAM auth disabled, API error', async () => {
  const ref = { id: 'prod', region: null };
  const o = { region: 'eu-west-1', authMode: 'iam' };
  await assert.rejects(resolveInstance(ref, { ...o, describe: described(undefined) }), /was not found/);
  await assert.rejects(
    resolveInstance(ref, { ...o, describe: described({ ...pgInstance, Endpoint: undefined, DBInstanceStatus: 'stopped' }) }),
    /no endpoint \(status: stopped\)/,
  );
  await assert.rejects(
    resolveInstance(ref, { ...o, describe: described({ ...pgInstance, Engine: 'mysql' }) }),
    /runs mysql, not PostgreSQL/,
  );
  await assert.rejects(
    resolveInstance(ref, { ...o, describe: described({ ...pgInstance, IAMDatabaseAuthenticationEnabled: false }) }),
    /IAM database authentication is not enabled/,
  );
  assert.ok(
    await resolveInstance(ref, {
      ...o,
      authMode: 'secret',
      describe: described({ ...pgInstance, IAMDatabaseAuthenticationEnabled: false }),
    }),
  );
  const denied: DescribeInstance = async () => {
    throw Object.assign(new Error('User is not authorized to perform: rds:DescribeDBInstances'), { name: 'AccessDenied' });
  };
  await assert.rejects(resolveInstance(ref, { ...o, describe: denied }), (err: unknown) => {
    assert.ok(err instanceof ConnectionError);
    assert.match(err.message, /describing RDS instance prod failed: User is not authorized/);
    assert.match(err.hint ?? '', /rds:DescribeDBInstances/);
    return true;
  });
});
