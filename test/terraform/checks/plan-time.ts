// Plan-time semantics: Terraform must know every count and for_each at plan
// ("Invalid count argument" otherwise). A value is known at plan when it comes
// from literals, root-module variables, or data sources whose arguments are known;
// it is unknown when it comes from an attribute a resource gets on apply (an ARN,
// an id), also through a module variable. `length()` of a list is known when the
// list's length is, whatever its elements.
//
// The check follows count/for_each expressions of the module through its locals
// to its variables, then follows those variables into each example's module call.
import { getExpressionAst } from '@cdktn/hcl2json';
import type { TFExpressionSyntaxTree } from '@cdktn/hcl2json';
import { isBody, pureExpression } from './load.ts';
import type { Finding, HclValue, TfBlock, TfModule } from './load.ts';

type Ast = TFExpressionSyntaxTree.ExpressionType;

/** How a value is used: its value must be known, or only its length. */
type Need = 'value' | 'length';

/**
 * Module variables whose values the examples and the seed always write as literals,
 * so iterating over them is safe. Each needs a reason (README "Plan-time rules").
 */
export const STATIC_LIST_VARIABLES: Readonly<Record<string, string>> = {
  alarm_email_addresses: 'email addresses are typed by people, never produced by resources',
};

interface Use {
  variable: string;
  need: Need;
  where: string;
}

interface Ctx {
  mod: TfModule;
  where: string;
  emit: (message: string) => void;
  uses: Use[];
  seenLocals: Set<string>;
}

async function astOf(text: string): Promise<Ast> {
  return (await getExpressionAst('plan-time.tf', text)) as Ast;
}

function traversalOf(node: Ast): string[] | undefined {
  if (node.type !== 'scopeTraversal') return undefined;
  return ((node.meta as { traversal: { segment: string }[] }).traversal ?? []).map((t) => t.segment);
}

function variableType(mod: TfModule, name: string): string {
  const v = mod.variables.get(`var.${name}`);
  const t = v?.body['type'];
  return String(pureExpression(t) ?? t ?? 'any');
}

/** A string variable restricted by contains([...], var.x) is an enum: its value is a literal. */
function isEnum(mod: TfModule, name: string): boolean {
  const v = mod.variables.get(`var.${name}`);
  const validations = Array.isArray(v?.body['validation']) ? (v!.body['validation'] as HclValue[]) : [];
  return validations.some((x) => isBody(x) && new RegExp(`contains\\(\\[[^\\]]*\\],.*var\\.${name}\\b`).test(String(x['condition'])));
}

async function walk(node: Ast, need: Need, ctx: Ctx): Promise<void> {
  const kids = node.children ?? [];
  switch (node.type) {
    case 'scopeTraversal': {
      const segs = traversalOf(node)!;
      const [root, name] = segs;
      if (root === 'var') {
        const type = variableType(ctx.mod, name!);
        if (need === 'value' && !/^(bool|number)$/.test(type) && !isEnum(ctx.mod, name!) && !(name! in STATIC_LIST_VARIABLES)) {
          ctx.emit(
            `${ctx.where}: uses the value of var.${name} (${type}), which a caller may set from a resource attribute unknown at plan; use a bool, a number or length()`,
          );
        }
        ctx.uses.push({ variable: name!, need, where: ctx.where });
        return;
      }
      if (root === 'local') {
        const key = `${name}:${need}`;
        if (ctx.seenLocals.has(key)) return;
        ctx.seenLocals.add(key);
        const l = ctx.mod.locals.get(name!);
        if (l) await walkValue(l.value, need, { ...ctx, where: `${ctx.where} -> local.${name}` });
        return;
      }
      if (root === 'data' || root === 'count' || root === 'each' || root === 'path' || root === 'terraform') return;
      // A resource attribute: known only after apply (ids, ARNs), unless only a counted
      // resource's number of instances is used (length of a splat).
      if (need === 'length' && segs.length === 2) return;
      ctx.emit(`${ctx.where}: depends on ${segs.join('.')}, which is known only after apply`);
      return;
    }
    case 'splat': {
      // aws_x.y[*].attr: as many elements as instances; the instance count is known when its count is.
      if (need === 'length') return;
      for (const k of kids) await walk(k, need, ctx);
      return;
    }
    case 'function': {
      const name = (node.meta as { name: string }).name;
      const inner: Need = name === 'length' ? 'length' : need;
      for (const k of kids) await walk(k, inner, ctx);
      return;
    }
    case 'tuple':
      // A list literal has a known length whatever its elements.
      if (need === 'length') return;
      for (const k of kids) await walk(k, need, ctx);
      return;
    case 'binaryOp': {
      const op = (node.meta as { operator: string }).operator;
      const [a, b] = kids;
      const isNull = (n: Ast | undefined) => n?.type === 'literalValue' && (n.meta as { value: string }).value === 'null';
      if ((op === 'equal' || op === 'notEqual') && (isNull(a) || isNull(b))) {
        const other = isNull(a) ? b! : a!;
        const t = traversalOf(other);
        // A list or map variable given as a literal is known to be non-null; a string may be an unknown ARN.
        if (t && t[0] === 'var' && /^(list|map|set|object)/.test(variableType(ctx.mod, t[1]!))) {
          ctx.uses.push({ variable: t[1]!, need: 'length', where: ctx.where });
          return;
        }
        // An enum (validated against a literal list) is set as a literal.
        if (t && t[0] === 'var' && isEnum(ctx.mod, t[1]!)) {
          ctx.uses.push({ variable: t[1]!, need: 'value', where: ctx.where });
          return;
        }
        ctx.emit(
          `${ctx.where}: compares ${String((other.meta as { value?: string }).value ?? 'a value')} with null; a value set from a resource attribute is unknown at plan, so is the comparison: use a bool variable`,
        );
        return;
      }
      for (const k of kids) await walk(k, 'value', ctx);
      return;
    }
    case 'for': {
      const meta = node.meta as { collectionExpression: string; conditionalExpression?: string };
      await walk(await astOf(meta.collectionExpression), meta.conditionalExpression ? 'value' : need, ctx);
      return;
    }
    default:
      for (const k of kids) await walk(k, need, ctx);
  }
}

