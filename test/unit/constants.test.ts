// Constants that two places must agree on are written once: a second copy drifts (a schema bumped in one place
// only, a name limit checked differently by config and by the key encoder, a redaction marker tests cannot find).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const SRC = path.join(import.meta.dirname, '..', '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

const code = sources(SRC).map((f) => ({
  file: path.relative(SRC, f),
  // Comments may mention a value; only code counts.
  text: readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm, ''),
}));

function placesOf(pattern: RegExp): string[] {
  return code.flatMap(({ file, text }) => (text.match(pattern) ?? []).map(() => file));
}

test('the manifest and verify-record schema names are written once', () => {
  assert.deepEqual(placesOf(/rds-s3-backup\/manifest@\d+/g), ['core/catalog/manifest.ts']);
  assert.deepEqual(placesOf(/rds-s3-backup\/verify@\d+/g), ['core/catalog/verify-record.ts']);
});

test("PostgreSQL's 63-byte name limit is written once", () => {
  assert.deepEqual(placesOf(/\b63\b(?! letters)/g), ['core/config/database-name.ts']);
});

test('the redaction marker is written once', () => {
  assert.deepEqual(placesOf(/\[REDACTED\]/g), ['core/redact.ts']);
});
