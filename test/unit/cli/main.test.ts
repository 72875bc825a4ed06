import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../../src/cli/main.ts';

function capture(): { out: string[]; err: string[]; io: Parameters<typeof main>[1] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: { write: (t: string) => void out.push(t), isTTY: false },
      stderr: { write: (t: string) => void err.push(t), isTTY: false },
      env: { PGPASSWORD: 'never-print-this-value' },
      signal: new AbortController().signal,
    },
  };
}

test('no command prints help and exits 2; --help exits 0', async () => {
  const a = capture();
  assert.equal(await main([], a.io), 2);
  assert.match(a.out.join(''), /Usage: rds-s3-backup <command>/);
  const b = capture();
  assert.equal(await main(['backup', '--help'], b.io), 0);
  assert.match(b.out.join(''), /Examples:/);
});

test('invalid configuration exits 2 and names the fields, without the password', async () => {
  const c = capture();
  assert.equal(await main(['backup', '--compress', 'zip'], c.io), 2);
  const err = c.err.join('');
  assert.match(err, /--to \/ RDS_S3_BACKUP_TO: is required/);
  assert.match(err, /--compress/);
  assert.ok(!err.includes('never-print-this-value'));
});

test('unknown flags and commands are usage errors', async () => {
  const c = capture();
  assert.equal(await main(['backup', '--password', 'x'], c.io), 2);
  assert.match(c.err.join(''), /Unknown option '--password'/);
  const d = capture();
  assert.equal(await main(['bakcup'], d.io), 2);
  assert.match(d.err.join(''), /unknown command "bakcup"/);
});

test('a stray word on the command line is a usage error naming it, not silently ignored', async () => {
  // `backup --to s3://b/p app` used to back up `postgres` (the default), not `app`.
  for (const argv of [
    ['backup', '--to', 's3://b/p', 'app'],
    ['list', 'app', '--from', 's3://b/p'],
    ['restore', '--from', 's3://b/p', '--latest', '--database', 'app', '--target', 'dbname=x', 'extra'],
    ['verify', '--from', 's3://b/p', '--latest', 'app'],
  ]) {
    const c = capture();
    assert.equal(await main(argv, c.io), 2, argv.join(' '));
    const word = argv.includes('extra') ? 'extra' : 'app';
    assert.match(c.err.join(''), new RegExp(`unexpected argument "${word}"`), argv.join(' '));
  }
});