async function walkValue(v: HclValue | undefined, need: Need, ctx: Ctx): Promise<void> {
  if (typeof v === 'string') {
    if (!v.includes('${')) return;
    const pure = pureExpression(v);
    await walk(await astOf(pure ?? JSON.stringify(v)), pure ? need : 'value', ctx);
  } else if (Array.isArray(v)) {
    if (need === 'length') return;
    for (const x of v) await walkValue(x, need, ctx);
  } else if (isBody(v)) {
    for (const x of Object.values(v)) await walkValue(x, need, ctx);
  }
}

function countedBlocks(mod: TfModule): TfBlock[] {
  return [...mod.resources.values(), ...mod.dataSources.values(), ...mod.modules.values()].filter(
    (b) => 'count' in b.body || 'for_each' in b.body,
  );
}

/** count/for_each of the module, followed to its variables. */
export async function checkPlanTime(mod: TfModule): Promise<{ findings: Finding[]; uses: Use[] }> {
  const findings: Finding[] = [];
  const uses: Use[] = [];
  for (const b of countedBlocks(mod)) {
    for (const meta of ['count', 'for_each'] as const) {
      if (!(meta in b.body)) continue;
      const where = `${b.address}.${meta}`;
      const ctx: Ctx = {
        mod,
        where,
        uses,
        seenLocals: new Set(),
        emit: (message) => findings.push({ check: 'plan-time', file: b.file, address: b.address, message }),
      };
      // count needs the number; for_each needs the keys (values of a set or map keys).
      await walkValue(b.body[meta], 'value', ctx);
    }
  }
  return { findings, uses };
}

/**
 * The example side: each module variable that a count/for_each uses must be given a
 * plan-known value (or a list of known length) in the example's module call.
 */
export async function checkCallerPlanTime(child: TfModule, caller: TfModule): Promise<Finding[]> {
  const { uses } = await checkPlanTime(child);
  const findings: Finding[] = [];
  for (const call of caller.modules.values()) {
    const seen = new Set<string>();
    for (const u of uses) {
      const key = `${u.variable}:${u.need}`;
      if (seen.has(key) || !(u.variable in call.body)) continue;
      seen.add(key);
      const ctx: Ctx = {
        mod: caller,
        where: `${call.address}.${u.variable} (used by ${u.where})`,
        uses: [],
        seenLocals: new Set(),
        emit: (message) => findings.push({ check: 'plan-time', file: call.file, address: call.address, message }),
      };
      await walkRootValue(call.body[u.variable], u.need, ctx);
    }
  }
  return findings;
}

/**
 * A module-level depends_on defers every data source of the module to apply, so
 * each policy that reads them is unknown at plan; the examples must not need one.
 */
export function checkNoModuleDependsOn(caller: TfModule): Finding[] {
  return [...caller.modules.values()]
    .filter((m) => 'depends_on' in m.body)
    .map((m) => ({
      check: 'plan-time',
      file: m.file,
      address: m.address,
      message: `${m.address} has depends_on: every data source in the module is then read at apply and the policies that use them are unknown at plan; pass the values instead (discover_db_instance = false)`,
    }));
}

/** In a root module every variable is known at plan; resources' computed attributes are not. */
async function walkRootValue(v: HclValue | undefined, need: Need, ctx: Ctx): Promise<void> {
  const rootCtx: Ctx = {
    ...ctx,
    mod: { ...ctx.mod, variables: new Map([...ctx.mod.variables].map(([k, b]) => [k, { ...b, body: { ...b.body, type: 'bool' } }])) },
  };
  await walkValue(v, need, rootCtx);
}
