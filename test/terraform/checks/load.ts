// Loads a Terraform module directory with HashiCorp's HCL parser (WASM build in
// @cdktn/hcl2json). Expressions stay unevaluated "${...}" strings.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from '@cdktn/hcl2json';

export type HclValue = string | number | boolean | null | HclValue[] | HclBody;
export interface HclBody {
  [key: string]: HclValue;
}

export interface Finding {
  check: string;
  file?: string;
  address?: string;
  message: string;
}

export interface TfFile {
  path: string;
  name: string;
  text: string;
  body: HclBody;
}

export type BlockKind = 'resource' | 'data' | 'module' | 'variable' | 'output' | 'provider' | 'check';

export interface TfBlock {
  kind: BlockKind;
  /** resource/data type; undefined for module, variable, output, provider, check */
  type?: string;
  name: string;
  /** "aws_s3_bucket.this", "data.aws_region.current", "var.x", "module.m", ... */
  address: string;
  body: HclBody;
  file: string;
}

export interface TfLocal {
  name: string;
  value: HclValue;
  file: string;
}

export interface TfModule {
  dir: string;
  files: TfFile[];
  blocks: TfBlock[];
  resources: Map<string, TfBlock>;
  dataSources: Map<string, TfBlock>;
  variables: Map<string, TfBlock>;
  outputs: Map<string, TfBlock>;
  modules: Map<string, TfBlock>;
  locals: Map<string, TfLocal>;
  terraform: HclBody[];
  /** Problems found while assembling (duplicates, unknown top-level blocks). */
  findings: Finding[];
}

export function listTfFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.tf') && statSync(join(dir, f)).isFile())
    .sort()
    .map((f) => join(dir, f));
}

/** The module root plus each examples/<name> directory that holds .tf files. */
export function moduleDirs(root: string): string[] {
  const dirs = [root];
  const examples = join(root, 'examples');
  try {
    for (const e of readdirSync(examples).sort()) {
      const d = join(examples, e);
      if (statSync(d).isDirectory() && listTfFiles(d).length > 0) dirs.push(d);
    }
  } catch {
    // no examples directory
  }
  return dirs;
}

export async function parseFile(path: string, text: string): Promise<HclBody> {
  return (await parse(path, text)) as HclBody;
}

/** Parse check: each file parses; returns the parser's own diagnostics. */
export async function checkParse(dir: string): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const path of listTfFiles(dir)) {
    try {
      await parseFile(path, readFileSync(path, 'utf8'));
    } catch (err) {
      findings.push({ check: 'parse', file: path, message: (err as Error).message });
    }
  }
  return findings;
}

const KNOWN_TOP_LEVEL = new Set([
  'resource',
  'data',
  'module',
  'variable',
  'output',
  'locals',
  'provider',
  'terraform',
  'check',
  'moved',
  'import',
  'removed',
]);

function asBodies(v: HclValue | undefined): HclBody[] {
  if (Array.isArray(v)) return v.filter((x): x is HclBody => isBody(x));
  if (isBody(v)) return [v];
  return [];
}

export function isBody(v: unknown): v is HclBody {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export async function loadModule(dir: string): Promise<TfModule> {
  const mod: TfModule = {
    dir,
    files: [],
    blocks: [],
    resources: new Map(),
    dataSources: new Map(),
    variables: new Map(),
    outputs: new Map(),
    modules: new Map(),
    locals: new Map(),
    terraform: [],
    findings: [],
  };
  const add = (map: Map<string, TfBlock>, block: TfBlock) => {
    if (map.has(block.address)) {
      mod.findings.push({ check: 'refs', file: block.file, address: block.address, message: `duplicate declaration of ${block.address}` });
    }
    map.set(block.address, block);
    mod.blocks.push(block);
  };
  for (const path of listTfFiles(dir)) {
    const text = readFileSync(path, 'utf8');
    const body = await parseFile(path, text);
    const name = relative(dir, path);
    mod.files.push({ path, name, text, body });
    for (const [key, value] of Object.entries(body)) {
      if (!KNOWN_TOP_LEVEL.has(key)) {
        mod.findings.push({ check: 'refs', file: name, message: `unknown top-level block "${key}"` });
        continue;
      }
      if (key === 'resource' || key === 'data') {
        for (const [type, byName] of Object.entries(value as HclBody)) {
          for (const [n, bodies] of Object.entries(byName as HclBody)) {
            for (const b of asBodies(bodies)) {
              const address = key === 'data' ? `data.${type}.${n}` : `${type}.${n}`;
              add(key === 'data' ? mod.dataSources : mod.resources, { kind: key, type, name: n, address, body: b, file: name });
            }
          }
        }
      } else if (key === 'module' || key === 'variable' || key === 'output' || key === 'provider' || key === 'check') {
        for (const [n, bodies] of Object.entries(value as HclBody)) {
          for (const b of asBodies(bodies)) {
            const prefix = key === 'module' ? 'module.' : key === 'variable' ? 'var.' : `${key}.`;
            const block: TfBlock = { kind: key, name: n, address: `${prefix}${n}`, body: b, file: name };
            if (key === 'module') add(mod.modules, block);
            else if (key === 'variable') add(mod.variables, block);
            else if (key === 'output') add(mod.outputs, block);
            else mod.blocks.push(block);
          }
        }
      } else if (key === 'locals') {
        for (const b of asBodies(value)) {
          for (const [n, v] of Object.entries(b)) {
            if (mod.locals.has(n))
              mod.findings.push({ check: 'refs', file: name, address: `local.${n}`, message: `duplicate local "${n}"` });
            mod.locals.set(n, { name: n, value: v, file: name });
          }
        }
      } else if (key === 'terraform') {
        mod.terraform.push(...asBodies(value));
      }
    }
  }
  return mod;
}

/** The expression inside a pure "${...}" string, or undefined for literals and templates. */
export function pureExpression(v: HclValue | undefined): string | undefined {
  if (typeof v !== 'string') return undefined;
  if (!v.startsWith('${') || !v.endsWith('}')) return undefined;
  // "${a}-${b}" is a template, not one expression: the first "${" must close at the end.
  let depth = 0;
  let quote = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === '"') quote = false;
      continue;
    }
    if (c === '"') quote = true;
    else if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0 && i !== v.length - 1) return undefined;
    }
  }
  return v.slice(2, -1).trim();
}

/** Every string in a body, with the path of keys that leads to it. */
export function* walkStrings(v: HclValue, path: string[] = []): Generator<{ path: string[]; value: string }> {
  if (typeof v === 'string') yield { path, value: v };
  else if (Array.isArray(v)) for (const [i, x] of v.entries()) yield* walkStrings(x, [...path, String(i)]);
  else if (isBody(v)) for (const [k, x] of Object.entries(v)) yield* walkStrings(x, [...path, k]);
}
