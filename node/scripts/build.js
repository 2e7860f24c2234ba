'use strict';
// Builds the addon with node-gyp (npm's own copy) against the headers of the
// running Node, offline: --nodedir points at the installation prefix that
// holds include/node/node_api.h, so node-gyp never downloads headers.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const here = path.resolve(__dirname, '..');
function nodedir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  for (const p of [prefix, '/usr', '/usr/local']) {
    if (fs.existsSync(path.join(p, 'include', 'node', 'node_api.h'))) return p;
  }
  return null;
}

function nodeGyp() {
  // npm puts its bundled node-gyp on PATH for lifecycle scripts; outside npm,
  // find it next to npm.
  const candidates = [
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules',
      'node-gyp', 'bin', 'node-gyp.js'),
    '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    '/usr/share/nodejs/node-gyp/bin/node-gyp.js'
  ];
  try { candidates.unshift(require.resolve('node-gyp/bin/node-gyp.js')); } catch (e) { /* none */ }
  return candidates.find((p) => fs.existsSync(p));
}

const dir = nodedir();
const gyp = nodeGyp();
if (!gyp) {
  console.error('weft: node-gyp not found (it ships with npm)');
  process.exit(1);
}
const args = [gyp, 'rebuild', '--jobs=2'];
if (dir) args.push(`--nodedir=${dir}`);
execFileSync(process.execPath, args, { cwd: here, stdio: 'inherit' });
