// The container entrypoint bundled into one ESM file with esbuild, as the Lambda's index.mjs is (same options,
// see scripts/package.ts): AWS SDK v3, pg and Powertools included, no node_modules in the image.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build, version as esbuildVersion } from 'esbuild';
import { nodeBundleOptions } from '../package/esbuild-options.ts';
import { packagesOfBundle, thirdPartyNotices } from '../package/inputs.ts';

export type AppBundle = { readonly dir: string; readonly packages: Record<string, string>; readonly esbuild: string };

export async function bundleApp(root: string, outDir: string, version: string): Promise<AppBundle> {
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    ...nodeBundleOptions({ main: path.join(root, 'src', 'container', 'main.ts') }, outDir, version),
    metafile: true,
  });
  const inputs = Object.keys(result.metafile.inputs);
  writeFileSync(
    path.join(outDir, 'THIRD-PARTY-NOTICES.txt'),
    thirdPartyNotices(root, inputs).replace('bundled in index.mjs', 'bundled in main.mjs'),
  );
  return { dir: outDir, packages: packagesOfBundle(root, inputs), esbuild: esbuildVersion };
}
