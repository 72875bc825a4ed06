// The import direction of ARCHITECTURE.md, checked on every file under src/: a forbidden import fails here, naming
// the file, the import and the rule, before anyone has to notice it in review.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const SRC = path.join(import.meta.dirname, '..', '..', 'src');

type Import = { readonly spec: string; readonly typeOnly: boolean };

/** Static imports and re-exports, and dynamic import() of a string literal. */
function importsOf(text: string): Import[] {
  const out: Import[] = [];
  const statement = /^\s*(import|export)\s+(type\s+)?[^'"]*?\bfrom\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(statement)) out.push({ spec: (m[3] ?? m[4])!, typeOnly: Boolean(m[2]) });
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push({ spec: m[1]!, typeOnly: false });
  return out;
}

const ADAPTERS = ['postgres', 'storage'];
const ENTRYPOINTS = ['cli', 'lambda', 'container'];
/** Shared by the scheduled runners (Lambda, ECS task): environment config, RDS instance lookup, telemetry. */
const RUNNER = 'runner';
/** npm packages core may use: pure data validation, no I/O. */
const CORE_PACKAGES = ['zod'];

/** Why `from` (a path under src/) may not import `imp`, or null when it may. */
function violation(from: string, imp: Import): string | null {
  const layer = from.split('/')[0]!;
  if (!imp.spec.startsWith('.')) {
    if (layer !== 'core') return null;
    if (imp.spec === 'node:child_process') return 'core starts no processes (node:child_process belongs in postgres/)';
    if (imp.spec.startsWith('node:')) return null;
    const pkg = imp.spec.startsWith('@') ? imp.spec.split('/').slice(0, 2).join('/') : imp.spec.split('/')[0]!;
    return CORE_PACKAGES.includes(pkg)
      ? null
      : `core imports no npm package but ${CORE_PACKAGES.join(', ')} (AWS SDK and pg live in adapters)`;
  }
  const target = path.posix.normalize(path.posix.join(path.posix.dirname(from), imp.spec));
  if (target.startsWith('..')) return 'imports from outside src/';
  const to = target.split('/')[0]!;
  if (to === layer) return null;
  if (layer === 'core') return `core imports nothing outside core/ (found ${to}/)`;
  if (ENTRYPOINTS.includes(to)) return `nothing imports an entrypoint (${to}/)`;
  if (ADAPTERS.includes(layer)) return to === 'core' ? null : `adapters import only core/ (found ${to}/)`;
  if (layer === 'app') return to === 'core' || ADAPTERS.includes(to) ? null : `app imports core/ and adapters only (found ${to}/)`;
  if (layer === RUNNER)
    return to === 'core' || to === 'app' || ADAPTERS.includes(to) ? null : `runner/ imports core/, app/ and adapters only (found ${to}/)`;
  if (ENTRYPOINTS.includes(layer)) {
    if (to === 'core' || to === 'app' || (to === RUNNER && layer !== 'cli')) return null;
    // A type names what the entrypoint may hand to app/ (an injected signer, say); wiring the adapter is app's job.
    if (ADAPTERS.includes(to) && imp.typeOnly) return null;
    return `entrypoints wire adapters through app/ (found a value import from ${to}/)`;
  }
  return `unknown layer ${layer}/: add it to ARCHITECTURE.md and to this test`;
}

function sources(dir: string, base = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name), `${base}${e.name}/`) : e.name.endsWith('.ts') ? [`${base}${e.name}`] : [],
  );
}

test('every import under src/ follows the allowed direction of ARCHITECTURE.md', () => {
  const files = sources(SRC);
  assert.ok(files.length > 50, `found ${files.length} source files`);
  const bad: string[] = [];
  for (const f of files) {
    for (const imp of importsOf(readFileSync(path.join(SRC, f), 'utf8'))) {
      const why = violation(f, imp);
      if (why) bad.push(`src/${f}: '${imp.spec}': ${why}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('only the entrypoints read process.env; everything below gets the Env handed down', () => {
  const readers = sources(SRC).filter(
    (f) =>
      !ENTRYPOINTS.includes(f.split('/')[0]!) &&
      /\bprocess\.env\b/.test(readFileSync(path.join(SRC, f), 'utf8').replace(/^\s*(\/\/|\*|\/\*).*$/gm, '')),
  );
  assert.deepEqual(readers, []);
});

test('the rules refuse each forbidden direction (the check can fail)', () => {
  const cases: [string, string, boolean][] = [
    ['core/restore/verify.ts', "import { S3Client } from '@aws-sdk/client-s3';", false],
    ['core/backup/run-backup.ts', "import pg from 'pg';", false],
    ['core/backup/run-backup.ts', "import { spawn } from 'node:child_process';", false],
    ['core/backup/run-backup.ts', "import { PgSource } from '../../postgres/source.ts';", false],
    ['core/backup/run-backup.ts', "const m = await import('../../storage/s3.ts');", false],
    ['postgres/source.ts', "import { executeBackup } from '../app/backup.ts';", false],
    ['storage/s3.ts', "import { PgSource } from '../postgres/source.ts';", false],
    ['app/backup.ts', "import { main } from '../cli/main.ts';", false],
    ['cli/backup-command.ts', "import { openStore } from '../storage/open-store.ts';", false],
    ['lambda/backup-handler.ts', "import type { IamSigner } from '../postgres/credentials.ts';", true],
    ['core/catalog/manifest.ts', "import { z } from 'zod';", true],
    ['app/backup.ts', "import { PgSource } from '../postgres/source.ts';", true],
  ];
  for (const [file, line, allowed] of cases) {
    const imps = importsOf(line);
    assert.equal(imps.length, 1, line);
    assert.equal(violation(file, imps[0]!) === null, allowed, `${file}: ${line}`);
  }
});
