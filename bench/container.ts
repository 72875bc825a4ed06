// Backup of the benchmark's 1 GB database inside the container image (podman + runc, read-only root, host
// network) vs the CLI on the host, both into moto on the same machine with Secrets Manager auth, alternating runs.
// Not part of `npm test` or `npm run bench`; run once with `node bench/container.ts [--mb 1000] [--reps 3]`
// after `npm run image`. Prints one Markdown table.
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { loadImage, removeImage, runContainerToEnd } from '../test/support/container.ts';
import { startMoto } from '../test/support/moto.ts';
import { startPostgres } from '../test/support/postgres.ts';
import { createDataset, planDataset } from './dataset.ts';
import { SERVER_SETTINGS } from './harness.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const MB = arg('mb', 1000);
const REPS = arg('reps', 3);
const ARCHIVE = path.join(REPO, 'dist', `image-backup-${process.arch === 'arm64' ? 'arm64' : 'amd64'}.oci.tar`);

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function runCli(env: Record<string, string>): Promise<{ code: number | null; ms: number; stderr: string }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [path.join(REPO, 'bin', 'rds-s3-backup.js'), 'backup', '--quiet'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, ms: performance.now() - t0, stderr })));
}

const [pg, moto] = await Promise.all([startPostgres({ major: 18, settings: SERVER_SETTINGS }), startMoto()]);
const image = loadImage(ARCHIVE);
try {
  const plan = planDataset(`bench_${MB}mb`, MB);
  const info = await createDataset(pg, plan, MB);
  console.error(`dataset ${plan.database}: ${(info.databaseBytes / 1e9).toFixed(2)} GB in ${info.generateSeconds.toFixed(0)} s`);
  const secrets = new SecretsManagerClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
  const secretId = (
    await secrets.send(
      new CreateSecretCommand({
        Name: 'bench',
        SecretString: JSON.stringify({ username: pg.user, password: pg.password, host: '127.0.0.1', port: pg.port }),
      }),
    )
  ).ARN!;
  secrets.destroy();
  const bucket = await moto.createBucket();
  const common = {
    ...moto.env(),
    RDS_S3_BACKUP_SECRET_ID: secretId,
    RDS_S3_BACKUP_DATABASES: plan.database,
    RDS_S3_BACKUP_TO: `s3://${bucket}/bench`,
    PGSSLMODE: 'disable',
    POWERTOOLS_METRICS_DISABLED: 'true',
  };
  const container: number[] = [];
  const inside: number[] = [];
  const cli: number[] = [];
  const loads: number[] = [];
  for (let i = 0; i < REPS; i++) {
    loads.push(os.loadavg()[0]!);
    const c = await runContainerToEnd(image, ['backup'], { env: common });
    if (c.code !== 0) throw new Error(`container backup failed: ${c.stdout}\n${c.stderr}`);
    container.push(c.durationMs);
    inside.push(Number(c.logs.find((l) => l.message === 'backup finished')?.durationMs));
    const h = await runCli({ PATH: '/usr/bin:/bin', HOME: os.tmpdir(), ...common, PGUSER: pg.user, RDS_S3_BACKUP_AUTH: 'secret' });
    if (h.code !== 0) throw new Error(`CLI backup failed: ${h.stderr}`);
    cli.push(h.ms);
  }
  loads.push(os.loadavg()[0]!);
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`| ${(info.databaseBytes / 1e9).toFixed(2)} GB → S3 (moto), zstd default, ${REPS} alternating runs | median | min–max |`);
  console.log('| --- | --- | --- |');
  console.log(`| CLI on the host (\`rds-s3-backup backup\`) | ${s(median(cli))} | ${s(Math.min(...cli))}–${s(Math.max(...cli))} |`);
  console.log(
    `| container, \`podman run\` to exit | ${s(median(container))} | ${s(Math.min(...container))}–${s(Math.max(...container))} |`,
  );
  console.log(`| container, the entrypoint's own duration | ${s(median(inside))} | ${s(Math.min(...inside))}–${s(Math.max(...inside))} |`);
  console.log(`\n1-min load average during the runs: ${loads.map((l) => l.toFixed(2)).join(', ')} (2 cores, shared)`);
} finally {
  removeImage(image);
  await Promise.all([pg.stop(), moto.stop()]);
}
