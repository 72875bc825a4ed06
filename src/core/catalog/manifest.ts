import { z } from 'zod';
import { Tier } from './tiers.ts';

export const MANIFEST_SCHEMA = 'rds-s3-backup/manifest@1';

const tierValues = Object.values(Tier) as [Tier, ...Tier[]];

const manifestSchema = z.object({
  schema: z.literal(MANIFEST_SCHEMA),
  kind: z.enum(['database', 'globals']),
  id: z.string().regex(/^\d{8}T\d{6}Z-[0-9a-f]{8}$/),
  database: z.string().nullable(),
  tool: z.object({ name: z.string(), version: z.string() }),
  pgDump: z.object({ version: z.string() }),
  server: z.object({ version: z.string(), versionNum: z.number().int(), host: z.string().nullable() }),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  durationMs: z.number().nonnegative(),
  object: z.object({
    key: z.string().min(1),
    bytes: z.number().int().nonnegative(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    versionId: z.string().nullable(),
    contentType: z.string(),
  }),
  format: z.enum(['custom', 'sql']),
  compression: z.string(),
  tier: z.enum(tierValues),
  encryption: z.object({ kmsKeyId: z.string().nullable() }),
  toc: z
    .object({
      archiveVersion: z.string(),
      entries: z.number().int(),
      byType: z.record(z.string(), z.number().int()),
      tables: z.array(z.string()),
      schemas: z.array(z.string()),
    })
    .nullable(),
  rowCounts: z
    .object({
      snapshot: z.string(),
      tables: z.record(z.string(), z.number().int().nonnegative()),
    })
    .nullable(),
});

export type Manifest = z.infer<typeof manifestSchema>;

export function serializeManifest(m: Manifest): string {
  return JSON.stringify(manifestSchema.parse(m), null, 2) + '\n';
}

export function parseManifest(text: string): Manifest | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return `manifest is not JSON: ${(err as Error).message}`;
  }
  const res = manifestSchema.safeParse(raw);
  if (!res.success) return `manifest is invalid: ${res.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`;
  return res.data;
}
