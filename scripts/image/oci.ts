// OCI layout and archive with Debian's umoci (image layout, layers, config) and GNU tar (reproducible layer and
// archive tarballs). Reproducible: every timestamp is SOURCE_DATE_EPOCH, entries are sorted, owners are 0:0 by
// number, no atime/ctime, and umoci adds no history entries; the same inputs give the same digests.
import { execFileSync } from 'node:child_process';
import { chmodSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ImageBuildError } from './errors.ts';

export type ImageConfig = {
  readonly architecture: 'amd64' | 'arm64';
  readonly created: string;
  readonly user: string;
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  readonly env: readonly string[];
  readonly workingDir: string;
  readonly volumes: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
};

function run(cmd: string, args: readonly string[], options: { cwd?: string } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024, ...options });
  } catch (err) {
    const e = err as { stderr?: string };
    throw new ImageBuildError(
      `${cmd} ${args.slice(0, 4).join(' ')}… failed`,
      [
        String(e.stderr ?? err)
          .trim()
          .split('\n')
          .slice(-8)
          .join('\n'),
      ],
      { cause: err },
    );
  }
}

/** GNU tar flags for a byte-identical archive of a directory whatever the host, umask or build time. */
function reproducibleTarArgs(epoch: number): string[] {
  return [
    '--sort=name',
    `--mtime=@${epoch}`,
    '--clamp-mtime',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--format=pax',
    '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
  ];
}

/**
 * Modes independent of the umask and of the inputs' own: directories 0755, files 0755 if executable by anyone
 * else 0644; a sticky world-writable directory (/tmp) keeps 1777.
 */
function normalizeModes(dir: string): void {
  const visit = (p: string): void => {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return;
    if (st.isDirectory()) {
      chmodSync(p, (st.mode & 0o1000) !== 0 ? 0o1777 : 0o755);
      for (const name of readdirSync(p)) visit(path.join(p, name));
    } else chmodSync(p, st.mode & 0o111 ? 0o755 : 0o644);
  };
  visit(dir);
}

/** A layer tarball of `dir` (its contents at the image root). */
export function layerTar(dir: string, file: string, epoch: number): void {
  normalizeModes(dir);
  run('tar', ['--create', '--file', file, ...reproducibleTarArgs(epoch), '--directory', dir, '.']);
}

export function initLayout(layout: string, tag: string): void {
  run('umoci', ['init', '--layout', layout]);
  run('umoci', ['new', '--image', `${layout}:${tag}`]);
}

export function addLayer(layout: string, tag: string, tarFile: string): void {
  run('umoci', ['raw', 'add-layer', '--no-history', '--image', `${layout}:${tag}`, tarFile]);
}

export function configure(layout: string, tag: string, c: ImageConfig): void {
  const args = [
    'config',
    '--no-history',
    '--image',
    `${layout}:${tag}`,
    '--os=linux',
    `--architecture=${c.architecture}`,
    `--created=${c.created}`,
    `--config.user=${c.user}`,
    `--config.workingdir=${c.workingDir}`,
    '--clear=config.volume',
    ...c.volumes.map((v) => `--config.volume=${v}`),
    '--clear=config.entrypoint',
    '--clear=config.cmd',
    '--clear=config.env',
    ...c.entrypoint.map((e) => `--config.entrypoint=${e}`),
    ...c.cmd.map((e) => `--config.cmd=${e}`),
    ...c.env.map((e) => `--config.env=${e}`),
    ...Object.entries(c.labels)
      .sort(([a], [b]) => a.localeCompare(b))
      .flatMap(([k, v]) => [`--config.label=${k}=${v}`, `--manifest.annotation=${k}=${v}`]),
  ];
  run('umoci', args);
}

/** Drops blobs no longer referenced (umoci config writes a new config and manifest each time). */
export function gc(layout: string): void {
  run('umoci', ['gc', '--layout', layout]);
}

export type LayoutFacts = {
  readonly manifestDigest: string;
  readonly configDigest: string;
  readonly layers: readonly { digest: string; size: number; diffId: string }[];
  readonly compressedBytes: number;
};

type Descriptor = { mediaType: string; digest: string; size: number; annotations?: Record<string, string> };

export function layoutFacts(layout: string, tag: string): LayoutFacts {
  const blob = (digest: string): string => readFileSync(path.join(layout, 'blobs', ...digest.split(':')), 'utf8');
  const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const desc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!desc) throw new ImageBuildError(`no manifest tagged ${tag} in ${layout}`, []);
  const manifest = JSON.parse(blob(desc.digest)) as { config: Descriptor; layers: Descriptor[] };
  const config = JSON.parse(blob(manifest.config.digest)) as { rootfs: { diff_ids: string[] } };
  const layers = manifest.layers.map((l, i) => ({ digest: l.digest, size: l.size, diffId: config.rootfs.diff_ids[i]! }));
  return {
    manifestDigest: desc.digest,
    configDigest: manifest.config.digest,
    layers,
    compressedBytes: desc.size + manifest.config.size + layers.reduce((s, l) => s + l.size, 0),
  };
}

/** An oci-archive (a tar of the OCI layout), the form `podman run oci-archive:…` and `skopeo copy` read. */
export function archiveLayout(layout: string, file: string, epoch: number): void {
  run('tar', ['--create', '--file', file, ...reproducibleTarArgs(epoch), '--directory', layout, 'oci-layout', 'index.json', 'blobs']);
}
