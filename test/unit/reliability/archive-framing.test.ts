// The framing checker must accept every complete archive however the stream is chunked, and refuse every
// truncation — the promise "a truncated dump is never stored" rests on it when pg_dump's exit status lies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { ArchiveFramingChecker, ArchiveFramingError } from '../../../src/core/archive/framing.ts';
import { TocReader } from '../../../src/core/archive/toc.ts';

const archive = readFileSync(new URL('../../fixtures/pg18-small.dump', import.meta.url));

function check(chunks: Buffer[]): Error | undefined {
  const c = new ArchiveFramingChecker();
  try {
    for (const ch of chunks) {
      c.feed(ch);
      if (c.error) return c.error;
    }
    c.finish();
    return undefined;
  } catch (err) {
    return err as Error;
  }
}

function split(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out.filter((b) => b.length > 0);
}

test('a complete archive passes, fed whole or byte by byte', () => {
  assert.equal(check([archive]), undefined);
  assert.equal(check([...archive].map((b) => Buffer.from([b]))), undefined);
});

test('every truncation of the archive is refused (by the TOC reader or the framing checker)', () => {
  for (let n = 0; n < archive.length; n++) {
    const cut = archive.subarray(0, n);
    const framing = check([cut]);
    let tocError: unknown;
    try {
      const r = new TocReader();
      r.feed(cut);
      r.finish();
    } catch (err) {
      tocError = err;
    }
    assert.ok(framing instanceof ArchiveFramingError || tocError, `truncation at ${n} of ${archive.length} bytes accepted`);
    // Past the TOC, the TOC reader is satisfied: the framing checker alone must refuse.
    if (!tocError) assert.ok(framing instanceof ArchiveFramingError, `data truncated at ${n} accepted`);
  }
});

test('property: chunking never changes the verdict', () => {
  fc.assert(
    fc.property(fc.array(fc.nat(), { maxLength: 40 }), fc.nat({ max: archive.length }), (cuts, length) => {
      const buf = archive.subarray(0, length);
      const whole = check([buf]);
      const chunked = check(split(buf, cuts));
      assert.equal(chunked === undefined, whole === undefined, `length ${length}`);
    }),
    { numRuns: 500 },
  );
});

test('trailing bytes after the last block, and a corrupted block type, are refused', () => {
  assert.ok(check([archive, Buffer.from([0, 0, 0, 0, 0])]) instanceof ArchiveFramingError);
  assert.ok(check([archive, Buffer.from([7])]) instanceof ArchiveFramingError);
});

test('archives the checker does not know (other versions, not custom format) are left to the TOC reader', () => {
  const newer = Buffer.from(archive);
  newer[6] = 99; // minor version 1.99
  assert.equal(check([newer]), undefined);
});
