// Reproducible benchmark datasets, generated inside PostgreSQL with generate_series and a fixed setseed() per
// table (pg_prng is deterministic, and every table is filled by one statement in one session, so the same
// scale gives the same rows on every machine).
//
// One database per size holds two schemas of about equal size, because they compress very differently:
// - `oltp`: pgbench-style (pgbench_branches/tellers/accounts/history with blank-padded char fillers, like
//   `pgbench -i`, plus non-zero balances and a history as left by a pgbench run);
// - `mixed`: one wide table with text (Zipf-distributed pseudo-words, so it compresses like prose rather
//   than like random letters), jsonb, bytea (60% of rows carry 0–256 random bytes: tokens, hashes, thumbnails),
//   numeric, double, boolean and timestamptz columns, and three B-tree indexes.
import type { PgServer } from '../test/support/postgres.ts';

export type DatasetPlan = {
  readonly database: string;
  /** pgbench scale: 100,000 accounts per unit. */
  readonly oltpScale: number;
  readonly mixedRows: number;
};

export type DatasetInfo = DatasetPlan & {
  readonly targetMb: number;
  readonly databaseBytes: number;
  readonly generateSeconds: number;
  readonly tables: ReadonlyArray<{ readonly table: string; readonly rows: number; readonly bytes: number }>;
  /** md5 over the first 1,000 rows of each table in key order: equal values mean an equal dataset. */
  readonly sampleMd5: string;
};

// Calibrated on PostgreSQL 18 (pg_total_relation_size incl. indexes): one pgbench scale unit ≈ 16.8 MB with
// the history table below; one mixed row ≈ 745 bytes. Half of the target goes to each schema.
const OLTP_MB_PER_SCALE = 16.8;
const MIXED_BYTES_PER_ROW = 745;

/** targetMb in MB (10^6 bytes) of pg_database_size. */
export function planDataset(database: string, targetMb: number): DatasetPlan {
  const oltpScale = Math.max(1, Math.round((targetMb * 0.5) / OLTP_MB_PER_SCALE));
  const mixedRows = Math.max(1000, Math.round((targetMb * 0.5 * 1e6) / MIXED_BYTES_PER_ROW));
  return { database, oltpScale, mixedRows };
}

function oltpSql(scale: number): string {
  const accounts = 100_000 * scale;
  const history = 20_000 * scale;
  return `
    select setseed(0.1701);
    create schema oltp;
    create table oltp.pgbench_branches (bid int not null, bbalance int, filler char(88)) with (fillfactor = 100);
    create table oltp.pgbench_tellers (tid int not null, bid int, tbalance int, filler char(84)) with (fillfactor = 100);
    create table oltp.pgbench_accounts (aid int not null, bid int, abalance int, filler char(84)) with (fillfactor = 100);
    create table oltp.pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22));
    insert into oltp.pgbench_branches select b, (random() * 2000000)::int - 1000000, null from generate_series(1, ${scale}) b;
    insert into oltp.pgbench_tellers select t, 1 + (t - 1) / 10, (random() * 200000)::int - 100000, null from generate_series(1, ${10 * scale}) t;
    insert into oltp.pgbench_accounts select a, 1 + (a - 1) / 100000, (random() * 20000)::int - 10000, '' from generate_series(1, ${accounts}) a;
    insert into oltp.pgbench_history
      select 1 + (random() * ${10 * scale - 1})::int, 1 + (random() * ${scale - 1})::int, 1 + (random() * ${accounts - 1})::int,
             (random() * 10000)::int - 5000, timestamp '2026-01-01' + random() * interval '30 days', null
      from generate_series(1, ${history});
    alter table oltp.pgbench_branches add primary key (bid);
    alter table oltp.pgbench_tellers add primary key (tid);
    alter table oltp.pgbench_accounts add primary key (aid);`;
}

