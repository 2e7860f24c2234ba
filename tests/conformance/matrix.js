#!/usr/bin/env node
'use strict';
// Prints docs/bindings.md's matrix rendered from capabilities.json, or with
// --write puts it into docs/bindings.md (between its markers).
const fs = require('node:fs');
const M = require('./lib/matrix');

const block = M.render(M.loadMatrix());
if (process.argv.includes('--write')) {
  fs.writeFileSync(M.DOC, M.withMatrix(fs.readFileSync(M.DOC, 'utf8'), block));
} else {
  process.stdout.write(`${block}\n`);
}
