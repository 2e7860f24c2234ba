'use strict';
// The package loads from ESM as from CommonJS: every export by name.
const test = require('node:test');
const assert = require('node:assert/strict');

test('ESM: import("weft") gives the CommonJS exports, each as a named export', async () => {
  const cjs = require('..');
  const esm = await import('weft'); // the package's own name (self-reference through "exports")
  assert.equal(esm.default, cjs);
  for (const name of Object.keys(cjs)) assert.equal(esm[name], cjs[name], `named export ${name}`);
  assert.deepEqual(esm.transformers(), cjs.transformers());
});
