// Reference check: every var/local/resource/data/module reference resolves, with
// the attribute existing on the referenced type (provider schema), count/for_each
// instances indexed, count/each/self only where Terraform defines them, module
// call arguments matching the child's variables, templatefile() variables matching
// the template, no unused variables or locals.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { getExpressionAst, getReferencesInExpression } from '@cdktn/hcl2json';
import type { TFExpressionSyntaxTree } from '@cdktn/hcl2json';
import { isBody, loadModule, pureExpression, walkStrings } from './load.ts';
import type { Finding, HclBody, HclValue, TfBlock, TfModule } from './load.ts';
import type { ProviderSchema, SchemaBlock } from './schema.ts';

type ExpressionType = TFExpressionSyntaxTree.ExpressionType;

interface Scope {
  count: boolean;
  each: boolean;
  self: boolean;
  iterators: Set<string>;
  /** Terraform < 1.9: a validation may refer to its own variable only */
  validationOf?: string;
}

const BASE_SCOPE: Scope = { count: false, each: false, self: false, iterators: new Set() };

/** Splits `aws_x.y."k.z".0.attr` into segments, keeping quoted keys whole. */
export function segments(ref: string): string[] {
  return ref.match(/"(?:[^"\\]|\\.)*"|[^.]+/g) ?? [];
}

function isIndex(seg: string | undefined): boolean {
  return seg !== undefined && (/^\d+$/.test(seg) || seg.startsWith('"'));
}

interface ExprSite {
  file: string;
  address: string;
  value: string;
  scope: Scope;
}

/** Walks a block body, yielding each string with the scope Terraform gives it. */
function* sites(body: HclBody, file: string, address: string, scope: Scope): Generator<ExprSite> {
  for (const [key, value] of Object.entries(body)) {
    if (key === 'lifecycle') {
      for (const lc of Array.isArray(value) ? value : []) {
        if (!isBody(lc)) continue;
        for (const cond of ['precondition', 'postcondition'] as const) {
          for (const c of Array.isArray(lc[cond]) ? (lc[cond] as HclValue[]) : []) {
            if (isBody(c)) yield* sites(c, file, `${address}.lifecycle.${cond}`, { ...scope, self: cond === 'postcondition' });
          }
        }
        if (isBody(lc) && 'replace_triggered_by' in lc) {
          for (const s of walkStrings(lc['replace_triggered_by']!)) yield { file, address: `${address}.lifecycle`, value: s.value, scope };
        }
      }
      continue;
    }
    if (key === 'provider' || key === 'providers') continue;
    if (key === 'provisioner' || key === 'connection') {
      for (const s of walkStrings(value)) yield { file, address: `${address}.${key}`, value: s.value, scope: { ...scope, self: true } };
      continue;
    }
    if (key === 'dynamic' && isBody(value)) {
      for (const [name, defs] of Object.entries(value)) {
        for (const def of Array.isArray(defs) ? defs : []) {
          if (!isBody(def)) continue;
          const iterator = typeof def['iterator'] === 'string' ? def['iterator'] : name;
          if (def['for_each'] !== undefined) {
            for (const s of walkStrings(def['for_each']))
              yield { file, address: `${address}.dynamic.${name}.for_each`, value: s.value, scope };
          }
          const inner: Scope = { ...scope, iterators: new Set([...scope.iterators, iterator]) };
          for (const content of Array.isArray(def['content']) ? def['content'] : []) {
            if (isBody(content)) yield* sites(content, file, `${address}.${name}`, inner);
          }
        }
      }
      continue;
    }
    if (Array.isArray(value) && value.length > 0 && value.every((v) => isBody(v))) {
      for (const v of value) yield* sites(v as HclBody, file, `${address}.${key}`, scope);
      continue;
    }
    for (const s of walkStrings(value)) yield { file, address: `${address}.${key}`, value: s.value, scope };
  }
}

function schemaFor(schemas: ProviderSchema[], kind: 'resource' | 'data', type: string): SchemaBlock[] {
  const out: SchemaBlock[] = [];
  for (const s of schemas) {
    const b = kind === 'data' ? s.data_sources[type] : s.resources[type];
    if (b) out.push(b);
  }
  return out;
}

function collectFunctionCalls(ast: ExpressionType | null, name: string, out: ExpressionType[] = []): ExpressionType[] {
  if (!ast) return out;
  if (ast.type === 'function' && (ast.meta as { name?: string }).name === name) out.push(ast);
  for (const c of ast.children ?? []) collectFunctionCalls(c, name, out);
  return out;
}

/** `${name}` interpolations of a template; directives and other expressions are reported. */
export function templateVariables(text: string): { names: Set<string>; unsupported: string[] } {
  const names = new Set<string>();
  const unsupported: string[] = [];
  for (const m of text.matchAll(/(\$\$\{)|(%%\{)|\$\{([^}]*)\}|%\{([^}]*)\}/g)) {
    if (m[1] || m[2]) continue;
    if (m[4] !== undefined) {
      unsupported.push(`%{${m[4]}}`);
      continue;
    }
    const expr = m[3]!.trim();
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(expr)) names.add(expr);
    else unsupported.push(`\${${expr}}`);
  }
  return { names, unsupported };
}

