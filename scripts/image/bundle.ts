// The container entrypoint bundled into one ESM file with esbuild, as the Lambda's index.mjs is (same options,
// see scripts/package.ts): AWS SDK v3, pg and Powertools included, no node_modules in the image.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build, version as esbuildVersion } from 'esbuild';
import { packagesOfBundle, thirdPartyNotices } from '../package/inputs.ts';

export type AppBundle = { readonly dir: string; readonly packages: Record<string, string>; readonly esbuild: string };

export async function bundleApp(root: string, outDir: string, version: string): Promise<AppBundle> {
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    entryPoints: { main: path.join(root, 'src', 'container', 'main.ts') },
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    minify: true,
    // Error classes name themselves with new.target.name: the logs must say ConfigError, not "mo".
    keepNames: true,
    // Commands load their modules lazily (import()); one file keeps the image simple and the start fast enough.
    splitting: false,
    sourcemap: 'linked',
    sourcesContent: false,
    mainFields: ['module', 'main'],
    // pg loads pg-native only when asked to (NODE_PG_FORCE_NATIVE); it is not installed.
    external: ['pg-native'],
    // pg and some of its dependencies are CommonJS and require() Node's built-ins; ESM output has no require.
    banner: {
      js: "import { createRequire as __rdsS3BackupCreateRequire } from 'node:module'; const require = __rdsS3BackupCreateRequire(import.meta.url);",
    },
    // src/core/version.ts reads package.json at run time, which is not in the image.
    define: { 'globalThis.__RDS_S3_BACKUP_VERSION__': JSON.stringify(version) },
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  const inputs = Object.keys(result.metafile.inputs);
  writeFileSync(
    path.join(outDir, 'THIRD-PARTY-NOTICES.txt'),
    thirdPartyNotices(root, inputs).replace('bundled in index.mjs', 'bundled in main.mjs'),
  );
  return { dir: outDir, packages: packagesOfBundle(root, inputs), esbuild: esbuildVersion };
}
