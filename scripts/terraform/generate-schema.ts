// Regenerates test/terraform/schema/*.json: the provider schema subset the offline
// Terraform checks validate against.
//
// No npm package ships `terraform providers schema -json`, but the CDK provider
// packages are generated from it. Per resource type they carry, in generated code:
// argument names (snake_case keys of synthesizeHclAttributes), block vs argument
// (isBlock), nesting (list/set), max-one blocks (a struct typed property rather
// than an array in the .d.ts), required (non-optional property in the .d.ts) and
// read-only attributes (getters without a config property).
// Not carried: allowed values, exactly-one-of rules, deprecations.
//
// The packages are large (~480 MB unpacked each), so they are fetched with
// `npm pack` into a temporary directory, never into the repository's node_modules.
//
// Usage: node scripts/terraform/generate-schema.ts [--cache <dir>] [--keep]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModule, moduleDirs } from '../../test/terraform/checks/load.ts';
import type { ProviderSchema, SchemaAttribute, SchemaBlock, SchemaBlockType } from '../../test/terraform/checks/schema.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const moduleRoot = join(repoRoot, 'terraform');
const outDir = join(repoRoot, 'test/terraform/schema');

interface ProviderPackage {
  file: string;
  prefix: string;
  pkg: string;
  version: string;
}

export const PROVIDER_PACKAGES: readonly ProviderPackage[] = [
  { file: 'aws-5.json', prefix: 'aws', pkg: '@cdktf/provider-aws', version: '20.1.0' },
  { file: 'aws-6.json', prefix: 'aws', pkg: '@cdktn/provider-aws', version: '25.7.0' },
  { file: 'random-3.json', prefix: 'random', pkg: '@cdktn/provider-random', version: '15.0.1' },
];

interface InterfaceProp {
  optional: boolean;
  array: boolean;
  type: string;
}

