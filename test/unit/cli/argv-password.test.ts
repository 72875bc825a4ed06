import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flagsWithPassword } from '../../../src/cli/argv-password.ts';
import { main } from '../../../src/cli/main.ts';

const PW = 'Qx8-argv-visible-pw';

function capture(): { err: string[]; io: Parameters<typeof main>[1] } {
  const err: string[] = [];
  return {
    err,
    io: {
      stdout: { write: () => undefined, isTTY: false },
      stderr: { write: (t: string) => void err.push(t), isTTY: false },
      env: {},
      signal: new AbortController().signal,
    },
  };
}

test('a password inside --dbname or --target is detected, in URL and key=value form, malformed or not', () => {
  assert.deepEqual(flagsWithPassword({ dbname: `postgres://u:${PW}@h:5432/db` }), ['--dbname']);
  assert.deepEqual(flagsWithPassword({ dbname: `host=h user=u password='${PW}' dbname=db` }), ['--dbname']);
  assert.deepEqual(flagsWithPassword({ target: `postgresql://u:${encodeURIComponent(PW)}@h/db` }), ['--target']);
  assert.deepEqual(flagsWithPassword({ dbname: `postgres://u:${PW}@h:notaport/db` }), ['--dbname']);
  assert.deepEqual(flagsWithPassword({ dbname: 'postgres://u@h/db', target: 'host=h user=u dbname=x' }), []);
  assert.deepEqual(flagsWithPassword({ dbname: 'app' }), []);
});

test('the CLI warns on stderr, naming the flag and the alternatives, never the password', async () => {
  for (const [command, flag, value] of [
    ['backup', '--dbname', `postgres://u:${PW}@127.0.0.1:1/db`],
    ['verify', '--target', `host=127.0.0.1 password=${PW}`],
    ['restore', '--target', `postgres://u:${PW}@127.0.0.1:1/db`],
  ] as const) {
    const c = capture();
    // Invalid otherwise (no --to / --from): the warning comes before the configuration error, nothing connects.
    await main([command, flag, value], c.io);
    const err = c.err.join('');
    assert.match(err, new RegExp(`^warning: ${flag} contains a password, which every user of this machine can read \\(ps, /proc\\)`, 'm'));
    assert.match(err, /use PGPASSWORD, a passfile \(PGPASSFILE or ~\/\.pgpass\) or --auth secret\|iam instead/);
    assert.ok(!err.includes(PW), err);
  }
  const quiet = capture();
  await main(['backup', '--dbname', 'postgres://u@127.0.0.1:1/db'], quiet.io);
  assert.doesNotMatch(quiet.err.join(''), /warning:/);
});
