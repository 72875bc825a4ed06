import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  checkedDumpBufferEnv,
  DUMP_STDOUT_BUFFER_BYTES,
  dumpBufferEnv,
  type FileProbe,
  systemStdbufCandidates,
} from '../../../src/postgres/dump-buffer.ts';

function probe(files: Record<string, string>): FileProbe {
  return { exists: (f) => f in files, head: (f) => (files[f] ?? '').slice(0, 2) };
}
const SIZE = String(DUMP_STDOUT_BUFFER_BYTES);

test('the bundle (sh wrapper + lib/libstdbuf.so): only _STDBUF_O, the wrapper preloads its own copy', () => {
  const files = { '/b/bin/pg_dump': '#!/bin/sh', '/b/lib/libstdbuf.so': '\x7fELF', '/usr/libexec/coreutils/libstdbuf.so': '\x7fELF' };
  assert.deepEqual(dumpBufferEnv({ dir: '/b', pgDump: '/b/bin/pg_dump' }, probe(files)), { _STDBUF_O: SIZE });
});

test("the container image (ELF pg_dump, libraries in the triplet dir): LD_PRELOAD of the image's libstdbuf", () => {
  const files = { '/opt/pgtools/bin/pg_dump': '\x7fELF', '/usr/lib/aarch64-linux-gnu/libstdbuf.so': '\x7fELF' };
  assert.deepEqual(dumpBufferEnv({ dir: '/opt/pgtools', pgDump: '/opt/pgtools/bin/pg_dump' }, probe(files), 'arm64'), {
    _STDBUF_O: SIZE,
    LD_PRELOAD: '/usr/lib/aarch64-linux-gnu/libstdbuf.so',
  });
});

test("a distribution's pg_dump (even its wrapper script): LD_PRELOAD of coreutils' libstdbuf where it is installed", () => {
  const files = { '/usr/bin/pg_dump': '#!/usr/bin/perl', '/usr/lib64/coreutils/libstdbuf.so': '\x7fELF' };
  assert.deepEqual(dumpBufferEnv({ dir: null, pgDump: '/usr/bin/pg_dump' }, probe(files), 'x64'), {
    _STDBUF_O: SIZE,
    LD_PRELOAD: '/usr/lib64/coreutils/libstdbuf.so',
  });
});

test('no libstdbuf anywhere: nothing added, pg_dump runs as before', () => {
  const files = { '/b/bin/pg_dump': '#!/bin/sh' };
  assert.deepEqual(dumpBufferEnv({ dir: '/b', pgDump: '/b/bin/pg_dump' }, probe(files), 'x64'), {});
});

const ELF_PGDUMP = { '/usr/bin/pg_dump': '\x7fELF', '/usr/libexec/coreutils/libstdbuf.so': '\x7fELF' };
const tools = { dir: null, pgDump: '/usr/bin/pg_dump' };

test('a system libstdbuf is kept only if pg_dump --version runs with it and prints nothing on stderr', async () => {
  const seen: Record<string, string>[] = [];
  const ok = await checkedDumpBufferEnv(tools, probe(ELF_PGDUMP), async (_f, env) => {
    seen.push(env);
    return { stderr: '' };
  });
  assert.equal(ok['LD_PRELOAD'], '/usr/libexec/coreutils/libstdbuf.so');
  assert.equal(seen[0]?.['LD_PRELOAD'], '/usr/libexec/coreutils/libstdbuf.so', 'probed with the same environment');
  // A pg_dump with its own older glibc: a missing symbol version is fatal.
  const refused = await checkedDumpBufferEnv(tools, probe(ELF_PGDUMP), () =>
    Promise.reject(new Error("version `GLIBC_2.99' not found (required by libstdbuf.so)")),
  );
  assert.deepEqual(refused, {});
  const warned = await checkedDumpBufferEnv(tools, probe(ELF_PGDUMP), async () => ({ stderr: 'ERROR: ld.so: object cannot be preloaded' }));
  assert.deepEqual(warned, {});
});

test('the bundle needs no probe: its wrapper preloads the library built with its own glibc', async () => {
  const files = { '/b/bin/pg_dump': '#!/bin/sh', '/b/lib/libstdbuf.so': '\x7fELF' };
  const env = await checkedDumpBufferEnv({ dir: '/b', pgDump: '/b/bin/pg_dump' }, probe(files), () => {
    throw new Error('must not run');
  });
  assert.deepEqual(env, { _STDBUF_O: SIZE });
});

test('with a real process: a preload the loader cannot honour (it warns on stderr) ⇒ pg_dump runs without it', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rsb-dumpbuf-'));
  try {
    const fake = path.join(dir, 'pg_dump');
    await writeFile(fake, '#!/bin/sh\necho "pg_dump (PostgreSQL) 16.4"\n', { mode: 0o755 });
    // The probe claims a library where there is none, so the real loader warns that it cannot preload it.
    const missing = systemStdbufCandidates(process.arch).find((f) => !existsSync(f));
    assert.ok(missing, 'every candidate path exists on this host');
    const env = await checkedDumpBufferEnv({ dir: null, pgDump: fake }, { exists: (f) => f === missing, head: () => '#!' });
    assert.deepEqual(env, {});
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
