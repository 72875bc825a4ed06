const MiB = 1024 * 1024;

const S3_MIN_PART = 5 * MiB;
export const S3_MAX_PART = 5 * 1024 * MiB;
const S3_MAX_PARTS = 10_000;
export const S3_MAX_OBJECT = 5 * 1024 * 1024 * MiB;
/**
 * Upload defaults chosen by measurement (bench/results/summary.md, part size × queue sweep): 8 MiB × 2 uploads
 * as fast as 16 MiB × 4 on this machine while keeping Node's peak RSS ~60 MiB lower.
 */
export const DEFAULT_PART_MIB = 8;
export const DEFAULT_QUEUE_SIZE = 2;
const DEFAULT_MIN_PART = DEFAULT_PART_MIB * MiB;

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
