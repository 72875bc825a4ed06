// The IAM policy evaluator the authorization proofs use (@cloud-copilot/iam-simulate and the packages it pulls in)
// is AGPL-3.0: it may serve the tests, never ship. Nothing the project distributes may contain or load it — the
// Lambda function zip (its bundle, source map and manifest), the npm package (bin/ and lib/ compiled from src/), and
// src/ itself.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ensureLambdaArtifacts } from '../support/dist.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const FORBIDDEN = /@cloud-copilot|iam-simulate|iam-policy|iam-data/;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

test('the evaluator is a devDependency only', () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
  assert.ok(pkg['devDependencies']?.['@cloud-copilot/iam-simulate'], 'declared for the tests');
  for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies', 'bundleDependencies']) {
    assert.deepEqual(
      Object.keys(pkg[field] ?? {}).filter((n) => FORBIDDEN.test(n)),
      [],
      `${field} does not name it`,
    );
  }
});

test('no file under src/ or bin/ refers to it (so lib/, the npm package, cannot either)', () => {
  for (const file of [...files(path.join(ROOT, 'src')), ...files(path.join(ROOT, 'bin'))]) {
    assert.doesNotMatch(readFileSync(file, 'utf8'), FORBIDDEN, path.relative(ROOT, file));
  }
});

test('the Lambda function zip contains no trace of it: entries, bundle, source map, manifest', () => {
  ensureLambdaArtifacts();
  const zip = path.join(ROOT, 'dist', 'function.zip');
  const entries = execFileSync('unzip', ['-Z1', zip], { encoding: 'utf8' }).split('\n').filter(Boolean);
  assert.ok(entries.includes('index.mjs'), `the zip holds the bundle (${entries.join(', ')})`);
  assert.deepEqual(
    entries.filter((e) => FORBIDDEN.test(e)),
    [],
  );
  for (const entry of entries) {
    const text = execFileSync('unzip', ['-p', zip, entry], { maxBuffer: 64 * 1024 * 1024 }).toString('latin1');
    assert.doesNotMatch(text, FORBIDDEN, `function.zip:${entry}`);
  }
  assert.doesNotMatch(readFileSync(path.join(ROOT, 'dist', 'manifest.json'), 'utf8'), FORBIDDEN, 'dist/manifest.json');
});
