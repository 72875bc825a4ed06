import { execFile } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { PgTools } from './tools.ts';

/**
 * Size of pg_dump's stdout buffer. glibc sizes it by st_blksize, 4 KiB for the socket Node gives a child, so pg_dump
 * writes a 100 MB archive in ~4,700 writes, most of them 4 KiB, and Node pays a read, an allocation and a stream
 * hop for each. With 256 KiB it is ~360 writes, and Node reads ~1,800 chunks of up to 64 KiB instead of ~3,900
 * (measured on a 94 MB archive; docs/benchmarks.md).
 */
export const DUMP_STDOUT_BUFFER_BYTES = 256 * 1024;

/** Where coreutils puts libstdbuf (Debian/Ubuntu, Arch, Fedora/RHEL), after the container image's library dir. */
const SYSTEM_STDBUF = ['/usr/libexec/coreutils/libstdbuf.so', '/usr/lib/coreutils/libstdbuf.so', '/usr/lib64/coreutils/libstdbuf.so'];
const execFileAsync = promisify(execFile);
const TRIPLET: Readonly<Record<string, string>> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

export type FileProbe = {
  readonly exists: (file: string) => boolean;
  /** The first bytes of a file ("" when unreadable). */
  readonly head: (file: string) => string;
};

const realProbe: FileProbe = {
  exists: existsSync,
  head(file) {
    try {
      const fd = openSync(file, 'r');
      try {
        const b = Buffer.alloc(2);
        return b.subarray(0, readSync(fd, b, 0, 2, 0)).toString('latin1');
      } finally {
        closeSync(fd);
      }
    } catch {
      return '';
    }
  },
};

/**
 * What pg_dump's environment needs for a 256 KiB stdout buffer, by coreutils' libstdbuf (which reads `_STDBUF_O`):
 * - the bundle's sh wrapper preloads its own lib/libstdbuf.so when `_STDBUF_O` is set (it clears LD_PRELOAD);
 * - any other pg_dump (the container image's /opt/pgtools, a distribution's package or its wrapper script) gets
 *   LD_PRELOAD of a libstdbuf from the system's library directories, which only root can write, like the
 *   pg_dump binary itself (checkedDumpBufferEnv first proves that pg_dump still runs with it).
 * Without any libstdbuf, nothing: pg_dump works as before, with more and smaller writes.
 */
export function dumpBufferEnv(
  tools: Pick<PgTools, 'dir' | 'pgDump'>,
  probe: FileProbe = realProbe,
  arch: string = process.arch,
): Record<string, string> {
  const size = { _STDBUF_O: String(DUMP_STDOUT_BUFFER_BYTES) };
  const bundled = tools.dir !== null && probe.exists(path.join(tools.dir, 'lib', 'libstdbuf.so'));
  if (bundled && probe.head(tools.pgDump) === '#!') return size;
  const lib = systemStdbufCandidates(arch).find((f) => probe.exists(f));
  return lib ? { ...size, LD_PRELOAD: lib } : {};
}

/** Where a system libstdbuf is looked for, in order: the container image's library directory first. */
export function systemStdbufCandidates(arch: string = process.arch): string[] {
  const triplet = TRIPLET[arch];
  return [...(triplet ? [`/usr/lib/${triplet}/libstdbuf.so`] : []), ...SYSTEM_STDBUF];
}

export type VersionRun = (file: string, env: Record<string, string>) => Promise<{ readonly stderr: string }>;

const runVersion: VersionRun = async (file, env) => {
  const { stderr } = await execFileAsync(file, ['--version'], { env, timeout: 15_000 });
  return { stderr };
};

/**
 * dumpBufferEnv, but a system libstdbuf is only preloaded if `pg_dump --version` runs with it and says nothing on
 * stderr: a pg_dump that carries its own, older glibc would refuse a library built for the system's (a missing
 * symbol version is fatal, not a warning), and the backup must not fail for a buffer size.
 */
export async function checkedDumpBufferEnv(
  tools: Pick<PgTools, 'dir' | 'pgDump'>,
  probe: FileProbe = realProbe,
  run: VersionRun = runVersion,
): Promise<Record<string, string>> {
  const env = dumpBufferEnv(tools, probe);
  if (env['LD_PRELOAD'] === undefined) return env;
  try {
    const { stderr } = await run(tools.pgDump, env);
    return stderr.trim() === '' ? env : {};
  } catch {
    // pg_dump refused the library: run it as before. (Its own failures show when the dump starts.)
    return {};
  }
}
