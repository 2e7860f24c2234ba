'use strict';
// The hosts the runner knows: how to start each one's driver, and whether
// the host is built. Paths follow the stages that build them (scripts/test.sh):
// the C build in $WEFT_BUILD (default build/, with the Lua module in
// build/lua/5.4), the Node addon in node/build, the Python package in
// build-python/venv, the browser client in clients/js/dist with
// playwright-core in clients/js/node_modules and Debian's Chromium.
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const HERE = path.resolve(__dirname, '..');
const BUILD = path.resolve(ROOT, process.env.WEFT_BUILD || 'build');
const PY = path.join(ROOT, 'build-python', 'venv', 'bin', 'python');
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));

/**
 * name -> { argv, env, stdin: 'pipe' | 'file', missing(): reason or null,
 *           serverHost: the host whose driver plays servers (browser: c) }
 */
const HOSTS = {
  c: {
    argv: [path.join(BUILD, 'tests', 'conformance', 'weft_conformance_c')],
    missing: () => (fs.existsSync(path.join(BUILD, 'tests', 'conformance', 'weft_conformance_c'))
      ? null : `no ${path.relative(ROOT, BUILD)}/tests/conformance/weft_conformance_c (bash scripts/test.sh c)`),
  },
  python: {
    argv: [PY, path.join(HERE, 'drivers', 'python', 'driver.py')],
    missing: () => (fs.existsSync(PY) ? null : 'no build-python/venv (bash scripts/test.sh python)'),
  },
  node: {
    argv: [process.execPath, path.join(HERE, 'drivers', 'node', 'driver.js')],
    missing: () => (fs.existsSync(path.join(ROOT, 'node', 'build', 'Release', 'weft.node'))
      ? null : 'no node/build/Release/weft.node (bash scripts/deps.sh)'),
  },
  lua: {
    argv: ['lua5.4', path.join(HERE, 'drivers', 'lua', 'driver.lua')],
    env: { LUA_CPATH: path.join(BUILD, 'lua', '5.4', '?.so'), LUA_PATH: path.join(HERE, 'drivers', 'lua', '?.lua') },
    stdin: 'file',
    missing: () => (fs.existsSync(path.join(BUILD, 'lua', '5.4', 'weft.so'))
      ? null : `no ${path.relative(ROOT, BUILD)}/lua/5.4/weft.so (bash scripts/test.sh c)`),
  },
  browser: {
    argv: [process.execPath, path.join(HERE, 'drivers', 'browser', 'driver.js')],
    serverHost: 'c',
    missing: () => {
      if (!CHROMIUM) return 'no Chromium (bash scripts/deps.sh)';
      if (!fs.existsSync(path.join(ROOT, 'clients', 'js', 'node_modules', 'playwright-core'))) return 'no playwright-core (bash clients/js/deps.sh)';
      return HOSTS.c.missing();
    },
  },
};

module.exports = { ROOT, HERE, BUILD, HOSTS, CHROMIUM };
