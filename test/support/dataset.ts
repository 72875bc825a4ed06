// A small but realistic schema for round-trip tests, and a fingerprint that proves two databases hold the same data.
import type { PgServer } from './postgres.ts';

export async function seedShop(pg: PgServer, db: string, rows = 2000): Promise<void> {
  await pg.query(`create database "${db.replace(/"/g, '""')}"`);
  await pg.query(
    `create schema shop;
     create table shop.customers (id bigserial primary key, email text not null unique, name text, created_at timestamptz not null default now(), profile jsonb);
     create table shop.orders (id bigserial primary key, customer_id bigint not null references shop.customers(id), total numeric(12,2) not null,
                               placed_at timestamp not null, status text not null check (status in ('new','paid','shipped')), note bytea);
     create index on shop.orders (customer_id);
     insert into shop.customers (email, name, created_at, profile)
       select 'user' || i || '@example.com', 'User ' || i, timestamptz '2026-01-01' + (i || ' minutes')::interval,
              jsonb_build_object('tier', i % 3, 'tags', jsonb_build_array('a' || (i % 7), 'b'))
       from generate_series(1, ${rows}) i;
     insert into shop.orders (customer_id, total, placed_at, status, note)
       select 1 + (i % ${rows}), round((i * 3.7)::numeric % 1000, 2), timestamp '2026-02-01' + (i || ' seconds')::interval,
              (array['new','paid','shipped'])[1 + i % 3], decode(md5(i::text), 'hex')
       from generate_series(1, ${rows * 3}) i;
     create view shop.revenue as select status, count(*) as n, sum(total) as total from shop.orders group by status;
     create function shop.customer_total(cid bigint) returns numeric language sql stable as $$ select coalesce(sum(total), 0) from shop.orders where customer_id = cid $$;
     create sequence shop.invoice_no start 1000;
     select nextval('shop.invoice_no') from generate_series(1, 42);`,
    db,
  );
}

/** Row counts, an md5 over every row in key order, sequences, the view's output and the function's result. */
export async function fingerprint(pg: PgServer, db: string): Promise<Record<string, string>> {
  const one = async (sql: string): Promise<string> => {
    const rows = await pg.query<{ v: string }>(sql, db);
    return String(rows[0]?.v);
  };
  return {
    customers: await one(`select count(*) || ':' || md5(string_agg(c::text, '|' order by id)) as v from shop.customers c`),
    orders: await one(`select count(*) || ':' || md5(string_agg(o::text, '|' order by id)) as v from shop.orders o`),
    customersSeq: await one(`select last_value::text as v from shop.customers_id_seq`),
    invoiceSeq: await one(`select last_value || '/' || is_called as v from shop.invoice_no`),
    view: await one(`select string_agg(status || '=' || n || '=' || total, ',' order by status) as v from shop.revenue`),
    fn: await one(`select shop.customer_total(7)::text as v`),
  };
}
