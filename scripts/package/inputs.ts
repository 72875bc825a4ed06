// Helpers of scripts/package.ts that are worth unit-testing on their own.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The parts of a pg tools bundle's bundle.json (written by scripts/build-pgtools.sh) that the manifest records. */
export type BundleJson = {
  readonly pgMajor: number;
  readonly pgVersion: string;
  readonly pgDebianVersion?: string;
  readonly arch: string;
  readonly debianArch: string;
  readonly suite: string;
  readonly builtAt: string;
  readonly packages: readonly { readonly name: string; readonly version: string }[];
};

/** Node's process.arch → Lambda's architecture name. */
export function layerArchitecture(arch: string): 'x86_64' | 'arm64' {
  if (arch === 'x64') return 'x86_64';
  if (arch === 'arm64') return 'arm64';
  throw new Error(`no Lambda architecture for ${arch}`);
}

/** The npm package an input file of the bundle belongs to ("node_modules/@scope/name/..." → "@scope/name"). */
export function packageOfInput(input: string): string | undefined {
  const parts = input.split('/');
  const i = parts.lastIndexOf('node_modules');
  if (i === -1 || i + 1 >= parts.length) return undefined;
  const first = parts[i + 1]!;
  if (first.startsWith('@')) return parts[i + 2] ? `${first}/${parts[i + 2]}` : undefined;
  return first;
}

/** name → version of every npm package that contributed code to the bundle (from esbuild's metafile inputs). */
export function packagesOfBundle(root: string, inputs: readonly string[]): Record<string, string> {
  const found = new Map<string, string>();
  for (const input of inputs) {
    const name = packageOfInput(input);
    if (!name || found.has(name)) continue;
    // The package.json of the copy that was bundled (nested node_modules included).
    const dirEnd = input.lastIndexOf(`node_modules/${name}/`) + `node_modules/${name}`.length;
    const file = path.join(root, input.slice(0, dirEnd), 'package.json');
    const version = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version : undefined;
    found.set(name, version ?? 'unknown');
  }
  return Object.fromEntries([...found.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

const LICENSE_FILES = ['LICENSE', 'LICENSE.md', 'LICENSE.txt', 'license', 'license.md', 'LICENCE', 'COPYING'];

/**
 * THIRD-PARTY-NOTICES.txt for the function zip: the license of every bundled package (Apache-2.0 and MIT both ask
 * for it to travel with redistributed code). Identical texts are printed once with the list of their packages.
 */
export function thirdPartyNotices(root: string, inputs: readonly string[]): string {
  const dirs = new Map<string, string>();
  for (const input of inputs) {
    const name = packageOfInput(input);
    if (!name || dirs.has(name)) continue;
    const dirEnd = input.lastIndexOf(`node_modules/${name}/`) + `node_modules/${name}`.length;
    dirs.set(name, path.join(root, input.slice(0, dirEnd)));
  }
  const byText = new Map<string, string[]>();
  for (const [name, dir] of [...dirs.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: string; license?: string };
    const file = LICENSE_FILES.map((f) => path.join(dir, f)).find((f) => existsSync(f));
    const text = file
      ? readFileSync(file, 'utf8').trim()
      : `(no license file in the package; package.json says: ${pkg.license ?? 'nothing'})`;
    const list = byText.get(text) ?? [];
    list.push(`${name}@${pkg.version ?? 'unknown'} (${pkg.license ?? 'unknown'})`);
    byText.set(text, list);
  }
  const sections = [...byText.entries()].map(([text, names]) => `${names.join('\n')}\n\n${text}\n`);
  return `Third-party software bundled in index.mjs\n\n${sections.join('\n' + '-'.repeat(78) + '\n\n')}`;
}
