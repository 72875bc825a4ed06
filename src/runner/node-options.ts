/**
 * The V8 option the scheduled runners start Node with: the Lambda through NODE_OPTIONS (terraform/
 * lambda_rds_to_s3.tf), the container image in its entrypoint (scripts/image/build.ts), and the benchmark likewise.
 *
 * A backup streams: what Node allocates per chunk dies young, and the Buffers that carry the archive live outside
 * the JS heap until a scavenge frees their wrappers. A small young generation scavenges often, so those Buffers are
 * freed early. Measured on a 0.41 GB database (94 MB archive), 4 interleaved runs each: peak RSS 135-149 MiB with
 * 16 MiB semi-spaces (Node's default on a machine this size) against 114-119 MiB with 2 MiB, and Node's CPU
 * 1.17-1.35 s against 0.96-1.18 s, to S3; to file:// 136-140 against 102-103 MiB.
 * Lambda's own bootstrap would otherwise size the young generation from the function's memory (tens of MiB at
 * 1,769 MB); it leaves both heap sizes to V8 when NODE_OPTIONS names either of them.
 */
export const RUNNER_NODE_OPTIONS = '--max-semi-space-size=2';
