'use strict';
//
// Runs Primus 8.0.9's own tests (vendor/test, unedited) against weft's Node
// API. The run folder (build-primus-suite/, git-ignored) holds a copy of
// vendor/test and the shim: the tests `require('..')`, which is index.js
// there, `module.exports = require(<weft's node/>)`, and `../package.json`,
// which names weft's version. Nothing else maps to weft.
//
// Prints one line per failing test and the counts; exits non-zero when a
// test fails that expected-failures.txt does not list, or a listed one
// passes (the list is docs/primus-compat.md's, kept honest both ways).
// `node run.js --list` prints the failing titles in the list's format.
//
const fs = require('node:fs');
const path = require('node:path');

const here = __dirname;
const root = path.resolve(here, '../..');
const work = path.join(root, 'build-primus-suite');
const FILES = ['primus.test.js', 'spark.test.js', 'middleware.test.js', 'plugin.test.js',
  'primus.parsers.test.js', 'websockets.integration.js', 'engine.io.integration.js',
  'unix_domain_websockets.integration.js'];

function setup() {
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  fs.cpSync(path.join(here, 'vendor/test'), path.join(work, 'test'), { recursive: true });
  fs.symlinkSync(path.join(here, 'node_modules'), path.join(work, 'node_modules'));
  const weft = path.join(root, 'node');
  const version = require(path.join(weft, 'package.json')).version;
  fs.writeFileSync(path.join(work, 'index.js'),
    `'use strict';\n// The shim: Primus's tests require('..'); this is weft.\nmodule.exports = require(${JSON.stringify(weft)});\n`);
  fs.writeFileSync(path.join(work, 'package.json'),
    JSON.stringify({ name: 'primus', version, private: true }, null, 2) + '\n');
}

function expected() {
  const f = path.join(here, 'expected-failures.txt');
  if (!fs.existsSync(f)) return new Set();
  return new Set(fs.readFileSync(f, 'utf8').split('\n').map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#')));
}

setup();
process.chdir(work);
const Mocha = require(path.join(here, 'node_modules/mocha'));
const mocha = new Mocha({ timeout: 4000, reporter: function Quiet() {} });
for (const f of FILES) mocha.addFile(path.join(work, 'test', f));
const t0 = Date.now();
const failed = [];
let passed = 0;
let pending = 0;
const runner = mocha.run();
runner.on('pass', () => { passed++; });
runner.on('pending', () => { pending++; });
runner.on('fail', (test, err) => {
  const file = path.basename((test.file || (test.parent && test.parent.file) || '?'));
  failed.push({ title: `${file} :: ${test.fullTitle()}`, err });
});
runner.on('end', () => {
  const listed = expected();
  const titles = new Set(failed.map((f) => f.title));
  if (process.argv.includes('--list')) {
    for (const t of [...titles].sort()) console.log(t);
  }
  const unexpected = failed.filter((f) => !listed.has(f.title));
  const fixed = [...listed].filter((t) => !titles.has(t));
  for (const f of unexpected) {
    console.log(`FAIL (not in expected-failures.txt) ${f.title}\n  ${String(f.err && f.err.message).split('\n')[0]}`);
  }
  for (const t of fixed) console.log(`PASSES (listed in expected-failures.txt) ${t}`);
  console.log(`primus-suite: ${runner.total} tests, ${passed} passed, ${failed.length} failed (${failed.length - unexpected.length} listed), ${pending} pending, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  process.exit(unexpected.length || fixed.length ? 1 : 0);
});