async function checkTemplateCalls(mod: TfModule, site: ExprSite, emit: (f: Finding) => void): Promise<void> {
  if (!site.value.includes('templatefile(')) return;
  const pure = pureExpression(site.value);
  const ast = await getExpressionAst(site.file, pure ?? `"${site.value}"`);
  for (const call of collectFunctionCalls(ast, 'templatefile')) {
    const [pathArg, varsArg] = call.children;
    const pathParts = (pathArg?.children ?? []).map((c) =>
      c.type === 'scopeTraversal'
        ? `\${${(c.meta as { fullAccessor: string }).fullAccessor}}`
        : c.type === 'literalValue'
          ? String((c.meta as { value: string }).value)
          : '?',
    );
    const joined = pathParts.join('');
    if (!joined.startsWith('${path.module}/') || joined.includes('?')) {
      emit({
        check: 'refs',
        file: site.file,
        address: site.address,
        message: `templatefile path must be "\${path.module}/<file>", got ${joined}`,
      });
      continue;
    }
    const templatePath = join(mod.dir, joined.slice('${path.module}/'.length));
    if (!existsSync(templatePath)) {
      emit({ check: 'refs', file: site.file, address: site.address, message: `template ${joined} does not exist` });
      continue;
    }
    const { names, unsupported } = templateVariables(readFileSync(templatePath, 'utf8'));
    for (const u of unsupported)
      emit({
        check: 'refs',
        file: site.file,
        address: site.address,
        message: `template ${joined} uses ${u}; only \${name} interpolations are supported by the test renderer`,
      });
    const given = new Set(Object.keys((varsArg?.meta as { items?: Record<string, string> } | undefined)?.items ?? {}));
    for (const n of names)
      if (!given.has(n))
        emit({
          check: 'refs',
          file: site.file,
          address: site.address,
          message: `template ${joined} uses \${${n}} but templatefile() does not pass "${n}"`,
        });
    for (const g of given)
      if (!names.has(g))
        emit({
          check: 'refs',
          file: site.file,
          address: site.address,
          message: `templatefile() passes "${g}" but template ${joined} never uses it`,
        });
  }
}

const CHILD_META = new Set(['source', 'version', 'count', 'for_each', 'providers', 'depends_on']);

