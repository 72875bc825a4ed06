import type { UploadResult, UploadSink } from '../../src/core/ports/store.ts';

/** Writes `chunks` into `sink` the way streamToStore does (waiting when it is busy), ends it, and returns `done`. */
export async function uploadAll(sink: UploadSink, chunks: Iterable<Buffer> | AsyncIterable<Buffer>): Promise<UploadResult> {
  try {
    for await (const chunk of chunks) {
      const busy = sink.write(chunk);
      if (busy) await busy;
    }
  } catch {
    // A refused write means the sink failed; `done` carries the store's error.
    return sink.done;
  }
  sink.end();
  return sink.done;
}
