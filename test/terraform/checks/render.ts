// Renders the policies the module creates, from the module's own source, for the
// complete example's inputs: every variable comes from examples/complete's
// module call (evaluated in the example), every local and policy document is
// evaluated by checks/evaluate.ts, templates are rendered as templatefile()
// renders them. Values only AWS knows after apply (ARNs with generated ids,
// the bucket's random suffix, the account) come from render-models.ts and are listed
// in terraform/rendered/context.json.
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { bind, evaluate, evaluateHcl, EvaluationError, isObjectValue } from './evaluate.ts';
import type { Scope, Value } from './evaluate.ts';
import { renderTemplate } from './iam.ts';
import { AWS_DEFAULT_ENDPOINT_POLICY, COMPUTED, DATA, FAKE } from './render-models.ts';
import type { World } from './render-models.ts';
import { isBody, loadModule, pureExpression } from './load.ts';
import type { HclBody, HclValue, TfBlock, TfModule } from './load.ts';

/**
 * What `npm run terraform:policies` writes to terraform/rendered/. Register a new
 * policy with one line: `role` renders every inline policy attached to that role
 * (aws_iam_role_policy with role = <role>.id or .name) as one document;
 * `expression` renders any expression of the module that yields policy JSON.
 */
export const RENDERED_POLICIES: readonly RenderedPolicy[] = [
  { file: 'writer-identity.json', role: 'aws_iam_role.lambda' },
  { file: 'scheduler-identity.json', role: 'aws_iam_role.scheduler' },
  { file: 'restore-role-identity.json', role: 'aws_iam_role.restore' },
  { file: 'reader-identity.json', expression: 'data.aws_iam_policy_document.reader.json' },
  { file: 'verify-writer-identity.json', expression: 'data.aws_iam_policy_document.verify_writer.json' },
  { file: 'bucket-policy.json', expression: 'aws_s3_bucket_policy.this.policy' },
  { file: 'key-policy.json', expression: 'aws_kms_key.this[0].policy' },
  { file: 'alarms-topic-policy.json', expression: 'aws_sns_topic_policy.alarms[0].policy' },
  // The module sets no endpoint policy, so AWS applies its default (full access).
  { file: 'vpce-policy.json', expression: 'try(aws_vpc_endpoint.s3[0].policy, null)', whenNull: 'aws-default-endpoint-policy' },
  // runner = "ecs" with restore drills (the complete example with SCENARIOS.ecs): the task, drill, execution and
  // scheduler roles, and the resource policies that change with them (writer and operator roles).
  { file: 'ecs-task-identity.json', role: 'aws_iam_role.ecs_task', scenario: 'ecs' },
  { file: 'ecs-verify-drill-identity.json', role: 'aws_iam_role.verify_task', scenario: 'ecs' },
  { file: 'ecs-execution-identity.json', role: 'aws_iam_role.ecs_execution', scenario: 'ecs' },
  { file: 'ecs-scheduler-identity.json', role: 'aws_iam_role.ecs_scheduler', scenario: 'ecs' },
  { file: 'ecs-bucket-policy.json', expression: 'aws_s3_bucket_policy.this.policy', scenario: 'ecs' },
  { file: 'ecs-key-policy.json', expression: 'aws_kms_key.this[0].policy', scenario: 'ecs' },
  { file: 'ecs-alarms-topic-policy.json', expression: 'aws_sns_topic_policy.alarms[0].policy', scenario: 'ecs' },
];

/** Variables of examples/complete that switch it to another shape of the module (by name, for RENDERED_POLICIES). */
export const SCENARIOS: Readonly<Record<string, Record<string, Value>>> = {
  ecs: { runner: 'ecs', verify_enabled: true, container_image_tag: 'backup-v1', verify_container_image_tag: 'verify-v1' },
};