function mixedSql(rows: number): string {
  // pow(random(), 3) skews picks towards the start of the vocabulary: a few words are very common, as in prose.
  const word = `voc.v[1 + (pow(random(), 3) * 4095)::int]`;
  const words = (min: number, spread: number): string =>
    `array_to_string(array(select ${word} from generate_series(1, ${min} + (random() * ${spread})::int)), ' ')`;
  const hashes = Array.from({ length: 8 }, () => 'sha256(float8send(random()))').join(' || ');
  return `
    select setseed(0.4242);
    create temp table vocab as
      select w, array_to_string(array(
               select (array['ka','lo','mi','ne','ru','ta','shi','ven','dor','al','en','is','or','un','tre','pa','go','li','mar',
                             'so','ber','cal','de','fi','ha','jo','ke','lan','mo','ni','pe','qui','ra','se','ti','u','va','we','xi','zo'])
                      [1 + (random() * 39)::int]
               from generate_series(1, 1 + (random() * 3)::int + w * 0)), '') as txt
      from generate_series(1, 4096) w;
    create schema mixed;
    create table mixed.events (
      id bigint not null,
      created_at timestamptz not null,
      customer text not null,
      title text not null,
      body text,
      amount numeric(14, 4) not null,
      score double precision,
      flagged boolean not null,
      attrs jsonb not null,
      payload bytea
    );
    insert into mixed.events
      select i,
             timestamptz '2024-01-01 00:00:00+00' + random() * interval '700 days',
             initcap(${word}) || ' ' || initcap(${word}),
             ${words(3, 5)},
             case when random() < 0.9 then ${words(5, 75)} end,
             round((random() * 100000)::numeric, 4),
             case when random() < 0.8 then random() * 1000 end,
             random() < 0.05,
             jsonb_build_object(
               'sku', 'SKU-' || lpad((random() * 99999)::int::text, 5, '0'),
               'qty', 1 + (random() * 9)::int,
               'price', round((random() * 500)::numeric, 2),
               'tags', jsonb_build_array(${word}, ${word}, ${word}),
               'ship', jsonb_build_object('country', (array['DE','FR','US','GB','NL','ES','IT','PL','SE','JP'])[1 + (random() * 9)::int],
                                          'express', random() < 0.2),
               'source', (array['web','ios','android','api'])[1 + (random() * 3)::int]),
             case when random() < 0.6 then substring(${hashes} from 1 for (random() * 256)::int) end
      from generate_series(1, ${rows}) i, (select array_agg(txt order by w) as v from vocab) voc;
    alter table mixed.events add primary key (id);
    create index events_created_at on mixed.events (created_at);
    create index events_customer on mixed.events (customer);`;
}

export async function createDataset(pg: PgServer, plan: DatasetPlan, targetMb: number): Promise<DatasetInfo> {
  const t0 = performance.now();
  await pg.query(`create database ${plan.database}`);
  // Each schema in one session and one transaction: setseed() governs every random() that follows.
  await pg.query(`set max_parallel_workers_per_gather = 0; begin; ${oltpSql(plan.oltpScale)} commit;`, plan.database);
  await pg.query(`set max_parallel_workers_per_gather = 0; begin; ${mixedSql(plan.mixedRows)} commit;`, plan.database);
  // Frozen and with hint bits set, so the first dump does not pay for writing them.
  await pg.query('vacuum (freeze, analyze)', plan.database);
  const generateSeconds = (performance.now() - t0) / 1000;
  return { ...plan, targetMb, generateSeconds, ...(await describeDataset(pg, plan.database)) };
}

async function describeDataset(pg: PgServer, database: string): Promise<Pick<DatasetInfo, 'databaseBytes' | 'tables' | 'sampleMd5'>> {
  const [size] = await pg.query<{ bytes: string }>(`select pg_database_size(current_database())::text as bytes`, database);
  const tables = await pg.query<{ table: string; rows: string; bytes: string }>(
    `select n.nspname || '.' || c.relname as table, c.reltuples::bigint::text as rows, pg_total_relation_size(c.oid)::text as bytes
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind = 'r' and n.nspname in ('oltp', 'mixed') order by 1`,
    database,
  );
  const [sample] = await pg.query<{ md5: string }>(
    `select md5(string_agg(h, '' order by k)) as md5 from (
       select 1 as k, (select md5(string_agg(t::text, '|' order by aid)) from (select * from oltp.pgbench_accounts order by aid limit 1000) t) as h
       union all select 2, (select md5(string_agg(t::text, '|' order by mtime, aid, delta)) from (select * from oltp.pgbench_history order by mtime, aid, delta limit 1000) t)
       union all select 3, (select md5(string_agg(t::text, '|' order by id)) from (select * from mixed.events order by id limit 1000) t)) s`,
    database,
  );
  return {
    databaseBytes: Number(size?.bytes ?? 0),
    tables: tables.map((t) => ({ table: t.table, rows: Number(t.rows), bytes: Number(t.bytes) })),
    sampleMd5: sample?.md5 ?? '',
  };
}
