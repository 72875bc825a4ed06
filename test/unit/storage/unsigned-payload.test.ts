import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { test } from 'node:test';
import { GetObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../../../src/storage/s3.ts';

// The SDK's default credential chain reads these; nothing is sent anywhere.
process.env.AWS_ACCESS_KEY_ID = 'test';
process.env.AWS_SECRET_ACCESS_KEY = 'test';

type Seen = { headers: Record<string, string> };

/** A client whose requests never leave the process: the handler records what the SDK would have sent. */
function capturingClient(): { client: ReturnType<typeof createS3Client>; seen: Seen[] } {
  const seen: Seen[] = [];
  const client = createS3Client({
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'k',
    AWS_SECRET_ACCESS_KEY: 's',
    AWS_ENDPOINT_URL: 'https://127.0.0.1:1',
  });
  client.config.requestHandler = {
    handle: async (request: { headers: Record<string, string> }) => {
      seen.push({ headers: { ...request.headers } });
      return { response: { statusCode: 200, headers: { etag: '"e"' }, body: Readable.from([]) } };
    },
  } as unknown as typeof client.config.requestHandler;
  return { client, seen };
}

test('UploadPart is signed without a second SHA-256 of the part but still carries its CRC32', async () => {
  const { client, seen } = capturingClient();
  const part = Buffer.alloc(1024 * 1024, 7);
  await client.send(new UploadPartCommand({ Bucket: 'b', Key: 'k', UploadId: 'u', PartNumber: 1, Body: part }));
  const h = seen[0]!.headers;
  assert.equal(h['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD');
  assert.notEqual(h['x-amz-content-sha256'], createHash('sha256').update(part).digest('hex'));
  const expected = Buffer.alloc(4);
  expected.writeUInt32BE(crc32(part));
  assert.equal(h['x-amz-checksum-crc32'], expected.toString('base64'));
  // The CRC32 header is signed, so it cannot be changed in transit without failing the signature.
  assert.match(h['authorization'] ?? '', /SignedHeaders=[^,]*x-amz-checksum-crc32/);
});

test('requests that are not backup data keep the default payload signing', async () => {
  const { client, seen } = capturingClient();
  await client.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' })).catch(() => undefined);
  assert.notEqual(seen[0]!.headers['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD');
});