export type RenderedPolicy = (
  | { file: string; role: string; expression?: never; whenNull?: never }
  | { file: string; expression: string; role?: never; whenNull?: 'aws-default-endpoint-policy' }
) & { scenario?: keyof typeof SCENARIOS };

/** optional(T, default) attributes of an object type, applied to a given object value. */
function applyOptionalDefaults(type: HclValue | undefined, v: Value): Value {
  if (!isObjectValue(v) || typeof type !== 'string') return v;
  const out = { ...v };
  for (const m of type.matchAll(/(\w+)\s*=\s*optional\(\s*\w+\s*(?:,\s*([^)]+))?\)/g)) {
    if (out[m[1]!] === undefined || out[m[1]!] === null) out[m[1]!] = m[2] === undefined ? null : (JSON.parse(m[2].trim()) as Value);
  }
  return out;
}

function blockLists(v: HclValue | undefined): HclBody[] {
  return Array.isArray(v) ? v.filter((x): x is HclBody => isBody(x)) : [];
}

/** One HCL module (root or child) evaluated lazily; `inputs` are the child's variable values. */
class ModuleScope {
  readonly #mod: TfModule;
  readonly #world: World;
  readonly #inputs: (name: string) => Promise<Value | undefined>;
  readonly #cache = new Map<string, Promise<Value>>();

  constructor(mod: TfModule, world: World, inputs: (name: string) => Promise<Value | undefined>) {
    this.#mod = mod;
    this.#world = world;
    this.#inputs = inputs;
  }

