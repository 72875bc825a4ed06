import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { Lz4CompressionFilter } from '../../../src/postgres/compression-filter.ts';
import { rolesInGlobals } from '../../../src/postgres/sandboxed-target.ts';

test('rolesInGlobals takes only role names from CREATE ROLE lines; attributes and other SQL are ignored', () => {
  const sql = [
    'CREATE ROLE app;',
    'ALTER ROLE app WITH SUPERUSER INHERIT LOGIN;',
    'CREATE ROLE "Odd ""name""";',
    'DO $$ BEGIN PERFORM 1; END $$; CREATE ROLE sneaky;',
    'CREATE ROLE x; DROP TABLE y;',
  ].join('\n');
  assert.deepEqual(rolesInGlobals(sql), ['app', 'Odd "name"']);
});

async function run(input: string, chunk: number): Promise<{ out: string; removed: number }> {
  const f = new Lz4CompressionFilter();
  const parts: Buffer[] = [];
  const buf = Buffer.from(input);
  const pieces: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) pieces.push(buf.subarray(i, i + chunk));
  const piped = Readable.from(pieces).pipe(f);
  for await (const c of piped) parts.push(c as Buffer);
  return { out: Buffer.concat(parts).toString(), removed: f.removed };
}

test('Lz4CompressionFilter comments out SET COMPRESSION lz4 outside COPY data only, across any chunking', async () => {
  const script = [
    "SET default_toast_compression = 'lz4';",
    'CREATE TABLE public.docs (id integer, body text);',
    'ALTER TABLE ONLY public.docs ALTER COLUMN body SET COMPRESSION lz4;',
    'COPY public.docs (id, body) FROM stdin;',
    'ALTER TABLE ONLY public.docs ALTER COLUMN body SET COMPRESSION lz4;',
    '\\.',
    'ALTER TABLE ONLY public.docs ALTER COLUMN body SET COMPRESSION pglz;',
    '',
  ].join('\n');
  for (const chunk of [1, 7, 64, 10_000]) {
    const { out, removed } = await run(script, chunk);
    assert.equal(removed, 2, `chunk ${chunk}`);
    const lines = out.split('\n');
    assert.match(lines[0]!, /^-- SET default_toast_compression/);
    assert.match(lines[2]!, /^-- ALTER TABLE ONLY public.docs ALTER COLUMN body SET COMPRESSION lz4;/);
    assert.equal(lines[4], 'ALTER TABLE ONLY public.docs ALTER COLUMN body SET COMPRESSION lz4;', 'COPY data is untouched');
    assert.equal(lines[6], 'ALTER TABLE ONLY public.docs ALTER COLUMN body SET COMPRESSION pglz;');
    assert.equal(lines.length, script.split('\n').length);
  }
});
