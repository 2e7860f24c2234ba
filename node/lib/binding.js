'use strict';
// Loads the compiled addon (build/Release/weft.node, built by `npm install`).
const path = require('node:path');

const candidates = [
  path.join(__dirname, '..', 'build', 'Release', 'weft.node'),
  path.join(__dirname, '..', 'build', 'Debug', 'weft.node')
];

let binding = null;
let lastError = null;
for (const file of candidates) {
  try {
    binding = require(file);
    break;
  } catch (e) {
    lastError = e;
  }
}
if (!binding) {
  const err = new Error(`weft: the native addon is not built (run \`npm install\` in ${path.join(__dirname, '..')}): ${lastError && lastError.message}`);
  err.code = 'WEFT_NO_ADDON';
  throw err;
}

module.exports = binding;
