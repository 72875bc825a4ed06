// dist/manifest.json is shared with `npm run package` (the Lambda artifacts): the image build owns its "images"
// key only and leaves everything else as it finds it.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { DebFile } from './deps.ts';

export type ImageEntry = {
  readonly file: string;
  readonly variant: 'backup' | 'verify';
  readonly architecture: string;
  readonly tag: string;
  readonly manifestDigest: string;
  readonly configDigest: string;
  /** Manifest + config + compressed layers: what a registry stores and a pull transfers. */
  readonly compressedBytes: number;
  readonly archiveBytes: number;
  readonly layers: readonly { name: string; digest: string; size: number; diffId: string }[];
  readonly labels: Readonly<Record<string, string>>;
  readonly node: { readonly version: string; readonly package: string; readonly tarballSha256: string };
  readonly pgtools: { readonly pgVersion: string; readonly pgDebianVersion: string | null; readonly suite: string };
  readonly debianPackages: readonly DebFile[];
  readonly postgres: readonly { package: string; version: string; tarballSha256: string }[];
  readonly app: { readonly esbuild: string; readonly packages: Record<string, string> };
  readonly rdsCaBundle: boolean;
  readonly sourceDateEpoch: number;
};

export function writeImageManifest(file: string, images: readonly ImageEntry[]): void {
  const existing = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>)
    : { schema: 'rds-s3-backup/artifacts@1' };
  // Entries of arches/variants not rebuilt this time stay.
  const kept = Array.isArray(existing.images)
    ? (existing.images as ImageEntry[]).filter((o) => !images.some((n) => n.file === o.file))
    : [];
  const next = { ...existing, images: [...kept, ...images].sort((a, b) => a.file.localeCompare(b.file)) };
  writeFileSync(`${file}.tmp`, JSON.stringify(next, null, 2) + '\n');
  renameSync(`${file}.tmp`, file);
}
