import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function readVersion(): string {
  // Bundlers inline this define; from source and lib/ the package.json sits two levels up.
  const injected = (globalThis as { __RDS_S3_BACKUP_VERSION__?: string }).__RDS_S3_BACKUP_VERSION__;
  if (injected) return injected;
  try {
    return (require('../../package.json') as { version: string }).version;
  } catch {
    return '0.0.0-unknown';
  }
}

export const TOOL_NAME = 'rds-s3-backup';
export const TOOL_VERSION: string = readVersion();
