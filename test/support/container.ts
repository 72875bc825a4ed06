// Runs the built container image with a real container runtime: Debian's podman with runc (installed by
// scripts/setup-container-deps.sh). On these machines podman's default runtime (crun) refuses the hybrid cgroup
// layout and its default ulimits exceed the hard limits, hence runc, cgroupfs and explicit ulimits.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { withFileLock } from './dist.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PODMAN_GLOBAL = ['--runtime', '/usr/sbin/runc', '--cgroup-manager=cgroupfs', '--events-backend=file'];

export type BuiltImages = {
  readonly dir: string;
  readonly backup: string;
  readonly verify: string;
  readonly manifest: { images: { file: string; variant: string; compressedBytes: number; manifestDigest: string; architecture: string }[] };
};

/** Builds the host architecture's images (or only the backup image) from the current sources into a temporary directory. */
export function buildImages(variant: 'all' | 'backup' = 'all'): BuiltImages {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rsb-image-'));
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
  buildImageLocked(['--arch', arch, '--variant', variant, '--out', dir]);
  const oci = arch === 'x64' ? 'amd64' : 'arm64';
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as BuiltImages['manifest'];
  return { dir, backup: path.join(dir, `image-backup-${oci}.oci.tar`), verify: path.join(dir, `image-verify-${oci}.oci.tar`), manifest };
}

/**
 * Runs scripts/image/build.ts while holding a lock: image builds share .cache/image (a private apt root and the
 * unpacked runtime packages, which a build deletes and re-extracts), and `npm test` runs two test files at once.
 */
export function buildImageLocked(args: readonly string[]): void {
  withFileLock(path.join(REPO, '.cache', 'image-build.lock'), () =>
    execFileSync(process.execPath, [path.join(REPO, 'scripts/image/build.ts'), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      cwd: REPO,
    }),
  );
}

function podman(args: readonly string[]): string {
  return execFileSync('podman', [...PODMAN_GLOBAL, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** Loads an oci-archive into podman's storage once; returns the image id. */
export function loadImage(archive: string): string {
  const out = podman(['pull', '-q', `oci-archive:${archive}`]);
  return out.split('\n').pop()!.trim();
}

export function removeImage(id: string): void {
  try {
    podman(['rmi', '-f', id]);
  } catch {
    // already gone
  }
}

export type ContainerRun = {
  readonly name: string;
  /** Resolves when the container exited. */
  readonly result: Promise<ContainerResult>;
  /** Sends a signal to the container's main process (as ECS StopTask does with SIGTERM). */
  kill(signal: NodeJS.Signals): void;
};

export type ContainerResult = {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The JSON lines of stdout and stderr (the structured log) in timestamp order; other lines are dropped. */
  readonly logs: readonly Record<string, unknown>[];
  readonly durationMs: number;
};

export type RunOptions = {
  readonly env?: Record<string, string>;
  /** host path → container path, read-only. */
  readonly mounts?: Record<string, string>;
  readonly extraArgs?: readonly string[];
};

/**
 * `podman run` as the issue prescribes: root file system read-only (podman mounts tmpfs on /tmp, /run, /var/tmp),
 * host network (the test servers listen on 127.0.0.1), no extra capabilities. Variables reach the container by
 * name (`--env NAME`) so their values never appear in podman's argv.
 */
export function startContainer(image: string, args: readonly string[], opts: RunOptions = {}): ContainerRun {
  const name = `rsb-test-${randomBytes(4).toString('hex')}`;
  const env = opts.env ?? {};
  const argv = [
    ...PODMAN_GLOBAL,
    'run',
    '--rm',
    '--name',
    name,
    '--network',
    'host',
    '--read-only',
    '--ulimit',
    'nofile=1024:1024',
    '--ulimit',
    'nproc=1024:1024',
    '--cap-drop=all',
    '--security-opt=no-new-privileges',
    ...Object.keys(env).flatMap((k) => ['--env', k]),
    ...Object.entries(opts.mounts ?? {}).flatMap(([host, inside]) => ['--volume', `${host}:${inside}:ro`]),
    ...(opts.extraArgs ?? []),
    image,
    ...args,
  ];
  const t0 = Date.now();
  const child = spawn('podman', argv, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const result = new Promise<ContainerResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      // Powertools writes INFO/DEBUG to stdout and WARN/ERROR to stderr; both reach the awslogs group.
      const logs = `${stdout}\n${stderr}`
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as Record<string, unknown>];
          } catch {
            return [];
          }
        });
      logs.sort((a, b) => String(a.timestamp ?? '').localeCompare(String(b.timestamp ?? '')));
      resolve({ code, stdout, stderr, logs, durationMs: Date.now() - t0 });
    });
  });
  return {
    name,
    result,
    kill: (signal) => {
      podman(['kill', '--signal', signal, name]);
    },
  };
}

export function runContainerToEnd(image: string, args: readonly string[], opts: RunOptions = {}): Promise<ContainerResult> {
  return startContainer(image, args, opts).result;
}

export function cleanupImages(built: BuiltImages | undefined, ids: readonly (string | undefined)[]): void {
  for (const id of ids) if (id) removeImage(id);
  if (built) rmSync(built.dir, { recursive: true, force: true });
}
