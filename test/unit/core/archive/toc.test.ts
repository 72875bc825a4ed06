import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { NotAnArchiveError, TocReader, readToc, summarizeToc } from '../../../../src/core/archive/toc.ts';

// A real pg_dump 18 custom-format archive (see test/fixtures/README.md).
const fixture = readFileSync(new URL('../../../fixtures/pg18-small.dump', import.meta.url));

test('reads header and TOC of a real pg_dump 18 archive', () => {
  const toc = readToc(fixture)!;
  assert.equal(toc.header.format, 'custom');
  assert.equal(toc.header.databaseName, 'fixture');
  assert.match(toc.header.dumpVersion ?? '', /^18\./);
  const s = summarizeToc(toc);
  assert.deepEqual(s.tables, ['public.items', 'sales.Orders']);
  assert.equal(s.byType.FUNCTION, 1);
  assert.equal(s.byType['TABLE DATA'], 2);
  assert.ok(s.schemas.includes('sales'));
});

test('byte-at-a-time feeding gives the same result', () => {
  const r = new TocReader();
  for (let i = 0; i < fixture.length; i += 7) r.feed(fixture.subarray(i, i + 7));
  assert.deepEqual(summarizeToc(r.finish()!), summarizeToc(readToc(fixture)!));
});

test('a non-archive fails on its first bytes', () => {
  const r = new TocReader();
  r.feed(Buffer.from('--\n-- PostgreSQL database dump\n'));
  assert.ok(r.error instanceof NotAnArchiveError);
});

test('an archive cut inside its TOC is refused', () => {
  assert.throws(() => readToc(fixture.subarray(0, 300)), NotAnArchiveError);
});

test('a newer archive version is accepted without a summary', () => {
  const copy = Buffer.from(fixture);
  copy[6] = 99; // minor version
  assert.equal(readToc(copy), null);
});