/** `export interface X ... { readonly foo?: T; }` blocks of a generated .d.ts. */
function parseInterfaces(dts: string): Map<string, Map<string, InterfaceProp>> {
  const out = new Map<string, Map<string, InterfaceProp>>();
  const re = /^export interface (\w+)[^{]*\{\n([\s\S]*?)^\}/gm;
  for (const m of dts.matchAll(re)) {
    const props = new Map<string, InterfaceProp>();
    for (const p of m[2]!.matchAll(/^\s+readonly (\w+)(\?)?: ([^;]+);/gm)) {
      const type = p[3]!.trim();
      props.set(p[1]!, { optional: p[2] === '?', array: /\[\]/.test(type), type });
    }
    out.set(m[1]!, props);
  }
  return out;
}

interface AttrEntry {
  snake: string;
  camel: string;
  isBlock: boolean;
  kind: string;
  nestedFn?: string;
}

/** The attrs object literal of a synthesizeHclAttributes() / xToHclTerraform() body. */
function parseAttrs(body: string): AttrEntry[] {
  const entries: AttrEntry[] = [];
  const re = /^\s+(\w+): \{\n\s+value: (.*),\n\s+isBlock: (true|false),\n\s+type: "(\w+)",/gm;
  for (const m of body.matchAll(re)) {
    const value = m[2]!;
    const camel = /(?:struct|this)\._?(\w+)\b/.exec(value.replace(/\.internalValue/, ''))?.[1] ?? '';
    const nestedFn = /\b(?<!cdkt[fn]\.)(\w+)ToHclTerraform\b/.exec(value)?.[1];
    entries.push({
      snake: m[1]!,
      camel,
      isBlock: m[3] === 'true',
      kind: m[4]!,
      ...(nestedFn && !value.includes(`cdktf.${nestedFn}ToHcl`) && !value.includes(`cdktn.${nestedFn}ToHcl`) ? { nestedFn } : {}),
    });
  }
  return entries;
}

function functionBody(js: string, fnName: string): string | undefined {
  const start = js.indexOf(`function ${fnName}ToHclTerraform(struct) {`);
  if (start < 0) return undefined;
  const end = js.indexOf('\n}\n', start);
  return js.slice(start, end);
}

function upperFirst(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function buildBlock(
  js: string,
  ifaces: Map<string, Map<string, InterfaceProp>>,
  ifaceName: string,
  attrs: AttrEntry[],
  depth: number,
): SchemaBlock {
  const props = ifaces.get(ifaceName) ?? new Map<string, InterfaceProp>();
  const block: SchemaBlock = { attributes: {}, block_types: {} };
  for (const a of attrs) {
    const prop = props.get(a.camel);
    const required = prop !== undefined && !prop.optional;
    if (a.isBlock && a.nestedFn && depth < 12) {
      const nestedBody = functionBody(js, a.nestedFn);
      const nested = buildBlock(js, ifaces, upperFirst(a.nestedFn), nestedBody ? parseAttrs(nestedBody) : [], depth + 1);
      const bt: SchemaBlockType = { nesting_mode: prop && !prop.array ? 'single' : a.kind === 'set' ? 'set' : 'list', block: nested };
      if (prop && !prop.array) bt.max_items = 1;
      if (required) bt.min_items = 1;
      block.block_types[a.snake] = bt;
    } else {
      const attr: SchemaAttribute = required ? { required: true } : { optional: true };
      block.attributes[a.snake] = attr;
    }
  }
  return block;
}

function classBody(js: string, base: 'TerraformResource' | 'TerraformDataSource'): { name: string; body: string } | undefined {
  const m = new RegExp(`^class (\\w+) extends cdkt[fn]\\.${base} \\{`, 'm').exec(js);
  if (!m) return undefined;
  return { name: m[1]!, body: js.slice(m.index) };
}

function extractType(libDir: string, dirName: string, tfType: string, isData: boolean): SchemaBlock {
  const js = readFileSync(join(libDir, dirName, 'index.js'), 'utf8');
  const dts = readFileSync(join(libDir, dirName, 'index.d.ts'), 'utf8');
  const ifaces = parseInterfaces(dts);
  const cls = classBody(js, isData ? 'TerraformDataSource' : 'TerraformResource');
  if (!cls) throw new Error(`${tfType}: no generated class in ${dirName}`);
  const synthStart = cls.body.indexOf('synthesizeHclAttributes() {');
  const synthEnd = cls.body.indexOf('\n    }\n', synthStart);
  const attrs = parseAttrs(cls.body.slice(synthStart, synthEnd));
  const block = buildBlock(js, ifaces, `${cls.name}Config`, attrs, 0);
  // Read-only attributes: everything the class exposes as an attribute that is not configurable.
  const classOnly = cls.body.slice(0, synthStart);
  const readable = new Set<string>();
  for (const m of classOnly.matchAll(/this\.(?:get\w*Attribute|interpolationForAttribute)\('(\w+)'\)/g)) readable.add(m[1]!);
  for (const m of classOnly.matchAll(/new \w+\(this, "(\w+)"/g)) readable.add(m[1]!);
  for (const name of readable) {
    if (!(name in block.attributes) && !(name in block.block_types)) block.attributes[name] = { computed: true };
  }
  return block;
}

function typeIndex(libDir: string): Map<string, { dir: string; isData: boolean }> {
  const index = new Map<string, { dir: string; isData: boolean }>();
  for (const dir of readdirSync(libDir)) {
    const file = join(libDir, dir, 'index.js');
    if (!existsSync(file)) continue;
    const js = readFileSync(file, 'utf8');
    const m = /tfResourceType = "(\w+)"/.exec(js);
    if (!m) continue;
    const isData = /extends cdkt[fn]\.TerraformDataSource \{/.test(js);
    index.set(`${isData ? 'data' : 'resource'}:${m[1]}`, { dir, isData });
  }
  return index;
}

async function usedTypes(): Promise<{ resources: Set<string>; data: Set<string> }> {
  const resources = new Set<string>();
  const data = new Set<string>();
  for (const dir of moduleDirs(moduleRoot)) {
    const mod = await loadModule(dir);
    for (const r of mod.resources.values()) resources.add(r.type!);
    for (const d of mod.dataSources.values()) data.add(d.type!);
  }
  return { resources, data };
}

function fetchPackage(p: ProviderPackage, cache: string): string {
  const dest = join(cache, `${p.pkg.replace(/[@/]/g, '_')}-${p.version}`);
  if (existsSync(join(dest, 'package/package.json'))) return join(dest, 'package');
  mkdirSync(dest, { recursive: true });
  const out = execFileSync('npm', ['pack', `${p.pkg}@${p.version}`, '--pack-destination', dest, '--silent'], { encoding: 'utf8' }).trim();
  const tgz = join(dest, out.split('\n').pop()!);
  execFileSync('tar', ['-xzf', tgz, '-C', dest, 'package/package.json', 'package/lib']);
  rmSync(tgz);
  return join(dest, 'package');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const cacheArg = args.indexOf('--cache');
  const cache = cacheArg >= 0 ? resolve(args[cacheArg + 1]!) : mkdtempSync(join(tmpdir(), 'tf-schema-'));
  const keep = args.includes('--keep') || cacheArg >= 0;
  const used = await usedTypes();
  mkdirSync(outDir, { recursive: true });
  try {
    for (const p of PROVIDER_PACKAGES) {
      const pkgDir = fetchPackage(p, cache);
      const meta = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as {
        cdktf?: { provider?: { name: string; version: string } };
      };
      const index = typeIndex(join(pkgDir, 'lib'));
      const schema: ProviderSchema = {
        generated_by: 'scripts/terraform/generate-schema.ts',
        source_package: `${p.pkg}@${p.version}`,
        provider: meta.cdktf?.provider?.name ?? '',
        provider_version: meta.cdktf?.provider?.version ?? '',
        resource_type_names: [],
        data_source_type_names: [],
        resources: {},
        data_sources: {},
      };
      for (const [key, { dir, isData }] of [...index.entries()].sort()) {
        const tfType = key.slice(key.indexOf(':') + 1);
        if (isData) schema.data_source_type_names.push(tfType);
        else schema.resource_type_names.push(tfType);
        const wanted = isData ? used.data : used.resources;
        if (!wanted.has(tfType)) continue;
        const block = extractType(join(pkgDir, 'lib'), dir, tfType, isData);
        if (isData) schema.data_sources[tfType] = block;
        else schema.resources[tfType] = block;
      }
      writeFileSync(join(outDir, p.file), `${JSON.stringify(schema, null, 1)}\n`);
      console.log(
        `${p.file}: ${schema.provider} ${schema.provider_version} from ${schema.source_package}: ` +
          `${Object.keys(schema.resources).length} resources, ${Object.keys(schema.data_sources).length} data sources in detail ` +
          `(${schema.resource_type_names.length}/${schema.data_source_type_names.length} names)`,
      );
    }
  } finally {
    if (!keep) rmSync(cache, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main();
}
