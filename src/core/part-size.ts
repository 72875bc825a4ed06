const MiB = 1024 * 1024;

export const S3_MIN_PART = 5 * MiB;
export const S3_MAX_PART = 5 * 1024 * MiB;
export const S3_MAX_PARTS = 10_000;
export const S3_MAX_OBJECT = 5 * 1024 * 1024 * MiB;
export const DEFAULT_MIN_PART = 16 * MiB;

/**
 * Part size for a dump whose size is unknown until it ends. The estimate is the database's on-disk size;
 * an uncompressed dump can exceed it (bytea is hex in COPY), so assume twice that and keep 10% of the part
 * budget spare. Below the floor, bigger parts only cost memory.
 */
export function choosePartSize(databaseBytes: number | null, floor: number = DEFAULT_MIN_PART): number {
  const budgetParts = Math.floor(S3_MAX_PARTS * 0.9);
  const expected = databaseBytes === null ? 0 : databaseBytes * 2;
  const needed = Math.ceil(expected / budgetParts);
  const size = Math.max(floor, S3_MIN_PART, Math.ceil(needed / MiB) * MiB);
  return Math.min(size, S3_MAX_PART);
}

/** Largest object the chosen part size can carry. */
export function maxObjectBytes(partSize: number): number {
  return Math.min(partSize * S3_MAX_PARTS, S3_MAX_OBJECT);
}
