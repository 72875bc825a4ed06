import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DUMP_STDOUT_BUFFER_BYTES, dumpBufferEnv, type FileProbe } from '../../../src/postgres/dump-buffer.ts';

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