export async function checkReferences(mod: TfModule, schemas: ProviderSchema[]): Promise<Finding[]> {
  const findings: Finding[] = [...mod.findings];
  const emit = (f: Finding) => findings.push(f);
  const usedVars = new Set<string>();
  const usedLocals = new Set<string>();
  const children = new Map<string, TfModule>();

  for (const m of mod.modules.values()) {
    const source = m.body['source'];
    if (typeof source === 'string' && (source.startsWith('./') || source.startsWith('../'))) {
      const childDir = resolve(mod.dir, source);
      if (!existsSync(childDir)) {
        emit({ check: 'refs', file: m.file, address: m.address, message: `module source ${source} does not exist` });
        continue;
      }
      const child = await loadModule(childDir);
      children.set(m.name, child);
      for (const key of Object.keys(m.body)) {
        if (!CHILD_META.has(key) && !child.variables.has(`var.${key}`))
          emit({ check: 'refs', file: m.file, address: `${m.address}.${key}`, message: `module ${source} has no variable "${key}"` });
      }
      for (const v of child.variables.values()) {
        if (!('default' in v.body) && !(v.name in m.body))
          emit({
            check: 'refs',
            file: m.file,
            address: m.address,
            message: `required variable "${v.name}" of module ${source} is not set`,
          });
      }
    }
  }

  const allSites: ExprSite[] = [];
  for (const b of mod.blocks) {
    const scope: Scope = { ...BASE_SCOPE, count: 'count' in b.body, each: 'for_each' in b.body };
    if (b.kind === 'variable') {
      for (const v of Array.isArray(b.body['validation']) ? b.body['validation'] : []) {
        if (isBody(v)) allSites.push(...sites(v, b.file, `${b.address}.validation`, { ...BASE_SCOPE, validationOf: b.name }));
      }
      continue;
    }
    const body =
      b.kind === 'module' ? Object.fromEntries(Object.entries(b.body).filter(([k]) => k !== 'source' && k !== 'version')) : b.body;
    allSites.push(...sites(body, b.file, b.address, scope));
  }
  for (const l of mod.locals.values()) {
    for (const s of walkStrings(l.value)) allSites.push({ file: l.file, address: `local.${l.name}`, value: s.value, scope: BASE_SCOPE });
  }
  for (const t of mod.terraform) {
    // required_providers etc. hold no references
    void t;
  }

  for (const site of allSites) {
    if (!site.value.includes('${')) continue;
    await checkTemplateCalls(mod, site, emit);
    let refs: { value: string }[];
    try {
      refs = await getReferencesInExpression(site.file, site.value);
    } catch (err) {
      emit({ check: 'refs', file: site.file, address: site.address, message: `cannot parse expression: ${(err as Error).message}` });
      continue;
    }
    for (const { value: ref } of refs) {
      const seg = segments(ref);
      const root = seg[0]!;
      const bad = (message: string) => emit({ check: 'refs', file: site.file, address: site.address, message: `${ref}: ${message}` });
      if (site.scope.iterators.has(root)) {
        if (seg[1] !== undefined && seg[1] !== 'key' && seg[1] !== 'value') bad(`iterator "${root}" has only .key and .value`);
        continue;
      }
      switch (root) {
        case 'var': {
          const name = seg[1];
          if (!name || !mod.variables.has(`var.${name}`)) bad('undeclared variable');
          else {
            // A variable used only by its own validation is still unused.
            if (!site.scope.validationOf) usedVars.add(name);
            if (site.scope.validationOf && site.scope.validationOf !== name)
              bad(`a validation of var.${site.scope.validationOf} may only refer to that variable before Terraform 1.9`);
          }
          break;
        }
        case 'local': {
          const name = seg[1];
          if (!name || !mod.locals.has(name)) bad('undeclared local value');
          else usedLocals.add(name);
          break;
        }
        case 'path':
          if (!['module', 'root', 'cwd'].includes(seg[1] ?? '')) bad('path has only module, root and cwd');
          break;
        case 'terraform':
          if (seg[1] !== 'workspace') bad('terraform has only workspace');
          break;
        case 'count':
          if (!site.scope.count) bad('count.index outside a block with count');
          else if (seg[1] !== 'index') bad('count has only index');
          break;
        case 'each':
          if (!site.scope.each) bad('each outside a block with for_each');
          else if (seg[1] !== 'key' && seg[1] !== 'value') bad('each has only key and value');
          break;
        case 'self':
          if (!site.scope.self) bad('self is only valid in provisioners, connection and postconditions');
          break;
        case 'module': {
          const name = seg[1];
          const m = name ? mod.modules.get(`module.${name}`) : undefined;
          if (!m) {
            bad('undeclared module');
            break;
          }
          const child = children.get(name!);
          const counted = 'count' in m.body || 'for_each' in m.body;
          const outIdx = counted ? 3 : 2;
          if (counted && seg.length > 2 && !isIndex(seg[2])) bad('module has count/for_each: index it');
          const out = seg[outIdx];
          if (child && out !== undefined && !child.outputs.has(`output.${out}`)) bad(`module ${name} has no output "${out}"`);
          break;
        }
        case 'data': {
          const type = seg[1];
          const name = seg[2];
          const d = mod.dataSources.get(`data.${type}.${name}`);
          if (!d) {
            bad('undeclared data source');
            break;
          }
          checkAttribute(d, seg.slice(3), schemas, bad);
          break;
        }
        default: {
          if (!root.includes('_')) {
            bad(`unknown name "${root}"`);
            break;
          }
          const r = mod.resources.get(`${root}.${seg[1]}`);
          if (!r) {
            bad('undeclared resource');
            break;
          }
          checkAttribute(r, seg.slice(2), schemas, bad);
        }
      }
    }
  }

  for (const v of mod.variables.values()) {
    if (!usedVars.has(v.name))
      emit({ check: 'refs', file: v.file, address: v.address, message: `variable "${v.name}" is declared but never used` });
  }
  for (const l of mod.locals.values()) {
    if (!usedLocals.has(l.name))
      emit({ check: 'refs', file: l.file, address: `local.${l.name}`, message: `local "${l.name}" is declared but never used` });
  }
  return findings;
}

function checkAttribute(block: TfBlock, rest: string[], schemas: ProviderSchema[], bad: (m: string) => void): void {
  const counted = 'count' in block.body || 'for_each' in block.body;
  let i = 0;
  if (counted) {
    if (rest.length === 0) return; // whole collection, splat or dynamic index
    if (!isIndex(rest[0])) {
      bad(`${block.address} has ${'count' in block.body ? 'count' : 'for_each'}: index it (e.g. [0]) before .${rest[0]}`);
      return;
    }
    if ('count' in block.body && !/^\d+$/.test(rest[0]!)) bad(`${block.address} has count: index with a number`);
    if ('for_each' in block.body && /^\d+$/.test(rest[0]!)) bad(`${block.address} has for_each: index with a key`);
    i = 1;
  } else if (isIndex(rest[0])) {
    bad(`${block.address} has no count or for_each and cannot be indexed`);
    return;
  }
  const attr = rest[i];
  if (attr === undefined) return;
  const found = schemaFor(schemas, block.kind === 'data' ? 'data' : 'resource', block.type!);
  if (found.length === 0) return; // unknown type: the schema check reports it
  for (const s of found) {
    if (!(attr in s.attributes) && !(attr in s.block_types) && attr !== 'id') {
      const where = schemas
        .filter((x) => (block.kind === 'data' ? x.data_sources : x.resources)[block.type!] === s)
        .map((x) => x.provider_version);
      bad(`${block.type} has no attribute "${attr}" (provider ${where.join(', ')})`);
      return;
    }
  }
}
