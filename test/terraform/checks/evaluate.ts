// A small evaluator for the HCL expression subset the module uses in its policies
// (and in what flows into them), over HashiCorp's own parser (getExpressionAst).
// It exists so `npm run terraform:policies` renders each policy from the module's
// own source with concrete inputs. Anything it does not implement throws: a
// policy is rendered exactly or not at all.
import { getExpressionAst } from '@cdktn/hcl2json';
import type { TFExpressionSyntaxTree } from '@cdktn/hcl2json';
import { isBody, pureExpression } from './load.ts';
import type { HclValue } from './load.ts';

type Ast = TFExpressionSyntaxTree.ExpressionType;

export type Value = string | number | boolean | null | Value[] | { [key: string]: Value };

export class EvaluationError extends Error {
  override name = 'EvaluationError';
}

/** Resolves the first segments of a traversal (var.x, local.x, aws_x.y, data.x.y, ...). */
export interface Scope {
  /** Returns the value of a root name with its remaining segments consumed, or undefined if unknown. */
  lookup(segments: readonly string[]): Promise<{ value: Value; used: number } | undefined>;
  /** path.module */
  moduleDir: string;
  /** templatefile(): reads and renders a template with the given string variables. */
  templatefile(path: string, vars: Record<string, Value>): string;
}

const astCache = new Map<string, Promise<Ast>>();

function ast(expr: string): Promise<Ast> {
  let p = astCache.get(expr);
  if (!p) {
    p = getExpressionAst('expr.tf', expr) as Promise<Ast>;
    astCache.set(expr, p);
  }
  return p;
}

function isObject(v: Value | undefined): v is { [key: string]: Value } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Quotes the literal parts of a template string as hcl2json returns it, so it parses as a template again. */
export function quoteTemplate(s: string): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    if ((s.startsWith('${', i) || s.startsWith('%{', i)) && s[i - 1] !== '$' && s[i - 1] !== '%') {
      let depth = 0;
      let quote = false;
      let j = i;
      for (; j < s.length; j++) {
        const c = s[j];
        if (quote) {
          if (c === '\\') j++;
          else if (c === '"') quote = false;
        } else if (c === '"') quote = true;
        else if (c === '{') depth++;
        else if (c === '}' && --depth === 0) break;
      }
      out += s.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const c = s[i]!;
    out += c === '"' ? '\\"' : c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c;
    i++;
  }
  return `"${out}"`;
}

/** Evaluates a value from the parsed HCL (literal, "${expr}", template, list, object). */
export async function evaluateHcl(v: HclValue | undefined, scope: Scope): Promise<Value> {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const pure = pureExpression(v);
    if (pure !== undefined) return evaluate(pure, scope);
    return v.includes('${') || v.includes('%{') ? evaluate(quoteTemplate(v), scope) : v;
  }
  if (Array.isArray(v)) return Promise.all(v.map((x) => evaluateHcl(x, scope)));
  const out: Record<string, Value> = {};
  for (const [k, x] of Object.entries(v)) out[k] = await evaluateHcl(x, scope);
  return out;
}

export async function evaluate(expr: string, scope: Scope): Promise<Value> {
  return evalNode(await ast(expr), scope);
}

function str(v: Value): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new EvaluationError(`cannot use ${JSON.stringify(v)} as a string`);
}

function num(v: Value): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || Number.isNaN(n)) throw new EvaluationError(`cannot use ${JSON.stringify(v)} as a number`);
  return n;
}

function list(v: Value): Value[] {
  if (Array.isArray(v)) return v;
  throw new EvaluationError(`expected a list, got ${JSON.stringify(v)}`);
}

function index(coll: Value, key: Value): Value {
  if (Array.isArray(coll)) {
    const i = num(key);
    if (i < 0 || i >= coll.length) throw new EvaluationError(`index ${i} out of range (length ${coll.length})`);
    return coll[i]!;
  }
  if (isObject(coll)) {
    const k = str(key);
    if (!(k in coll)) throw new EvaluationError(`no key ${JSON.stringify(k)}`);
    return coll[k]!;
  }
  throw new EvaluationError(`cannot index ${JSON.stringify(coll)}`);
}

