// pg_dump's stdout buffer (DUMP_STDOUT_BUFFER_BYTES): the bundled client, started by PgSource as every backup
// starts it, must write its archive in large blocks. glibc would otherwise size the buffer by st_blksize (4 KiB for
// the socket Node gives a child), and Node would pay a read and a stream hop for each of thousands of small writes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBackupConfig } from '../../src/core/config/backup-config.ts';
import { collectRaw } from '../../src/core/config/raw.ts';
import { resolveConnection } from '../../src/postgres/credentials.ts';
import { PgSource } from '../../src/postgres/source.ts';
import { locatePgTools } from '../../src/postgres/tools.ts';
import { startPostgres, type PgServer } from '../support/postgres.ts';

let pg: PgServer;

before(async () => {
  pg = await startPostgres({ major: 18 });
  await pg.query('create database blocks');
  // ~25 MB of hex text: compresses to several MB, enough for hundreds of reads either way.
  await pg.query(
    'create table t as select g, md5(g::text) || md5((g * 7)::text) || md5(random()::text) as a from generate_series(1, 250000) g',
    'blocks',
  );
});

after(async () => {
  await pg?.stop();
});

async function chunkSizes(source: PgSource): Promise<number[]> {
  const proc = await source.startDump({ database: 'blocks', compression: 'zstd:1', snapshot: null, lockWaitTimeout: null });
  const sizes: number[] = [];
  await proc.readOutput((chunk) => {
    sizes.push(chunk.length);
    return undefined;
  });
  const status = await proc.exited;
  assert.equal(status.code, 0, status.stderrTail);
  return sizes;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

test('the bundled pg_dump, as a backup starts it, writes its archive in blocks far larger than 4 KiB', async () => {
  const config = parseBackupConfig(collectRaw('backup', { to: 'file:///unused', databases: 'blocks' }, pg.env('blocks')));
  const conn = await resolveConnection(config.connection, config.auth, { env: {} });
  const tools = await locatePgTools(null, process.env);
  assert.equal(tools.source, 'bundle', 'this test is about the bundled client');
  const source = new PgSource(conn, tools);
  try {
    const sizes = await chunkSizes(source);
    const bytes = sizes.reduce((a, b) => a + b, 0);
    const small = sizes.filter((s) => s <= 4096).length;
    const detail = `${sizes.length} reads of ${bytes} bytes, median ${median(sizes)}, ${small} of at most 4 KiB`;
    assert.ok(bytes > 2_000_000, `the archive is too small to judge: ${detail}`);
    // 4 KiB stdio blocks give a median of 4 KiB or less (Node reads as fast as pg_dump writes); 256 KiB blocks
    // arrive as full 64 KiB reads (Node's read size), with the odd remainder of a socket buffer in between.
    assert.ok(median(sizes) >= 32 * 1024, detail);
    assert.ok(small <= sizes.length / 10, detail);
  } finally {
    await source.close();
  }
});
