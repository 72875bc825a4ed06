// The seed's use of the module: copied to extras/backups inside a root module and
// called with its two inputs. Every file the module reads must resolve there.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { getExpressionAst } from '@cdktn/hcl2json';
import type { TFExpressionSyntaxTree } from '@cdktn/hcl2json';
import { loadModule, walkStrings } from './load.ts';
import type { TfModule } from './load.ts';
import { evaluateInModule } from './render.ts';

type Ast = TFExpressionSyntaxTree.ExpressionType;

const REPO_ROOT = resolve(import.meta.dirname, '../../..');

/** The seed's root module: the module copied to extras/backups, called with its two inputs. */
export const SEED_MAIN_TF = `variable "environment" {
  type = string
}

module "backups" {
  source                 = "./extras/backups"
  environment            = var.environment
  db_instance_identifier = "app-db"
}
`;

export function seedRoot(moduleDir: string): { root: string; copy: string } {
  const root = mkdtempSync(join(tmpdir(), 'tf-seed-'));
  const copy = join(root, 'extras', 'backups');
  mkdirSync(copy, { recursive: true });
  cpSync(moduleDir, copy, { recursive: true, filter: (p) => !p.includes(`${'/'}examples`) && !p.includes(`${'/'}rendered`) });
  writeFileSync(join(root, 'main.tf'), SEED_MAIN_TF);
  return { root, copy };
}

const FILE_FUNCTIONS = new Set(['file', 'filebase64', 'filebase64sha256', 'filesha256', 'fileexists', 'templatefile']);

function calls(node: Ast | null, out: Ast[] = []): Ast[] {
  if (!node) return out;
  if (node.type === 'function' && FILE_FUNCTIONS.has((node.meta as { name: string }).name)) out.push(node);
  for (const c of node.children ?? []) calls(c, out);
  return out;
}

/** Every file-reading call of the module with its path argument's source text. */
export async function fileCalls(m: TfModule): Promise<{ fn: string; pathExpr: string; where: string }[]> {
  const out: { fn: string; pathExpr: string; where: string }[] = [];
  const values = [
    ...m.blocks.map((b) => ({ where: b.address, v: b.body })),
    ...[...m.locals.values()].map((l) => ({ where: `local.${l.name}`, v: l.value })),
  ];
  for (const { where, v } of values) {
    for (const s of walkStrings(v)) {
      if (!/\b(file\w*|templatefile)\(/.test(s.value)) continue;
      const text = s.value.startsWith('${') && s.value.endsWith('}') ? s.value.slice(2, -1) : JSON.stringify(s.value);
      for (const c of calls((await getExpressionAst('x.tf', text)) as Ast)) {
        const arg = c.children[0]!;
        out.push({ fn: (c.meta as { name: string }).name, pathExpr: String((arg.meta as { value: string }).value), where });
      }
    }
  }
  return out;
}

/** Inputs of the seed's call. */
export const SEED_INPUTS = { environment: 'prod', db_instance_identifier: 'app-db' } as const;

/** Resolves every file-reading call of the copied module; returns what does not resolve. */
export async function checkSeedPaths(
  root: string,
  copy: string,
): Promise<{ calls: { fn: string; pathExpr: string; where: string }[]; problems: string[] }> {
  const found = await fileCalls(await loadModule(copy));
  const packageScript = readFileSync(join(REPO_ROOT, 'scripts', 'package.ts'), 'utf8');
  const problems: string[] = [];
  for (const c of found) {
    const p = String(await evaluateInModule(copy, { ...SEED_INPUTS }, c.pathExpr));
    // Terraform resolves relative paths from the root module's directory.
    const abs = resolve(root, p);
    if (!abs.startsWith(`${copy}/`)) {
      problems.push(`${c.where}: ${c.fn}(${c.pathExpr}) = ${abs} is outside the module copy ${copy}`);
      continue;
    }
    if (c.fn === 'templatefile' || c.fn === 'file') {
      if (!existsSync(abs)) problems.push(`${c.where}: ${abs} does not exist`);
      continue;
    }
    // Build output: `npm run package` writes these names; the module ships them in artifacts/.
    const rel = relative(copy, abs);
    if (!/^artifacts\/(function\.zip|pgtools-layer-(arm64|x86_64)\.zip)$/.test(rel))
      problems.push(`${c.where}: ${rel} is not an artifact name of npm run package`);
    const name = rel.slice('artifacts/'.length).replace(/(arm64|x86_64)\.zip$/, '${');
    if (!packageScript.includes(name)) problems.push(`${c.where}: scripts/package.ts does not write ${name}...`);
  }
  return { calls: found, problems };
}
