// The arm64 container image, built from the current sources and started on this x86_64 host under qemu's user-mode
// emulator (Debian qemu-user-static, installed by scripts/setup-test-deps.sh). There is no binfmt registration
// here, so podman cannot run a foreign image; instead the image's root file system is unpacked with umoci and its
// configured entrypoint (from the image config, not hard-coded), environment and working directory are run inside
// it: `unshare --user --map-root-user chroot <rootfs> /qemu-aarch64-static <entrypoint…>` (qemu is static, so a copy
// placed in the unpacked root file system runs there). So every absolute path the entrypoint uses resolves inside
// the image, as in a container. (qemu's own `-L` prefix does not do that for Node: it remaps only some system calls,
// and Node then fails to find /app/main.mjs.) It runs as the namespace's root, not as the image's user (a user
// namespace with only our uid mapped cannot switch to 65532); the amd64 image test covers the user under podman.
// `--version` is enough to prove that the arm64 Node, the bundled entrypoint and the image's C/C++ runtime load
// and run together. Not proven here: anything on real arm64 hardware (Graviton).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildImageLocked } from '../support/container.ts';
import { EM_AARCH64, elfMachine } from '../support/elf.ts';

const QEMU = 'qemu-aarch64-static';

type ImageConfig = {
  readonly architecture: string;
  readonly os: string;
  readonly config: {
    readonly Entrypoint?: string[];
    readonly Cmd?: string[];
    readonly Env?: string[];
    readonly User?: string;
  };
};

let work: string;
let rootfs: string;
let image: ImageConfig;
let manifestEntry: { architecture: string; variant: string; compressedBytes: number } | undefined;

before(() => {
  assert.equal(spawnSync(QEMU, ['--version']).status, 0, `${QEMU} missing: run bash scripts/setup-test-deps.sh`);
  work = mkdtempSync(path.join(os.tmpdir(), 'rsb-image-arm64-'));
  const out = path.join(work, 'out');
  buildImageLocked(['--arch', 'arm64', '--variant', 'backup', '--out', out]);
  const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as {
    images: { file: string; architecture: string; variant: string; compressedBytes: number }[];
  };
  manifestEntry = manifest.images.find((i) => i.file === 'image-backup-arm64.oci.tar');
  const layout = path.join(work, 'layout');
  mkdirSync(layout);
  execFileSync('tar', ['-xf', path.join(out, 'image-backup-arm64.oci.tar'), '-C', layout]);
  const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const tag = index.manifests[0]?.annotations?.['org.opencontainers.image.ref.name'];
  assert.ok(tag, 'the image in the archive is tagged');
  const blob = (digest: string): string => readFileSync(path.join(layout, 'blobs', ...digest.split(':')), 'utf8');
  const ociManifest = JSON.parse(blob(index.manifests[0]!.digest)) as { config: { digest: string } };
  image = JSON.parse(blob(ociManifest.config.digest)) as ImageConfig;
  const bundle = path.join(work, 'bundle');
  execFileSync('umoci', ['unpack', '--rootless', '--image', `${layout}:${tag}`, bundle], { stdio: ['ignore', 'pipe', 'pipe'] });
  rootfs = path.join(bundle, 'rootfs');
  const qemu = execFileSync('sh', ['-c', `command -v ${QEMU}`], { encoding: 'utf8' }).trim();
  copyFileSync(qemu, path.join(rootfs, QEMU));
});

/** Runs the image's entrypoint with `args` inside its root file system, under qemu, with only the image's environment. */
function runEntrypoint(args: readonly string[]): SpawnSyncReturns<string> {
  const entrypoint = image.config.Entrypoint ?? [];
  const env = Object.fromEntries((image.config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  const chroot = execFileSync('sh', ['-c', 'command -v chroot || echo /usr/sbin/chroot'], { encoding: 'utf8' }).trim();
  // chroot(8) starts in the new root's /; the entrypoint's paths are absolute, so the image's WorkingDir is not needed.
  return spawnSync('unshare', ['--user', '--map-root-user', chroot, rootfs, `/${QEMU}`, ...entrypoint, ...args], {
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
}

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the arm64 image is recorded in the artifacts manifest and its config says linux/arm64', () => {
  assert.equal(manifestEntry?.architecture, 'arm64');
  assert.equal(manifestEntry?.variant, 'backup');
  assert.equal(image.os, 'linux');
  assert.equal(image.architecture, 'arm64');
});

test("the arm64 image's entrypoint starts under qemu and prints its version (linux-arm64)", () => {
  const entrypoint = image.config.Entrypoint ?? [];
  assert.ok(entrypoint.length > 0, 'the image has an entrypoint');
  const program = entrypoint[0]!;
  assert.ok(path.isAbsolute(program), `entrypoint program ${program} is an absolute path`);
  assert.equal(elfMachine(path.join(rootfs, program)), EM_AARCH64, `${program} in the image is an arm64 executable`);
  const run = runEntrypoint(['--version']);
  assert.equal(run.status, 0, `exit ${run.status} signal ${run.signal}\n${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /^rds-s3-backup \S+ \(container; node v24\.\d+\.\d+, linux-arm64\)/);
});

test('under qemu the same entrypoint rejects an unknown command as the amd64 image does (exit 2, usage in the log)', () => {
  const run = runEntrypoint(['no-such-command']);
  assert.equal(run.status, 2, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout + run.stderr, /invalid command line/);
  assert.match(run.stdout + run.stderr, /usage: rds-s3-backup-container/);
});
