// Plan-time semantics the offline checks cannot get from the schema: count and
// for_each must be known at plan, and every file path must resolve when the module
// is used as the seed uses it (copied to extras/backups, called with two inputs).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadModule, moduleDirs } from './checks/load.ts';
import { MODULE_ROOT } from './checks/mutate.ts';
import { checkCallerPlanTime, checkNoModuleDependsOn, checkPlanTime } from './checks/plan-time.ts';
import { checkReferences } from './checks/references.ts';
import { checkSeedPaths, seedRoot } from './checks/seed.ts';
import { loadSchema } from './checks/schema.ts';

const mod = await loadModule(MODULE_ROOT);

describe('count and for_each are known at plan', () => {
  it('in the module (bools, numbers, enums, lengths; never `!= null` on a value a caller may set from a resource)', async () => {
    const { findings } = await checkPlanTime(mod);
    assert.deepEqual(findings, [], findings.map((f) => f.message).join('\n'));
  });

  for (const dir of moduleDirs(MODULE_ROOT).slice(1)) {
    it(`in ${relative(MODULE_ROOT, dir)}: every input a count/for_each uses is known at plan`, async () => {
      const caller = await loadModule(dir);
      const findings = [...(await checkCallerPlanTime(mod, caller)), ...checkNoModuleDependsOn(caller)];
      assert.deepEqual(findings, [], findings.map((f) => f.message).join('\n'));
    });
  }
});

describe('the seed\'s call: `source = "./extras/backups"` with environment and db_instance_identifier only', () => {
  const { root, copy } = seedRoot(MODULE_ROOT);
  after(() => rmSync(root, { recursive: true, force: true }));

  it('needs no other input (every other variable has a default)', async () => {
    const findings = await checkReferences(await loadModule(root), [
      loadSchema('aws-5.json'),
      loadSchema('aws-6.json'),
      loadSchema('random-3.json'),
    ]);
    assert.deepEqual(
      findings.filter((f) => !/declared but never used/.test(f.message)),
      [],
    );
  });

  it('every file()/filebase64sha256()/templatefile() path resolves inside the copied module', async () => {
    const { calls: found, problems } = await checkSeedPaths(root, copy);
    assert.ok(
      found.some((c) => c.fn === 'filebase64sha256'),
      'the artifact hashes are read',
    );
    assert.ok(
      found.some((c) => c.fn === 'templatefile'),
      'the templates are read',
    );
    assert.deepEqual(problems, []);
  });
});
