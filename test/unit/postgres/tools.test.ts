import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { assertClientCanDump, locatePgTools, parsePgVersion } from '../../../src/postgres/tools.ts';
import { ToolError } from '../../../src/core/errors.ts';

async function fakeTools(dir: string, version: string): Promise<string> {
  await mkdir(path.join(dir, 'bin'), { recursive: true });
  for (const t of ['pg_dump', 'pg_dumpall', 'pg_restore', 'psql']) {
    await writeFile(path.join(dir, 'bin', t), `#!/bin/sh\necho "${t} (PostgreSQL) ${version}"\n`);
    await chmod(path.join(dir, 'bin', t), 0o755);
  }
  return dir;
}

test('search order: explicit → bundle → layer → PATH', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'rsb-tools-'));
  try {
    const explicit = await fakeTools(path.join(root, 'explicit'), '18.1');
    const bundle = await fakeTools(path.join(root, 'bundle'), '18.2');
    const layer = await fakeTools(path.join(root, 'layer'), '18.3');
    const onPath = await fakeTools(path.join(root, 'path'), '17.4');
    const env = { PATH: path.join(onPath, 'bin') };
    const none = path.join(root, 'missing');
    assert.equal((await locatePgTools(explicit, env, { bundleDir: bundle, layerDir: layer })).version, '18.1');
    assert.equal((await locatePgTools(null, env, { bundleDir: bundle, layerDir: layer })).source, 'bundle');
    assert.equal((await locatePgTools(null, env, { bundleDir: none, layerDir: layer })).source, 'layer');
    const fromPath = await locatePgTools(null, env, { bundleDir: none, layerDir: none });
    assert.equal(fromPath.source, 'path');
    assert.equal(fromPath.major, 17);
    await assert.rejects(locatePgTools(null, { PATH: none }, { bundleDir: none, layerDir: none }), /pg_dump not found/);
    await assert.rejects(locatePgTools(none, env), /no bin\/pg_dump/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a client older than the server is refused with a clear message', async () => {
  const tools = {
    source: 'path',
    dir: null,
    pgDump: '/usr/bin/pg_dump',
    pgDumpall: '',
    pgRestore: '',
    psql: '',
    version: '15.8',
    major: 15,
  } as const;
  assert.throws(
    () => assertClientCanDump(tools, 180004, '18.4'),
    (e: unknown) => e instanceof ToolError && /pg_dump 15.8 .* older than the server \(PostgreSQL 18.4\)/.test(e.message),
  );
  assert.doesNotThrow(() => assertClientCanDump(tools, 150012, '15.12'));
  assert.doesNotThrow(() => assertClientCanDump(tools, 130020, '13.20'));
});

test('version strings', () => {
  assert.deepEqual(parsePgVersion('pg_dump (PostgreSQL) 18.6 (Debian 18.6-3)'), { version: '18.6', major: 18 });
  assert.deepEqual(parsePgVersion('pg_dump (PostgreSQL) 19devel'), { version: '19', major: 19 });
});
