// Offline checks of the Terraform module and both examples: HCL parses, files are
// formatted, every argument/block exists in the AWS provider schema for 5.x and
// 6.x, every reference resolves, and the committed schema subset is current.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { updatedReadme } from '../../scripts/terraform/docs.ts';
import { checkFormat } from './checks/format.ts';
import { checkParse, loadModule, moduleDirs } from './checks/load.ts';
import type { Finding } from './checks/load.ts';
import { MODULE_ROOT } from './checks/mutate.ts';
import { checkReferences } from './checks/references.ts';
import { checkSchema, loadSchema, usedPrefixes } from './checks/schema.ts';

const aws5 = loadSchema('aws-5.json');
const aws6 = loadSchema('aws-6.json');
const random3 = loadSchema('random-3.json');

function show(findings: Finding[]): string {
  return findings.map((f) => `${f.check} ${f.file ?? ''} ${f.address ?? ''}: ${f.message}`).join('\n');
}

describe('committed provider schema subset', () => {
  it('comes from the documented provider releases', () => {
    assert.equal(aws5.provider, 'registry.terraform.io/hashicorp/aws');
    assert.match(aws5.provider_version, /^5\./);
    assert.equal(aws5.source_package, '@cdktf/provider-aws@20.1.0');
    assert.match(aws6.provider_version, /^6\./);
    assert.match(aws6.source_package, /^@cdktn\/provider-aws@25\./);
    assert.match(random3.provider_version, /^3\./);
    assert.ok(aws6.resource_type_names.length > 1500, 'full list of type names is kept so unknown types are detectable');
  });
});

for (const dir of moduleDirs(MODULE_ROOT)) {
  const label = relative(join(MODULE_ROOT, '..'), dir);
  describe(label, async () => {
    it("parses with HashiCorp's HCL parser", async () => {
      const findings = await checkParse(dir);
      assert.deepEqual(findings, [], show(findings));
    });

    it("is formatted exactly as HashiCorp's formatter formats it", async () => {
      const findings = await checkFormat(dir);
      assert.deepEqual(findings, [], show(findings));
    });

    const mod = await loadModule(dir);

    it('uses only providers with a committed schema', () => {
      assert.deepEqual(
        [...usedPrefixes(mod)].filter((p) => p !== 'aws' && p !== 'random'),
        [],
      );
    });

    it('every resource/data argument and block exists in AWS provider 5.x', () => {
      const findings = checkSchema(mod, aws5, 'aws');
      assert.deepEqual(findings, [], show(findings));
    });

    it('every resource/data argument and block exists in AWS provider 6.x', () => {
      const findings = checkSchema(mod, aws6, 'aws');
      assert.deepEqual(findings, [], show(findings));
    });

    it('every random resource argument exists in the random provider', () => {
      const findings = checkSchema(mod, random3, 'random');
      assert.deepEqual(findings, [], show(findings));
    });

    it('every reference resolves; no unused variables or locals', async () => {
      const findings = await checkReferences(mod, [aws5, aws6, random3]);
      assert.deepEqual(findings, [], show(findings));
    });
  });
}

describe('docs', () => {
  it('terraform/README.md inputs/outputs tables are current (node scripts/terraform/docs.ts)', async () => {
    const readme = readFileSync(join(MODULE_ROOT, 'README.md'), 'utf8');
    assert.equal(await updatedReadme(MODULE_ROOT, readme), readme);
  });
});

describe('versions', () => {
  it('module and examples pin the AWS provider to the 6.x range that knows nodejs24.x', async () => {
    for (const dir of moduleDirs(MODULE_ROOT)) {
      const text = readFileSync(join(dir, 'versions.tf'), 'utf8');
      assert.match(text, /version = ">= 6\.19\.0, < 7\.0\.0"/, dir);
    }
  });
});