function traverse(value: Value, segments: readonly { type: string; segment: string }[]): Value {
  let v = value;
  for (const s of segments)
    v = index(
      v,
      s.type === 'indexTraversal' ? (s.segment.startsWith('"') ? (JSON.parse(s.segment) as string) : Number(s.segment)) : s.segment,
    );
  return v;
}

function equal(a: Value, b: Value): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

const FUNCTIONS: Record<string, (args: Value[], scope: Scope) => Value> = {
  concat: (a) => a.flatMap((x) => list(x)),
  slice: ([l, s, e]) => list(l!).slice(num(s!), num(e!)),
  cidrsubnet: () => {
    throw new EvaluationError('cidrsubnet() is not modelled');
  },
  distinct: ([a]) => list(a!).filter((x, i, all) => all.findIndex((y) => equal(x, y)) === i),
  compact: ([a]) => list(a!).filter((x) => x !== null && x !== ''),
  flatten: ([a]) => list(a!).flat(Infinity as 1) as Value[],
  length: ([a]) => {
    if (typeof a === 'string') return [...a].length;
    if (Array.isArray(a)) return a.length;
    if (isObject(a!)) return Object.keys(a).length;
    throw new EvaluationError(`length() of ${JSON.stringify(a)}`);
  },
  lookup: ([m, k, d]) => (isObject(m!) && str(k!) in m ? m[str(k!)]! : d === undefined ? index(m!, k!) : d),
  merge: (a) => Object.assign({}, ...a.filter((x) => x !== null)) as Value,
  keys: ([m]) => Object.keys(m as object).sort(),
  values: ([m]) =>
    Object.keys(m as object)
      .sort()
      .map((k) => (m as Record<string, Value>)[k]!),
  contains: ([l, x]) => list(l!).some((y) => equal(y, x!)),
  one: ([l]) => {
    const a = list(l!);
    if (a.length > 1) throw new EvaluationError('one() of a list with more than one element');
    return a[0] ?? null;
  },
  coalesce: (a) => {
    const v = a.find((x) => x !== null && x !== '');
    if (v === undefined) throw new EvaluationError('coalesce(): no non-null argument');
    return v;
  },
  split: ([sep, s]) => str(s!).split(str(sep!)),
  join: ([sep, l]) => list(l!).map(str).join(str(sep!)),
  lower: ([s]) => str(s!).toLowerCase(),
  upper: ([s]) => str(s!).toUpperCase(),
  trimsuffix: ([s, x]) => (str(s!).endsWith(str(x!)) ? str(s!).slice(0, -str(x!).length) : str(s!)),
  substr: ([s, o, l]) => [...str(s!)].slice(num(o!), num(l!) < 0 ? undefined : num(o!) + num(l!)).join(''),
  replace: ([s, a, b]) => str(s!).split(str(a!)).join(str(b!)),
  tostring: ([v]) => (v === null ? null : str(v!)),
  tonumber: ([v]) => (v === null ? null : num(v!)),
  tolist: ([v]) => list(v!),
  toset: ([v]) => FUNCTIONS['distinct']!([v!], undefined as never),
  min: (a) => Math.min(...a.map(num)),
  max: (a) => Math.max(...a.map(num)),
  ceil: ([n]) => Math.ceil(num(n!)),
  floor: ([n]) => Math.floor(num(n!)),
  range: (a) => {
    const [start, end] = a.length === 1 ? [0, num(a[0]!)] : [num(a[0]!), num(a[1]!)];
    return Array.from({ length: Math.max(0, end - start) }, (_, i) => start + i);
  },
  alltrue: ([l]) => list(l!).every((x) => x === true),
  anytrue: ([l]) => list(l!).some((x) => x === true),
  jsonencode: ([v]) => JSON.stringify(sortKeys(v!)),
  // RE2 and JavaScript agree on the constructs the module uses (groups, classes, \\d, \\S).
  regex: ([re, s]) => {
    const m = new RegExp(str(re!)).exec(str(s!));
    if (!m) throw new EvaluationError(`regex(): no match for ${JSON.stringify(s)}`);
    if (m.groups) return Object.fromEntries(Object.entries(m.groups).map(([k, v]) => [k, v ?? null]));
    return m.length > 1 ? m.slice(1).map((x) => x ?? null) : m[0];
  },
  templatefile: ([p, vars], scope) => scope.templatefile(str(p!), (vars ?? {}) as Record<string, Value>),
};

