// Formatting check: each .tf file must equal HashiCorp's formatter output (the
// same hclwrite formatter `terraform fmt` uses, WASM build in @cdktn/hcl-tools).
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { format } from '@cdktn/hcl-tools';
import { listTfFiles } from './load.ts';
import type { Finding } from './load.ts';

function firstDifference(a: string, b: string): string {
  const la = a.split('\n');
  const lb = b.split('\n');
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) return `line ${i + 1}: have ${JSON.stringify(la[i] ?? '')}, formatter wants ${JSON.stringify(lb[i] ?? '')}`;
  }
  return '';
}

export async function checkFormat(dir: string): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const path of listTfFiles(dir)) {
    const text = readFileSync(path, 'utf8');
    const formatted = await format(text);
    if (formatted !== text)
      findings.push({ check: 'fmt', file: relative(dir, path), message: `not formatted (${firstDifference(text, formatted)})` });
  }
  return findings;
}

/** For fixing files: the formatter's output. */
export async function formatText(text: string): Promise<string> {
  return format(text);
}