  scope(extra: Record<string, Value> = {}): Scope {
    const base: Scope = {
      moduleDir: this.#mod.dir,
      lookup: (segs) => this.#lookup(segs),
      templatefile: (path, vars) => {
        const text = readFileSync(isAbsolute(path) ? path : join(this.#mod.dir, path), 'utf8');
        return renderTemplate(
          text,
          Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])),
        );
      },
    };
    return Object.keys(extra).length > 0 ? bind(base, extra) : base;
  }

  #memo(key: string, f: () => Promise<Value>): Promise<Value> {
    let p = this.#cache.get(key);
    if (!p) {
      p = f();
      this.#cache.set(key, p);
    }
    return p;
  }

  async variable(name: string): Promise<Value> {
    return this.#memo(`var.${name}`, async () => {
      const v = this.#mod.variables.get(`var.${name}`);
      if (!v) throw new EvaluationError(`undeclared variable ${name}`);
      const given = await this.#inputs(name);
      const nullable = v.body['nullable'] !== false;
      const value = given === undefined || (given === null && !nullable) ? await evaluateHcl(v.body['default'], this.scope()) : given;
      return applyOptionalDefaults(pureExpression(v.body['type']) ?? v.body['type'], value);
    });
  }

  async #lookup(segs: readonly string[]): Promise<{ value: Value; used: number } | undefined> {
    const [root, a, b, c] = segs;
    if (root === 'var') return { value: await this.variable(a!), used: 2 };
    if (root === 'local') {
      const l = this.#mod.locals.get(a!);
      if (!l) throw new EvaluationError(`undeclared local ${a}`);
      return { value: await this.#memo(`local.${a}`, () => evaluateHcl(l.value, this.scope())), used: 2 };
    }
    if (root === 'path') return { value: this.#mod.dir, used: 2 };
    if (root === 'data') {
      const block = this.#mod.dataSources.get(`data.${a}.${b}`);
      if (!block) throw new EvaluationError(`undeclared data.${a}.${b}`);
      return this.#instanceLookup(block, segs.slice(3), c, 3);
    }
    const block = this.#mod.resources.get(`${root}.${a}`);
    if (!block) return undefined;
    return this.#instanceLookup(block, segs.slice(2), b, 2);
  }

  async #count(block: TfBlock): Promise<number | undefined> {
    if (!('count' in block.body)) return undefined;
    const n = await this.#memo(`count:${block.address}`, () => evaluateHcl(block.body['count'], this.scope()));
    return Number(n);
  }

  async #instanceLookup(
    block: TfBlock,
    rest: readonly string[],
    next: string | undefined,
    used: number,
  ): Promise<{ value: Value; used: number }> {
    const count = await this.#count(block);
    if (count === undefined) return { value: await this.#attribute(block, 0, rest[0]), used: used + (rest[0] === undefined ? 0 : 1) };
    if (next !== undefined && /^\d+$/.test(next)) {
      const i = Number(next);
      if (i >= count) throw new EvaluationError(`${block.address}[${i}] does not exist (count = ${count})`);
      return { value: await this.#attribute(block, i, rest[1]), used: used + (rest[1] === undefined ? 1 : 2) };
    }
    // Whole collection (splat): the computed attributes of each instance.
    const all: Value[] = [];
    for (let i = 0; i < count; i++) all.push(await this.#computed(block, i));
    return { value: all, used };
  }

  async #computed(block: TfBlock, i: number): Promise<Record<string, Value>> {
    const arg = (name: string) => this.#argument(block, i, name);
    if (block.kind === 'data') {
      if (block.type === 'aws_iam_policy_document') return { json: await this.#document(block, i) };
      const d = DATA[block.type!];
      if (!d) throw new EvaluationError(`data source ${block.type} has no rendering model`);
      return d(this.#world);
    }
    const c = COMPUTED[block.type!];
    if (!c) throw new EvaluationError(`resource ${block.type} has no model of its computed attributes`);
    // Counted instances get their own ids (hashed from address and index).
    const instance = 'count' in block.body ? { ...block, address: `${block.address}[${i}]` } : block;
    return this.#memo(`computed:${block.address}[${i}]`, () => c(instance, arg, this.#world)) as Promise<Record<string, Value>>;
  }

  #argument(block: TfBlock, i: number, name: string): Promise<Value> {
    return this.#memo(`${block.address}[${i}].${name}`, () =>
      evaluateHcl(block.body[name], this.scope('count' in block.body ? { count: { index: i } } : {})),
    );
  }

  async #attribute(block: TfBlock, i: number, attr: string | undefined): Promise<Value> {
    if (attr === undefined) return this.#computed(block, i);
    if (block.kind === 'resource' && attr in block.body && !isBody(block.body[attr]) && !Array.isArray(block.body[attr]))
      return this.#argument(block, i, attr);
    const computed = await this.#computed(block, i);
    if (attr in computed) return computed[attr]!;
    if (attr in block.body) return this.#argument(block, i, attr);
    throw new EvaluationError(`${block.address}.${attr} has no rendering model`);
  }

  /** aws_iam_policy_document as the provider writes it (static statements, then dynamic ones, as in this module). */
  async #document(block: TfBlock, i: number): Promise<string> {
    const scope = this.scope('count' in block.body ? { count: { index: i } } : {});
    const statements: Value[] = [];
    for (const s of blockLists(block.body['statement'])) statements.push(await statementJson(s, scope));
    const dyn = block.body['dynamic'];
    for (const def of isBody(dyn) ? blockLists(dyn['statement']) : []) {
      const items = await evaluateHcl(def['for_each'], scope);
      const entries: [Value, Value][] = Array.isArray(items)
        ? items.map((v, k) => [k, v])
        : isObjectValue(items)
          ? Object.entries(items)
          : [];
      const iterator = typeof def['iterator'] === 'string' ? def['iterator'] : 'statement';
      for (const [key, value] of entries) {
        for (const content of blockLists(def['content']))
          statements.push(await statementJson(content, bind(scope, { [iterator]: { key, value } })));
      }
    }
    if ('source_policy_documents' in block.body || 'override_policy_documents' in block.body)
      throw new EvaluationError(`${block.address}: source/override documents are not rendered`);
    return JSON.stringify({ Version: '2012-10-17', Statement: statements });
  }

  /** Statements of every inline policy attached to a role, in file order. */
  async rolePolicy(roleAddress: string): Promise<string | null> {
    const statements: Value[] = [];
    let found = false;
    for (const r of this.#mod.resources.values()) {
      if (r.type !== 'aws_iam_role_policy') continue;
      const role = String(r.body['role'] ?? '');
      if (!new RegExp(`^\\$\\{${roleAddress.replace(/\./g, '\\.')}(\\[0\\])?\\.(id|name)\\}$`).test(role)) continue;
      const count = (await this.#count(r)) ?? 1;
      for (let i = 0; i < count; i++) {
        found = true;
        const doc = JSON.parse(String(await this.#argument(r, i, 'policy'))) as { Statement: Value[] };
        statements.push(...doc.Statement);
      }
    }
    return found ? JSON.stringify({ Version: '2012-10-17', Statement: statements }) : null;
  }
}

function scalarOrList(v: Value[]): Value {
  return v.length === 1 ? v[0]! : v;
}

async function strings(v: HclValue | undefined, scope: Scope): Promise<Value[]> {
  const x = await evaluateHcl(v, scope);
  if (x === null) return [];
  return Array.isArray(x) ? x : [x];
}

async function principalsJson(blocks: HclBody[], scope: Scope): Promise<Value | undefined> {
  if (blocks.length === 0) return undefined;
  const byType: Record<string, Value[]> = {};
  for (const p of blocks) {
    const type = String(await evaluateHcl(p['type'], scope));
    byType[type] = [...(byType[type] ?? []), ...(await strings(p['identifiers'], scope))];
  }
  if (byType['*']) return '*';
  return Object.fromEntries(Object.entries(byType).map(([t, ids]) => [t, scalarOrList(ids)]));
}

async function statementJson(s: HclBody, scope: Scope): Promise<Value> {
  const out: Record<string, Value> = {};
  if (s['sid'] !== undefined) out['Sid'] = await evaluateHcl(s['sid'], scope);
  out['Effect'] = s['effect'] !== undefined ? await evaluateHcl(s['effect'], scope) : 'Allow';
  for (const [key, json] of [
    ['actions', 'Action'],
    ['not_actions', 'NotAction'],
    ['resources', 'Resource'],
    ['not_resources', 'NotResource'],
  ] as const) {
    if (s[key] !== undefined) out[json] = scalarOrList(await strings(s[key], scope));
  }
  const principal = await principalsJson(blockLists(s['principals']), scope);
  if (principal !== undefined) out['Principal'] = principal;
  const notPrincipal = await principalsJson(blockLists(s['not_principals']), scope);
  if (notPrincipal !== undefined) out['NotPrincipal'] = notPrincipal;
  const conditions = blockLists(s['condition']);
  if (conditions.length > 0) {
    const cond: Record<string, Record<string, Value>> = {};
    for (const c of conditions) {
      const test = String(await evaluateHcl(c['test'], scope));
      const variable = String(await evaluateHcl(c['variable'], scope));
      cond[test] = { ...(cond[test] ?? {}), [variable]: scalarOrList(await strings(c['values'], scope)) };
    }
    out['Condition'] = cond;
  }
  return out;
}

export interface RenderInputs {
  moduleDir: string;
  /** The example whose `module` call gives the inputs. */
  exampleDir: string;
  /** Overrides of the example's own variables (e.g. auth_mode). */
  exampleVariables?: Record<string, Value>;
}

/** Scopes for the example (root) and the module it calls. */
export async function moduleScopeFor(inputs: RenderInputs): Promise<{ module: ModuleScope; example: ModuleScope }> {
  const [mod, ex] = await Promise.all([loadModule(inputs.moduleDir), loadModule(inputs.exampleDir)]);
  const providerRegion = (() => {
    const p = ex.blocks.find((b) => b.kind === 'provider' && b.name === 'aws');
    return p?.body['region'];
  })();
  const world: World = { region: 'eu-west-1' };
  const example = new ModuleScope(ex, world, async (name) => inputs.exampleVariables?.[name]);
  if (providerRegion !== undefined) world.region = String(await evaluateHcl(providerRegion, example.scope()));
  const call = [...ex.modules.values()][0];
  if (!call) throw new EvaluationError(`${inputs.exampleDir} has no module call`);
  const module = new ModuleScope(mod, world, async (name) =>
    name in call.body ? evaluateHcl(call.body[name], example.scope()) : undefined,
  );
  return { module, example };
}

function pretty(json: string): string {
  return `${JSON.stringify(JSON.parse(json) as unknown, null, 2)}\n`;
}

/** Every registered policy plus context.json, as file name -> text. */
export async function renderPolicies(
  inputs: RenderInputs,
  registry: readonly RenderedPolicy[] = RENDERED_POLICIES,
): Promise<Map<string, string>> {
  const { module } = await moduleScopeFor(inputs);
  const scope = module.scope();
  const scenarioScopes = new Map<string, ModuleScope>();
  const moduleFor = async (scenario: string | undefined): Promise<ModuleScope> => {
    if (scenario === undefined) return module;
    let m = scenarioScopes.get(scenario);
    if (!m) {
      m = (await moduleScopeFor({ ...inputs, exampleVariables: { ...inputs.exampleVariables, ...SCENARIOS[scenario] } })).module;
      scenarioScopes.set(scenario, m);
    }
    return m;
  };
  const files = new Map<string, string>();
  for (const entry of registry) {
    let json: string | null;
    const m = await moduleFor(entry.scenario);
    if (entry.role !== undefined) json = await m.rolePolicy(entry.role);
    else {
      const v = await evaluate(entry.expression, m.scope());
      json =
        v === null && entry.whenNull === 'aws-default-endpoint-policy' ? JSON.stringify(AWS_DEFAULT_ENDPOINT_POLICY) : (v as string | null);
    }
    if (json === null) throw new EvaluationError(`${entry.file}: the complete example does not create it`);
    files.set(entry.file, pretty(json));
  }
  const ctx = async (expr: string) => evaluate(expr, scope);
  const context = {
    note: "Inputs of the rendered policies: terraform/examples/complete's module call; values only AWS knows after apply are stand-ins (account, key id, bucket suffix).",
    account_id: FAKE.account_id,
    region: await ctx('local.region'),
    partition: await ctx('local.partition'),
    bucket_name: await ctx('aws_s3_bucket.this.bucket'),
    bucket_arn: await ctx('aws_s3_bucket.this.arn'),
    backup_prefix: await ctx('local.backup_prefix'),
    kms_key_arn: await ctx('local.kms_key_arn'),
    s3_service_endpoint: await ctx('local.s3_service_endpoint'),
    tier_tag: await ctx('local.tier_tag'),
    verify_record_suffix: await ctx('local.verify_record_suffix'),
    backup_writer_role_arns: await ctx('local.backup_writer_role_arns'),
    roles: {
      writer: await ctx('one(aws_iam_role.lambda[*].arn)'),
      scheduler: await ctx('one(aws_iam_role.scheduler[*].arn)'),
      restore: await ctx('one(aws_iam_role.restore[*].arn)'),
    },
    function_arn: await ctx('one(aws_lambda_function.this[*].arn)'),
    files: [...files.keys()],
  };
  files.set('context.json', `${JSON.stringify(context, null, 2)}\n`);
  return files;
}

/** Evaluates an expression of a module for the given variable values (others: their defaults). */
export async function evaluateInModule(
  moduleDir: string,
  inputs: Record<string, Value>,
  expression: string,
  region = 'eu-west-1',
): Promise<Value> {
  const mod = await loadModule(moduleDir);
  const scope = new ModuleScope(mod, { region }, async (name) => inputs[name]);
  return evaluate(expression, scope.scope());
}
