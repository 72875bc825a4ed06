// One set of esbuild options for every bundle of the engine: the Lambda's index.mjs (scripts/package.ts), the
// container's main.mjs (scripts/image/bundle.ts) and the benchmark's CLI (bench/build.ts), so the benchmark starts
// the code the way the runners do.
import type { BuildOptions } from 'esbuild';

export function nodeBundleOptions(entryPoints: Record<string, string>, outdir: string, version: string): BuildOptions {
  return {
    entryPoints,
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    minify: true,
    // Error classes name themselves with new.target.name: Lambda's errorType and the logs must say ConfigError, not "mo".
    keepNames: true,
    // Commands load their modules lazily (import()); one file keeps the artifacts simple and the start fast enough.
    splitting: false,
    sourcemap: 'linked',
    // Positions and file names only: the sources themselves would triple the zip (the 1 MiB budget).
    sourcesContent: false,
    // The AWS SDK's ESM builds: smaller than the CommonJS ones and tree-shakeable.
    mainFields: ['module', 'main'],
    // pg loads pg-native only when asked to (NODE_PG_FORCE_NATIVE); it is not installed.
    external: ['pg-native'],
    // pg and some of its dependencies are CommonJS and require() Node's built-ins; ESM output has no require.
    banner: {
      js: "import { createRequire as __rdsS3BackupCreateRequire } from 'node:module'; const require = __rdsS3BackupCreateRequire(import.meta.url);",
    },
    // src/core/version.ts reads package.json at run time, which is in none of the artifacts.
    define: { 'globalThis.__RDS_S3_BACKUP_VERSION__': JSON.stringify(version) },
    // Licenses go to THIRD-PARTY-NOTICES.txt in full instead.
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  };
}
