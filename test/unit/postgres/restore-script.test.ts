import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CommitGate, TransactionTimeoutFilter } from '../../../src/postgres/restore-script.ts';

const HEADER = [
  'BEGIN;',
  '',
  'SET statement_timeout = 0;',
  'SET lock_timeout = 0;',
  'SET idle_in_transaction_session_timeout = 0;',
  'SET transaction_timeout = 0;',
  "SET client_encoding = 'UTF8';",
  '',
].join('\n');

async function filterText(text: string, chunkSize: number): Promise<{ out: string; removed: number }> {
  const f = new TransactionTimeoutFilter();
  const buf = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunkSize) chunks.push(buf.subarray(i, i + chunkSize));
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    f,
    new Writable({
      write: (c: Buffer, _e, cb) => {
        out.push(c);
        cb();
      },
    }),
  );
  return { out: Buffer.concat(out).toString(), removed: f.removed };
}

// The statement can appear as COPY data (a text column holding exactly those lines) and inside function bodies.
const SCRIPT =
  HEADER +
  '\nCREATE TABLE public.t (v text);\n' +
  'COPY public.t (v) FROM stdin;\n' +
  'SET idle_in_transaction_session_timeout = 0;\nSET transaction_timeout = 0;\n' +
  '\\.\n' +
  'COPY public.empty (v) FROM stdin;\n\\.\n' +
  'CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$\nBEGIN\nSET transaction_timeout = 0;\nEND $$;\n' +
  'COMMIT;\n';

test('removes exactly the header SET transaction_timeout, wherever the chunk boundaries fall', async () => {
  for (const size of [1, 2, 3, 5, 7, 64, 100000]) {
    const { out, removed } = await filterText(SCRIPT, size);
    assert.equal(removed, 1, `chunk size ${size}`);
    const lines = out.split('\n');
    assert.equal(
      lines[5],
      '-- SET transaction_timeout = 0; (removed by rds-s3-backup: the target server is older than PostgreSQL 17)',
      `chunk size ${size}`,
    );
    // Everything after the header is byte-for-byte unchanged: COPY data and the function body keep the text.
    assert.equal(out.slice(out.indexOf('\nCREATE TABLE')), SCRIPT.slice(SCRIPT.indexOf('\nCREATE TABLE')), `chunk size ${size}`);
  }
});

test('a second header (after \\connect) is filtered too; nothing else changes', async () => {
  const script = HEADER + '\\connect app\n' + HEADER.replace('BEGIN;\n', '') + 'SELECT 1;\n';
  const { out, removed } = await filterText(script, 4);
  assert.equal(removed, 2);
  assert.equal(out.replace(/-- SET transaction_timeout = 0; \(removed[^\n]*/g, 'SET transaction_timeout = 0;'), script);
});

async function gateRun(
  text: string,
  holdBytes: number,
  expectCommit: boolean,
  release: boolean,
): Promise<{ passed: string; error: Error | undefined }> {
  const gate = new CommitGate({ holdBytes, expectCommit });
  const seen: Buffer[] = [];
  const sink = new Writable({
    write: (c: Buffer, _e, cb) => {
      seen.push(c);
      cb();
    },
  });
  const done = pipeline(Readable.from([Buffer.from(text.slice(0, 10)), Buffer.from(text.slice(10))]), gate, sink).then(
    () => undefined,
    (e: Error) => e,
  );
  await gate.inputEnded;
  await new Promise((r) => setImmediate(r));
  const before = Buffer.concat(seen).toString();
  if (release) gate.release();
  else gate.destroy(new Error('aborted'));
  const error = await done;
  return { passed: release ? Buffer.concat(seen).toString() : before, error };
}

test('the commit gate holds back the tail with the COMMIT until released', async () => {
  const body = 'x'.repeat(1000) + '\nCOMMIT;\n\n--\n-- PostgreSQL database dump complete\n--\n';
  const held = await gateRun(body, 200, true, false);
  assert.ok(!held.passed.includes('COMMIT'), 'COMMIT never reached the consumer');
  assert.ok(held.passed.length <= body.length - 200 + 10);
  const released = await gateRun(body, 200, true, true);
  assert.equal(released.error, undefined);
  assert.equal(released.passed, body);
});

test('the commit gate refuses to release a tail without COMMIT (single-transaction mode)', async () => {
  const r = await gateRun('y'.repeat(500), 100, true, true);
  assert.match(String(r.error), /does not end with the COMMIT/);
  const ok = await gateRun('y'.repeat(500), 100, false, true);
  assert.equal(ok.error, undefined);
});
