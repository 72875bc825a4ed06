// Server-side progress of a dump: a second session reads pg_stat_progress_copy (14+) or pg_stat_activity (13)
// while the real pg_dump runs through a rate-limited link (test/support/pg-throttle.ts), so the dump lasts
// seconds and the estimate is exercised, not mocked.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pgLib from 'pg';
import { executeBackup } from '../../src/app/backup.ts';
import type { DumpEstimate } from '../../src/core/backup/dump-progress.ts';
import type { BackupEvent } from '../../src/core/backup/run-backup.ts';
import { parseBackupConfig } from '../../src/core/config/backup-config.ts';
import { collectRaw } from '../../src/core/config/raw.ts';
import { copiedTable } from '../../src/postgres/progress-probe.ts';
import { startPgThrottle, type PgThrottle } from '../support/pg-throttle.ts';
import { MATRIX_CONCURRENCY, startPostgres, testMajors, type PgServer } from '../support/postgres.ts';

/** ~12 MB of table data in four tables of different shapes; pg_dump copies them in (schema, name) order. */
async function seed(pg: PgServer, db: string): Promise<void> {
  await pg.query(`create database ${db}`);
  await pg.query(
    `create schema a; create schema "B s";
     create table a.wide (id int, body text);
     insert into a.wide select i, repeat(md5(i::text), 8) from generate_series(1, 54000) i;
     create table a.narrow (id int, n bigint, f float8);
     insert into a.narrow select i, i * 7, i / 3.0 from generate_series(1, 360000) i;
     create table "B s"."Mixed Case" (id int, t text);
     insert into "B s"."Mixed Case" select i, md5(i::text) from generate_series(1, 120000) i;
     create table a.empty (id int);
     analyze;`,
    db,
  );
}

async function backupWithEvents(
  pg: { host: string; port: number; user: string; password: string },
  db: string,
): Promise<{ ok: boolean; events: BackupEvent[] }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'progress-'));
  try {
    const env = { PGHOST: pg.host, PGPORT: String(pg.port), PGUSER: pg.user, PGPASSWORD: pg.password, PGSSLMODE: 'disable' };
    const config = parseBackupConfig(collectRaw('backup', { to: `file://${dir}`, databases: db, compress: 'none' }, env));
    const events: BackupEvent[] = [];
    const report = await executeBackup(config, { env, onEvent: (e) => events.push(e) });
    return { ok: report.ok, events };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// Every supported major: 14+ read pg_stat_progress_copy (its columns differ by version), 13 the activity fallback.
describe('progress estimates on every supported major', { concurrency: MATRIX_CONCURRENCY }, () => {
  for (const major of testMajors()) {
    describe(`on PostgreSQL ${major}`, { concurrency: 1 }, () => {
      let pg: PgServer;
      let slow: PgThrottle;
      before(async () => {
        pg = await startPostgres({ major });
        await seed(pg, 'shop');
        // ~36 MB of COPY text at 3 MB/s: about twelve seconds of dump. Loopback socket buffers can hold ~10 MB, so
        // with less data an idle machine's server finishes every COPY before the first sample and nothing is seen.
        slow = await startPgThrottle({ host: pg.host, port: pg.port }, 3_000_000);
      });
      after(async () => {
        await slow?.stop();
        await pg?.stop();
      });

      test('percent climbs monotonically over the real tables, with a rate and an ETA; the backup is unchanged', async () => {
        const { ok, events } = await backupWithEvents({ host: slow.host, port: slow.port, user: pg.user, password: pg.password }, 'shop');
        assert.equal(ok, true);
        const estimates = events.flatMap((e) => (e.type === 'estimate' && e.estimate ? [e.estimate] : []));
        assert.ok(estimates.length >= 2, `estimates: ${estimates.length}`);
        const unknown = events.filter((e) => e.type === 'estimate' && !e.estimate);
        assert.deepEqual(unknown, []);
        for (let i = 1; i < estimates.length; i++) assert.ok(estimates[i]!.percent >= estimates[i - 1]!.percent, 'never goes back');
        const last = estimates.at(-1) as DumpEstimate;
        assert.equal(last.tablesTotal, 4);
        assert.equal(last.method, major >= 14 ? 'copy' : 'activity');
        assert.ok(last.percent > 30 && last.percent <= 100, `last percent ${last.percent}`);
        const tables = new Set(estimates.map((e) => e.currentTable).filter(Boolean));
        for (const t of tables) assert.ok(['a.narrow', 'a.wide', '"B s"."Mixed Case"', 'a.empty'].includes(t!), `table ${t}`);
        const withEta = estimates.filter((e) => e.etaMs !== null && e.bytesPerSecond !== null);
        assert.ok(withEta.length >= 1);
        // No estimate after the database's done event.
        const done = events.findIndex((e) => e.type === 'done');
        assert.ok(events.slice(done).every((e) => e.type !== 'estimate'));
      });
    });
  }
});

test('when the progress session cannot connect (no connection slot left), progress is unknown and the backup succeeds', async () => {
  // Two slots: the tool's own session and pg_dump's. The third, the probe, is refused by the server.
  const pg = await startPostgres({
    major: 18,
    settings: { max_connections: '3', superuser_reserved_connections: '0', reserved_connections: '0' },
  });
  const slow = await startPgThrottle({ host: pg.host, port: pg.port }, 3_000_000);
  try {
    await seed(pg, 'shop');
    // Fill the third slot while the backup runs.
    const blocker = new pgLib.Client({ host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: 'postgres' });
    await blocker.connect();
    try {
      const { ok, events } = await backupWithEvents({ host: slow.host, port: slow.port, user: pg.user, password: pg.password }, 'shop');
      assert.equal(ok, true);
      const unknown = events.filter((e) => e.type === 'estimate' && e.estimate === null);
      assert.equal(unknown.length, 1, JSON.stringify(events.filter((e) => e.type === 'estimate')));
      assert.match(String((unknown[0] as { reason: string }).reason), /too many clients|remaining connection slots/i);
    } finally {
      await blocker.end();
    }
  } finally {
    await slow.stop();
    await pg.stop();
  }
});

test('copiedTable reads the table out of the COPY statements pg_dump sends', () => {
  assert.equal(copiedTable('COPY public.t (a, b) TO stdout;'), 'public.t');
  assert.equal(copiedTable('COPY "B s"."Mixed Case" (id, t) TO stdout;'), '"B s"."Mixed Case"');
  assert.equal(copiedTable('COPY a."x""y" TO stdout;'), 'a."x""y"');
  assert.equal(copiedTable('select 1'), null);
});
