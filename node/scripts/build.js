'use strict';
// Builds the addon with node-gyp (npm's own copy) against the headers of the
// running Node, offline: --nodedir points at the installation prefix that
// holds include/node/node_api.h, so node-gyp never downloads headers.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { here, sourceRoot } = require('./sources');

// include/weft/version.h, generated from its template with this package's
// version (package.json's, which scripts/version.py keeps equal to VERSION),
// as the CMake builds generate it.
function generateVersionHeader() {
  const version = require('../package.json').version;
  const [major, minor, patch] = version.split('.');
  const values = { WEFT_VERSION: version, WEFT_VERSION_MAJOR: major, WEFT_VERSION_MINOR: minor,
    WEFT_VERSION_PATCH: patch };
  const template = path.join(here, sourceRoot(), 'include', 'weft', 'version.h.in');
  const text = fs.readFileSync(template, 'utf8').replace(/@(\w+)@/g, (m, name) => {
    if (!(name in values)) throw new Error(`weft: ${template}: unknown @${name}@`);
    return values[name];
  });
  const out = path.join(here, 'gen', 'include', 'weft', 'version.h');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  if (!fs.existsSync(out) || fs.readFileSync(out, 'utf8') !== text) fs.writeFileSync(out, text);
}

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

generateVersionHeader();
const dir = nodedir();
const gyp = nodeGyp();
if (!gyp) {
  console.error('weft: node-gyp not found (it ships with npm)');
  process.exit(1);
}
const args = [gyp, 'rebuild', '--jobs=2'];
if (dir) args.push(`--nodedir=${dir}`);
execFileSync(process.execPath, args, { cwd: here, stdio: 'inherit' });
