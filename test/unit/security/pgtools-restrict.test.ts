// restore and verify refuse pg_restore/psql too old for \restrict (CVE-2025-8714), wherever they were found.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../../src/cli/main.ts';
import { ToolError } from '../../../src/core/errors.ts';
import { locatePgTools } from '../../../src/postgres/tools.ts';
import { assertRestrictSupport, hasRestrictFix } from '../../../src/postgres/tools-restrict.ts';

async function fakeTools(dir: string, versions: Record<string, string>): Promise<string> {
  await mkdir(path.join(dir, 'bin'), { recursive: true });
  for (const t of ['pg_dump', 'pg_dumpall', 'pg_restore', 'psql']) {
    await writeFile(path.join(dir, 'bin', t), `#!/bin/sh\necho "${t} (PostgreSQL) ${versions[t] ?? '18.1'}"\n`);
    await chmod(path.join(dir, 'bin', t), 0o755);
  }
  return dir;
}

test('the first fixed minor of each major', () => {
  for (const v of ['13.22', '14.19', '15.14', '16.10', '17.6', '17.10', '18.0', '18.6', '19']) assert.equal(hasRestrictFix(v), true, v);
  for (const v of ['12.22', '13.21', '14.18', '15.13', '16.9', '17.5', '17.0', 'junk']) assert.equal(hasRestrictFix(v), false, v);
});

test('old pg_restore or psql is refused, from --pgtools-dir and from PATH', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'rsb-restrict-'));
  try {
    const none = path.join(root, 'none');
    const oldRestore = await fakeTools(path.join(root, 'a'), { pg_restore: '17.5' });
    const oldPsql = await fakeTools(path.join(root, 'b'), { psql: '16.9' });
    const good = await fakeTools(path.join(root, 'c'), { pg_dump: '17.6', pg_restore: '17.6', psql: '16.10' });
    await assert.rejects(
      assertRestrictSupport(await locatePgTools(oldRestore, {})),
      (e: Error) => e instanceof ToolError && /pg_restore 17\.5 .*from explicit.*CVE-2025-8714/.test(e.message),
    );
    const fromPath = await locatePgTools(null, { PATH: path.join(oldPsql, 'bin') }, { bundleDir: none, layerDir: none });
    await assert.rejects(assertRestrictSupport(fromPath), (e: Error) => e instanceof ToolError && /psql 16\.9 .*from path/.test(e.message));
    await assertRestrictSupport(await locatePgTools(good, {}));

    // As users meet it: the CLI stops before connecting anywhere.
    let err = '';
    const code = await main(
      [
        'restore',
        '--from',
        `file://${root}`,
        '--database',
        'app',
        '--latest',
        '--target',
        'host=127.0.0.1 port=1 dbname=x',
        '--pgtools-dir',
        oldRestore,
      ],
      {
        stdout: { write: () => undefined, isTTY: false },
        stderr: {
          write: (t) => {
            err += t;
          },
          isTTY: false,
        },
        env: {},
      },
    );
    assert.equal(code, 1);
    assert.match(err, /pg_restore 17\.5 .* too old to restore safely/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
