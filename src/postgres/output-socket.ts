import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { OutputConsumer } from '../core/ports/database-source.ts';

/**
 * Bytes per read: more than a UNIX socket holds (its send buffer is ~208 KiB), so that each read takes whatever
 * pg_dump has written so far, and pg_dump's 256 KiB stdio blocks (dump-buffer.ts) arrive in one or two reads.
 */
const READ_BUFFER_BYTES = 512 * 1024;

export type SocketOutput = {
  /** The child's end: pass it as spawn's stdout, then `release()` our copy of it. */
  readonly childEnd: net.Socket;
  release(): void;
  readOutput(consume: OutputConsumer): Promise<void>;
  /** Closes everything (when the child could not be started). */
  destroy(): void;
};

/**
 * A tool's stdout read into one buffer reused for every read. A child_process pipe cannot do that: Node allocates a
 * new 64 KiB buffer per read there, and that garbage, with the copy it forces on a consumer that must keep the bytes,
 * cost as much CPU as hashing the archive (docs/benchmarks.md). A connected UNIX socket can: Node reads it into a
 * buffer we supply (`onread`) and hands that to a callback. The socket lives in a fresh private directory (mode 0700,
 * from mkdtemp) for the instant it takes to connect to ourselves; the directory is removed before the child starts.
 */
export async function openSocketOutput(tempDir: string = os.tmpdir()): Promise<SocketOutput> {
  const dir = await mkdtemp(path.join(tempDir, 'rds-s3-backup-out-'));
  const server = net.createServer();
  let reader: net.Socket | undefined;
  try {
    const file = path.join(dir, 'stdout.sock');
    server.listen(file);
    await once(server, 'listening');
    const accepted = once(server, 'connection') as Promise<[net.Socket]>;
    const buffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
    let consume: OutputConsumer | undefined;
    // The outcome is watched from the start, not from readOutput: the reader may end or fail while nothing reads yet
    // (pg_dump starts before the upload opens), and a listener attached after 'close' would wait forever.
    let settled = false;
    let settle!: { resolve: () => void; reject: (err: Error) => void };
    const outcome = new Promise<void>((resolve, reject) => {
      settle = { resolve, reject };
    });
    // Rejections surface through readOutput; a run that never reads (it failed first) must not crash on them.
    outcome.catch(() => undefined);
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      if (!err) {
        settle.resolve();
        return;
      }
      // Closing our end makes the tool fail on its next write instead of blocking on a full socket.
      socket.destroy();
      settle.reject(err);
    };
    const deliver = (n: number): boolean => {
      if (!consume) {
        // The reader starts paused and resumes only once a consumer is attached: reaching here is a bug, not data.
        finish(new Error('output read before a consumer was attached'));
        return false;
      }
      let pending: Promise<void> | undefined;
      try {
        pending = consume(buffer.subarray(0, n));
      } catch (err) {
        finish(asError(err));
        return false;
      }
      if (!pending) return true;
      // Returning false stops reading, so `buffer` stays as it is until the consumer is done with it.
      pending.then(
        () => {
          if (!settled) socket.resume();
        },
        (err: unknown) => finish(asError(err)),
      );
      return false;
    };
    const socket = net.connect({ path: file, onread: { buffer, callback: (n) => deliver(n) } });
    reader = socket;
    socket.pause();
    socket.once('end', () => finish());
    socket.on('error', (err) => finish(err));
    socket.once('close', () => finish(new Error('the output socket closed before the end of the output')));
    const [[childEnd]] = await Promise.all([accepted, once(socket, 'connect')]);
    return {
      childEnd,
      release: () => childEnd.destroy(),
      destroy() {
        childEnd.destroy();
        socket.destroy();
      },
      readOutput(next) {
        if (consume) return Promise.reject(new Error('readOutput was already called'));
        consume = next;
        socket.resume();
        return outcome;
      },
    };
  } catch (err) {
    reader?.destroy();
    throw err;
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The same contract over a stream (a child_process pipe): each chunk is a fresh buffer there. */
export async function readStreamInto(stream: Readable, consume: OutputConsumer): Promise<void> {
  for await (const chunk of stream) {
    const pending = consume(chunk as Buffer);
    if (pending) await pending;
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
