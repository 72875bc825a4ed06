import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layerArchitecture, packageOfInput } from '../../../scripts/package/inputs.ts';

test('bundle inputs map to their npm package, nested copies included', () => {
  assert.equal(packageOfInput('node_modules/pg/lib/client.js'), 'pg');
  assert.equal(packageOfInput('node_modules/@aws-sdk/client-s3/dist-es/index.js'), '@aws-sdk/client-s3');
  assert.equal(packageOfInput('node_modules/@aws-sdk/client-rds/node_modules/@smithy/core/dist-es/x.js'), '@smithy/core');
  assert.equal(packageOfInput('src/lambda/handler.ts'), undefined);
});

test('Lambda architecture names', () => {
  assert.equal(layerArchitecture('x64'), 'x86_64');
  assert.equal(layerArchitecture('arm64'), 'arm64');
  assert.throws(() => layerArchitecture('ia32'));
});