/** Terraform's jsonencode() writes object keys in lexical order. */
function sortKeys(v: Value): Value {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (isObject(v))
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys(v[k]!)]),
    );
  return v;
}

function unescapeHcl(s: string): string {
  return s.replace(/\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)|\$\$\{|%%\{/g, (m, e: string | undefined) => {
    if (m === '$${') return '${';
    if (m === '%%{') return '%{';
    const c = e!;
    if (c === 'n') return '\n';
    if (c === 't') return '\t';
    if (c === 'r') return '\r';
    if (c[0] === 'u' || c[0] === 'U') return String.fromCodePoint(parseInt(c.slice(1), 16));
    return c;
  });
}

async function evalNode(node: Ast, scope: Scope): Promise<Value> {
  const meta = (node.meta ?? {}) as Record<string, unknown>;
  const kids = node.children ?? [];
  switch (node.type) {
    case 'literalValue': {
      const t = meta['type'];
      const v = String(meta['value']);
      if (t === 'number') return Number(v);
      if (t === 'bool') return v === 'true';
      if (t === 'dynamic' && v === 'null') return null;
      return v;
    }
    case 'template': {
      // Literal parts come back as written in the source: undo HCL's string escapes.
      const parts = await Promise.all(
        kids.map((k) => (k.type === 'literalValue' ? unescapeHcl(String((k.meta as { value: string }).value)) : evalNode(k, scope))),
      );
      return parts.length === 1 && kids[0]!.type !== 'literalValue' ? parts[0]! : parts.map((p) => (p === null ? '' : str(p))).join('');
    }
    case 'templateWrap':
      return evalNode(kids[0]!, scope);
    case 'tuple':
      return Promise.all(kids.map((k) => evalNode(k, scope)));
    case 'object': {
      // meta.items maps each key as written to its value's source text, in source order.
      const out: Record<string, Value> = {};
      for (const [k, text] of Object.entries((meta['items'] as Record<string, string>) ?? {})) {
        const key = /^\(.*\)$/s.test(k) ? str(await evaluate(k.slice(1, -1), scope)) : /^".*"$/s.test(k) ? (JSON.parse(k) as string) : k;
        out[key] = await evaluate(text, scope);
      }
      return out;
    }
    case 'scopeTraversal': {
      const traversal = meta['traversal'] as { type: string; segment: string }[];
      const segs = traversal.map((t) => t.segment);
      const found = await scope.lookup(segs);
      if (!found) throw new EvaluationError(`cannot resolve ${String(meta['fullAccessor'])}`);
      return traverse(found.value, traversal.slice(found.used));
    }
    case 'relativeTraversal':
      return traverse(await evalNode(kids[0]!, scope), meta['traversal'] as { type: string; segment: string }[]);
    case 'index':
      return index(await evalNode(kids[0]!, scope), await evalNode(kids[1]!, scope));
    case 'splat': {
      const source = await evalNode(kids[0]!, scope);
      const items = source === null ? [] : Array.isArray(source) ? source : [source];
      const rel = kids[1]!.meta as { traversal: { type: string; segment: string }[] };
      return items.map((x) => traverse(x, rel.traversal));
    }
    case 'function': {
      const name = String(meta['name']);
      if (name === 'try' || name === 'can') {
        for (const k of kids) {
          try {
            const v = await evalNode(k, scope);
            if (name === 'can') return true;
            return v;
          } catch (err) {
            if (!(err instanceof EvaluationError)) throw err;
          }
        }
        if (name === 'can') return false;
        throw new EvaluationError('try(): no argument could be evaluated');
      }
      const fn = FUNCTIONS[name];
      if (!fn) throw new EvaluationError(`function ${name}() is not supported by this evaluator`);
      let args = await Promise.all(kids.map((k) => evalNode(k, scope)));
      if (meta['expandedFinalArgument'] === true) args = [...args.slice(0, -1), ...list(args[args.length - 1]!)];
      return fn(args, scope);
    }
    case 'conditional': {
      const cond = await evalNode(kids[0]!, scope);
      if (typeof cond !== 'boolean') throw new EvaluationError(`condition is not a bool: ${JSON.stringify(cond)}`);
      return evalNode(kids[cond ? 1 : 2]!, scope);
    }
    case 'unaryOp': {
      const v = await evalNode(kids[0]!, scope);
      return meta['operator'] === 'logicalNot' ? !v : -num(v);
    }
    case 'binaryOp': {
      const op = String(meta['operator']);
      const a = await evalNode(kids[0]!, scope);
      if (op === 'logicalAnd' && a === false) return false;
      if (op === 'logicalOr' && a === true) return true;
      const b = await evalNode(kids[1]!, scope);
      switch (op) {
        case 'equal':
          return equal(a, b);
        case 'notEqual':
          return !equal(a, b);
        case 'logicalAnd':
        case 'logicalOr':
          return b;
        case 'greaterThan':
          return num(a) > num(b);
        case 'greaterThanOrEqual':
          return num(a) >= num(b);
        case 'lessThan':
          return num(a) < num(b);
        case 'lessThanOrEqual':
          return num(a) <= num(b);
        case 'add':
          return num(a) + num(b);
        case 'subtract':
          return num(a) - num(b);
        case 'multiply':
          return num(a) * num(b);
        case 'divide':
          return num(a) / num(b);
        case 'modulo':
          return num(a) % num(b);
        default:
          throw new EvaluationError(`operator ${op} is not supported`);
      }
    }
    case 'for':
      return evalFor(meta, scope);
    default: {
      const type = (node as { type: string }).type;
      if (type === '' && kids.length === 1) return evalNode(kids[0]!, scope);
      throw new EvaluationError(`expression ${String(meta['value'] ?? type)} (${type}) is not supported by this evaluator`);
    }
  }
}

/** A scope with extra names bound (for-expression and dynamic-block iterators). */
export function bind(scope: Scope, names: Record<string, Value>): Scope {
  return {
    ...scope,
    lookup: async (segs) => (segs[0]! in names ? { value: names[segs[0]!]!, used: 1 } : scope.lookup(segs)),
  };
}

async function evalFor(meta: Record<string, unknown>, scope: Scope): Promise<Value> {
  const coll = await evaluate(String(meta['collectionExpression']), scope);
  const entries: [Value, Value][] = Array.isArray(coll)
    ? coll.map((v, i) => [i, v])
    : isObject(coll)
      ? Object.keys(coll)
          .sort()
          .map((k) => [k, coll[k]!])
      : [];
  if (!Array.isArray(coll) && !isObject(coll)) throw new EvaluationError(`for over ${JSON.stringify(coll)}`);
  const keyVar = String(meta['keyVar'] ?? '');
  const valVar = String(meta['valVar']);
  const asObject = meta['openRangeValue'] === '{';
  const cond = meta['conditionalExpression'] as string | undefined;
  const outList: Value[] = [];
  const outObj: Record<string, Value> = {};
  for (const [k, v] of entries) {
    const inner = bind(scope, keyVar ? { [keyVar]: k, [valVar]: v } : { [valVar]: v });
    if (cond && (await evaluate(cond, inner)) !== true) continue;
    const value = await evaluate(String(meta['valueExpression']), inner);
    if (asObject) outObj[str(await evaluate(String(meta['keyExpression']), inner))] = value;
    else outList.push(value);
  }
  return asObject ? outObj : outList;
}

export { isObject as isObjectValue, isBody };
