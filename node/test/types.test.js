'use strict';
// index.d.ts compiles under --strict and types a realistic use (test/types.ts).
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { runNode } = require('./helpers');

test('index.d.ts type-checks a sample program with tsc --strict', async () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const r = await runNode([tsc, '--noEmit', '--strict', '--target', 'es2020', '--types', 'node',
    '--moduleResolution', 'node', path.join(__dirname, 'types.ts')], 60000);
  assert.equal(r.code, 0, r.stdout + r.stderr);
});
