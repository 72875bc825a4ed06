// Evaluates authorization requests with @cloud-copilot/iam-simulate (an implementation of AWS's policy evaluation
// logic: explicit deny > allow in identity or resource policy, KMS key policies required, VPC endpoint policies,
// condition operators with IfExists/Null semantics). Tests only: the package is AGPL-3.0 and never ships (a test
// checks the function zip and bundle).
import { getDenialReasons, getGrantReasons, runSimulation, type RequestAnalysis } from '@cloud-copilot/iam-simulate';
import type { RecordedRequest } from '../aws-recorder.ts';
import { authorizationsFor, type Aliases, type AuthzRequest, type Deployment, type ObjectState } from './actions.ts';
import { toApiCall, type ApiCall } from './operations.ts';
import type { Principal, RenderedPolicies } from './policies.ts';

export type Verdict = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied';

export type Evaluation = {
  readonly request: AuthzRequest;
  readonly verdict: Verdict;
  /** Context keys the evaluator dropped as not applicable to the action (a sign of a wrong table entry). */
  readonly ignoredContextKeys: readonly string[];
  /** The statements that decided: `identity backup-writer-s3-kms#WriteBackupObjects`, `resource#DenyOverwrites`, `implicit: identity`. */
  readonly reasons: readonly string[];
};

function reasonsOf(analysis: RequestAnalysis, verdict: Verdict): string[] {
  const name = (type: string, policy: string | undefined, sid: string | undefined, index: number): string =>
    `${type}${policy ? ` ${policy}` : ''}#${sid ?? `statement ${index}`}`;
  if (verdict === 'Allowed') {
    return getGrantReasons(analysis).map((g) =>
      name(g.policyType, 'policyIdentifier' in g ? g.policyIdentifier : undefined, g.statementId, g.statementIndex),
    );
  }
  return getDenialReasons(analysis).map((d) =>
    d.denialType === 'Explicit'
      ? name(d.policyType, d.policyIdentifier, d.statementId, d.statementIndex)
      : `implicit: no Allow in ${d.policyType}${d.identifier ? ` ${d.identifier}` : ''}`,
  );
}

/** The ARN a role's session makes requests as (what S3 and KMS see), from the role ARN. */
export function sessionArn(roleArn: string, session = 'backup'): string {
  const m = /^arn:([^:]+):iam::(\d+):role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
  return m ? `arn:${m[1]}:sts::${m[2]}:assumed-role/${m[3]}/${session}` : roleArn;
}

export async function evaluate(request: AuthzRequest, principal: Principal, policies: RenderedPolicies): Promise<Evaluation> {
  const resourcePolicy =
    request.resourcePolicy === 'bucket' ? policies.bucket : request.resourcePolicy === 'key' ? policies.key : undefined;
  const result = await runSimulation(
    {
      request: {
        principal: sessionArn(principal.arn),
        action: request.action,
        resource: { resource: request.resource, accountId: policies.deployment.account },
        contextVariables: { 'aws:PrincipalArn': principal.arn, 'aws:PrincipalType': 'AssumedRole', ...request.context },
      },
      identityPolicies: principal.identity.map((p) => ({ name: p.name, policy: p.policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy ? { resourcePolicy } : {}),
      ...(request.viaS3Endpoint && policies.vpce ? { vpcEndpointPolicies: [{ name: 'vpce', policy: policies.vpce }] } : {}),
    },
    { simulationMode: 'Strict' },
  );
  if (result.resultType === 'error')
    throw new Error(`iam-simulate rejected the simulation of ${request.action} on ${request.resource}: ${JSON.stringify(result.errors)}`);
  const results = result.resultType === 'single' ? [result.result] : result.results;
  const verdict = result.overallResult as Verdict;
  return {
    request,
    verdict,
    ignoredContextKeys: results.flatMap((r) => r.ignoredContextKeys ?? []),
    reasons: results.flatMap((r) => reasonsOf(r.analysis, verdict)),
  };
}

/**
 * What S3 knows about each key while a recorded sequence runs: an object exists (with its tags) once a
 * PutObject or CompleteMultipartUpload succeeded; tags change with PutObjectTagging. Drives ExistingObjectTag.
 */
export class BucketModel {
  readonly #objects = new Map<string, ObjectState>();
  readonly #pendingTags = new Map<string, Readonly<Record<string, string>>>();

  before(call: ApiCall): ObjectState | null {
    return call.service === 's3' ? (this.#objects.get(`${call.bucket}/${call.key}`) ?? null) : null;
  }

  after(call: ApiCall): void {
    if (call.service !== 's3' || call.status < 200 || call.status >= 300) return;
    const id = `${call.bucket}/${call.key}`;
    if (call.operation === 'PutObject' || call.operation === 'CopyObject') this.#objects.set(id, { tags: call.requestTags });
    else if (call.operation === 'CreateMultipartUpload') this.#pendingTags.set(id, call.requestTags);
    else if (call.operation === 'CompleteMultipartUpload') this.#objects.set(id, { tags: this.#pendingTags.get(id) ?? {} });
    else if (call.operation === 'PutObjectTagging') this.#objects.set(id, { tags: call.requestTags });
  }
}

export type CallAuthorization = { readonly call: ApiCall; readonly evaluations: readonly Evaluation[] };

/** Every recorded request (plus `extraCalls`, e.g. an rds-db connect) mapped and evaluated for `principal`. */
export async function authorizeRecording(
  records: readonly RecordedRequest[],
  principal: Principal,
  policies: RenderedPolicies,
  options: { readonly aliases?: Aliases; readonly deployment?: Deployment; readonly extraCalls?: readonly ApiCall[] } = {},
): Promise<CallAuthorization[]> {
  const model = new BucketModel();
  const out: CallAuthorization[] = [];
  const calls = [...records.map(toApiCall), ...(options.extraCalls ?? [])];
  for (const call of calls) {
    const requests = authorizationsFor(call, {
      deployment: options.deployment ?? policies.deployment,
      ...(options.aliases ? { aliases: options.aliases } : {}),
      existing: model.before(call),
    });
    const evaluations: Evaluation[] = [];
    for (const r of requests) evaluations.push(await evaluate(r, principal, policies));
    out.push({ call, evaluations });
    model.after(call);
  }
  return out;
}

/** One line per evaluation, for assertion messages and the docs. */
export function formatEvaluations(rows: readonly CallAuthorization[]): string {
  return rows
    .flatMap((r) =>
      r.evaluations.map(
        (e) => `${e.verdict.padEnd(16)} ${e.request.action} ${e.request.resource}   <- ${e.request.call}   [${e.reasons.join('; ')}]`,
      ),
    )
    .join('\n');
}
