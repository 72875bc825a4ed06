// Writes <bundle>/bundle.json for scripts/build-pgtools.sh: JSON built by a JSON serialiser, not by string
// concatenation in bash. The text layout is the one the bundle has always had (one package per line, one file per
// line), so a rebuilt bundle diffs cleanly against an older one. Prints the unpacked size in bytes.
//
// Usage: node scripts/pgtools/bundle-json.ts --bundle DIR --packages FILE --tools "a b" --set key=value ...
//   --packages FILE  lines "shipped|unshipped<TAB>name<TAB>version"
//   --set            pgMajor, pgVersion, pgDebianVersion, arch, debianArch, suite, suiteAlias, mirror, builtAt, loader
import { lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const SCALARS = ['pgMajor', 'pgVersion', 'pgDebianVersion', 'arch', 'debianArch', 'suite', 'suiteAlias', 'mirror', 'builtAt'] as const;
const NUMERIC = new Set(['pgMajor']);

type Package = { readonly name: string; readonly version: string };

function fail(message: string): never {
  console.error(`bundle-json: ${message}`);
  process.exit(1);
}

/** Regular files under dir (symlinks and directories are not listed), relative, in byte order like `LC_ALL=C sort`. */
function files(dir: string, base = ''): [string, number][] {
  const out: [string, number][] = [];
  for (const name of readdirSync(path.join(dir, base))) {
    const rel = base ? `${base}/${name}` : name;
    const st = lstatSync(path.join(dir, rel));
    if (st.isDirectory()) out.push(...files(dir, rel));
    else if (st.isFile()) out.push([rel, st.size]);
  }
  return out.sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

function list(items: readonly string[]): string {
  return items.length === 0 ? '[\n  ]' : `[\n${items.map((i) => `    ${i}`).join(',\n')}\n  ]`;
}

const { values } = parseArgs({
  options: {
    bundle: { type: 'string' },
    packages: { type: 'string' },
    tools: { type: 'string' },
    loader: { type: 'string' },
    set: { type: 'string', multiple: true },
  },
  strict: true,
});
if (!values.bundle || !values.packages || !values.tools || !values.loader) fail('--bundle, --packages, --tools and --loader are required');

const scalars = new Map<string, string>();
for (const kv of values.set ?? []) {
  const eq = kv.indexOf('=');
  if (eq <= 0) fail(`--set ${JSON.stringify(kv)} is not key=value`);
  scalars.set(kv.slice(0, eq), kv.slice(eq + 1));
}
for (const k of SCALARS) if (!scalars.has(k)) fail(`--set ${k}=... is missing`);

const shipped: Package[] = [];
const unshipped: Package[] = [];
for (const line of readFileSync(values.packages, 'utf8').split('\n')) {
  if (!line) continue;
  const [kind, name, version] = line.split('\t');
  if (!name || version === undefined || (kind !== 'shipped' && kind !== 'unshipped')) fail(`bad package line ${JSON.stringify(line)}`);
  (kind === 'shipped' ? shipped : unshipped).push({ name, version });
}

const listed = files(values.bundle).filter(([rel]) => rel !== 'bundle.json');
const unpackedBytes = listed.reduce((sum, [, size]) => sum + size, 0);
const pkg = (p: Package): string => `{ "name": ${JSON.stringify(p.name)}, "version": ${JSON.stringify(p.version)} }`;
const fields: [string, string][] = [
  ...SCALARS.map((k): [string, string] => [k, NUMERIC.has(k) ? String(Number(scalars.get(k))) : JSON.stringify(scalars.get(k))]),
  [
    'tools',
    `[${values.tools
      .split(/\s+/)
      .filter(Boolean)
      .map((t) => JSON.stringify(t))
      .join(', ')}]`,
  ],
  ['loader', JSON.stringify(values.loader)],
  ['unpackedBytes', String(unpackedBytes)],
  ['packages', list(shipped.map(pkg))],
  ['packagesNotShipped', list(unshipped.map(pkg))],
  ['files', listed.length === 0 ? '{\n  }' : `{\n${listed.map(([rel, size]) => `    ${JSON.stringify(rel)}: ${size}`).join(',\n')}\n  }`],
];
const text = `{\n${fields.map(([k, v]) => `  ${JSON.stringify(k)}: ${v}`).join(',\n')}\n}\n`;
JSON.parse(text); // the layout is hand-made; the content must still be JSON
writeFileSync(path.join(values.bundle, 'bundle.json'), text);
console.log(unpackedBytes);
