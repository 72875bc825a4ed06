import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readToc, type ArchiveToc, type TocEntry } from '../../../../src/core/archive/toc.ts';
import { databaseEntries, parseQualifiedName, resolveFilters } from '../../../../src/core/restore/filters.ts';

const FIXTURE = readToc(readFileSync(new URL('../../../fixtures/pg18-small.dump', import.meta.url)))!;
const base = { schemas: [] as string[], tables: [] as string[], noOwner: false, noAcl: false, clean: false };

function tocWith(entries: Array<[string, string | null, string]>): ArchiveToc {
  return {
    header: FIXTURE.header,
    entries: entries.map(
      ([desc, namespace, tag], i): TocEntry => ({ dumpId: i + 1, desc, namespace, tag, owner: 'o', section: 2, hasData: false }),
    ),
  };
}

test('qualified names: table, schema.table, "quoted"."names"', () => {
  assert.deepEqual(parseQualifiedName('items'), { schema: null, name: 'items' });
  assert.deepEqual(parseQualifiedName('sales.Orders'), { schema: 'sales', name: 'Orders' });
  assert.deepEqual(parseQualifiedName('"my.schema"."a""b"'), { schema: 'my.schema', name: 'a"b' });
  assert.equal(parseQualifiedName('a.b.c'), undefined);
  assert.equal(parseQualifiedName('"open'), undefined);
});

test('tables are checked against the TOC and turned into -n/-t', () => {
  assert.deepEqual(resolveFilters(FIXTURE, { ...base, tables: ['sales.Orders'] }).filters, {
    ...base,
    schemas: ['sales'],
    tables: ['Orders'],
  });
  assert.deepEqual(resolveFilters(FIXTURE, { ...base, tables: ['items'] }).selectedTables, ['public.items']);
  assert.throws(() => resolveFilters(FIXTURE, { ...base, tables: ['orders'] }), /table orders is not in this backup/);
  assert.throws(() => resolveFilters(FIXTURE, { ...base, schemas: ['nope'] }), /schema "nope" is not in this backup/);
  assert.throws(
    () => resolveFilters(FIXTURE, { ...base, schemas: ['public'], tables: ['Orders'] }),
    /not in this backup \(in schema\(s\) public\)/,
  );
});

test('selections pg_restore cannot express exactly are refused instead of restoring more or less', () => {
  const toc = tocWith([
    ['TABLE', 'a', 'x'],
    ['TABLE', 'a', 'y'],
    ['TABLE', 'b', 'x'],
    ['TABLE', 'b', 'y'],
    ['TABLE', 'public', 'z'],
  ]);
  assert.throws(() => resolveFilters(toc, { ...base, tables: ['x'] }), /exists in several schemas \(a, b\)/);
  assert.throws(() => resolveFilters(toc, { ...base, tables: ['a.x', 'b.y'] }), /would also restore a\.y, b\.x/);
  assert.throws(() => resolveFilters(toc, { ...base, tables: ['a.x', 'z'] }), /would leave out public\.z/);
  assert.deepEqual(resolveFilters(toc, { ...base, tables: ['a.x', 'a.y'] }).selectedTables, ['a.x', 'a.y']);
});

test('no TOC (newer archive): names pass through unchecked, but cannot be qualified', () => {
  assert.deepEqual(resolveFilters(null, { ...base, tables: ['t'] }).filters.tables, ['t']);
  assert.throws(() => resolveFilters(null, { ...base, tables: ['s.t'] }), /cannot be schema-qualified/);
});

test('--create uses the DATABASE entry and its comment/properties', () => {
  const toc = tocWith([
    ['DATABASE', null, 'app'],
    ['COMMENT', null, 'DATABASE app'],
    ['DATABASE PROPERTIES', null, 'app'],
    ['COMMENT', 'public', 'TABLE t'],
  ]);
  assert.deepEqual(databaseEntries(toc), { name: 'app', ids: [1, 2, 3] });
  assert.deepEqual(databaseEntries(FIXTURE)?.name, 'fixture');
});
