'use strict';
//
// Runs Primus 8.0.9's own tests (vendor/test, unedited) against weft's Node
// API. The run folder (build-primus-suite/, git-ignored) holds a copy of
// vendor/test and the shim: the tests `require('..')`, which is index.js
// there, `module.exports = require(<weft's node/>)`, and `../package.json`,
// which names weft's version. Nothing else maps to weft.
//
// Each file runs in a process; each test that did not pass there runs
// again in a process of its own (mocha, grep on its full title), so that a
// failing test's leftover clients and timers cannot fail the next ones:
// every result is the test's own, the same run after run. The TCP tests
// run one after the other (Primus's common.js hands out ports from 1111 in
// each process); the Unix-socket ones beside them.
//
// Prints one line per failing test that expected-failures.txt does not
// list and per listed test that passes, the counts per file and in all;
// exits non-zero in either case (the list is docs/primus-compat.md's, kept
// honest both ways).
//   node run.js                   the whole suite
//   node run.js --list            also prints every failing title (the list's format)
//   node run.js --only F1,F2      those files only (no check against the list)
//   node run.js --grep TEXT       the tests whose title has TEXT (no check)
//   PRIMUS_SUITE_STACKS=1         with the failures' stacks
//
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const here = __dirname;
const root = path.resolve(here, '../..');
const work = path.join(root, 'build-primus-suite');
const FILES = ['primus.test.js', 'spark.test.js', 'middleware.test.js', 'plugin.test.js',
  'primus.parsers.test.js', 'websockets.integration.js', 'engine.io.integration.js',
  'unix_domain_websockets.integration.js'];
const PER_TEST_MS = 15000;
const BATCH_MS = 60000;
const UNIX = 'unix_domain_websockets.integration.js';

const arg = (name) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};

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

function newMocha(files) {
  const Mocha = require(path.join(here, 'node_modules/mocha'));
  const mocha = new Mocha({ timeout: 2000, reporter: function Quiet() {} });
  for (const f of files) mocha.addFile(path.join(work, 'test', f));
  return mocha;
}

// The child: one test, by file and full title; prints one JSON line.
function one(file, title) {
  process.chdir(work);
  const mocha = newMocha([file]);
  mocha.grep(new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
  const out = { passed: 0, errors: [] };
  const report = () => {
    process.stdout.write(`\n@@result ${JSON.stringify(out)}\n`);
    process.exit(0);
  };
  const runner = mocha.run();
  runner.on('pass', () => { out.passed++; });
  runner.on('fail', (test, err) => {
    out.errors.push({ where: test.fullTitle(), message: String(err && err.message).split('\n')[0],
      stack: process.env.PRIMUS_SUITE_STACKS ? String(err && err.stack) : undefined });
  });
  runner.on('end', report);
}

// The child: a whole file; prints the titles that passed (one JSON line).
function batch(file) {
  process.chdir(work);
  const mocha = newMocha([file]);
  const passedTitles = [];
  const failedTitles = new Set();
  const runner = mocha.run();
  runner.on('pass', (test) => passedTitles.push(test.fullTitle()));
  runner.on('fail', (test) => failedTitles.add(test.fullTitle()));
  runner.on('end', () => {
    // A test that passed and then failed (done() twice, a late throw) did not pass.
    const ok = passedTitles.filter((t) => !failedTitles.has(t));
    process.stdout.write(`\n@@result ${JSON.stringify(ok)}\n`);
    process.exit(0);
  });
}

// The parent: the titles of every test, in order.
function titles(files) {
  process.chdir(work);
  const out = [];
  for (const f of files) {
    const mocha = newMocha([f]);
    mocha.loadFiles();
    const walk = (suite) => {
      for (const t of suite.tests) out.push({ file: f, title: t.fullTitle() });
      for (const s of suite.suites) walk(s);
    };
    walk(mocha.suite);
    mocha.unloadFiles();
    for (const k of Object.keys(require.cache)) if (k.startsWith(work)) delete require.cache[k];
  }
  return out;
}

function expected() {
  const f = path.join(here, 'expected-failures.txt');
  if (!fs.existsSync(f)) return new Set();
  return new Set(fs.readFileSync(f, 'utf8').split('\n').map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#')));
}

if (process.argv[2] === '--one') {
  one(process.argv[3], process.argv[4]);
} else if (process.argv[2] === '--batch') {
  batch(process.argv[3]);
} else {
  main();
}

async function main() {
  setup();
  const only = arg('--only');
  const grep = arg('--grep');
  let tests = titles(only ? only.split(',') : FILES);
  if (grep) tests = tests.filter((t) => t.title.includes(grep));
  const t0 = Date.now();
  const perFile = {};
  const failed = [];
  let passed = 0;
  const slow = [];
  const runOne = (t) => new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [__filename, '--one', t.file, t.title], { cwd: work, env: process.env });
    let stdout = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.resume();
    const timer = setTimeout(() => child.kill('SIGKILL'), PER_TEST_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      slow.push([Date.now() - started, t.title]);
      const m = /@@result (.*)/.exec(stdout);
      const res = m ? JSON.parse(m[1]) : { passed: 0, errors: [{ where: t.title, message: `exit ${code} ${signal || ''}` }] };
      const c = perFile[t.file] = perFile[t.file] || { passed: 0, failed: 0 };
      if (res.passed === 1 && res.errors.length === 0) {
        passed++;
        c.passed++;
      } else {
        c.failed++;
        failed.push({ title: `${t.file} :: ${t.title}`, errors: res.errors.length ? res.errors : [{ where: t.title, message: 'did not run (a hook failed)' }] });
      }
      resolve();
    });
  });
  // First each file in one process; what passes there passed on its own
  // merits (a leftover of another test can fail a test, not pass it). The
  // rest runs again alone, which decides.
  const passedInBatch = new Set();
  const files = [...new Set(tests.map((t) => t.file))];
  const runBatch = (file) => new Promise((resolve) => {
    const child = spawn(process.execPath, [__filename, '--batch', file], { cwd: work, env: process.env });
    let stdout = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.resume();
    const timer = setTimeout(() => child.kill('SIGKILL'), BATCH_MS);
    child.on('close', () => {
      clearTimeout(timer);
      const m = /@@result (.*)/.exec(stdout);
      for (const t of m ? JSON.parse(m[1]) : []) passedInBatch.add(`${file} :: ${t}`);
      resolve();
    });
  });
  const batchLanes = [files.filter((f) => f === UNIX), files.filter((f) => f !== UNIX)];
  await Promise.all(batchLanes.map(async (lane) => { for (const f of lane) await runBatch(f); }));
  for (const t of tests) {
    if (!passedInBatch.has(`${t.file} :: ${t.title}`)) continue;
    const c = perFile[t.file] = perFile[t.file] || { passed: 0, failed: 0 };
    c.passed++;
    passed++;
  }
  const alone = tests.filter((t) => !passedInBatch.has(`${t.file} :: ${t.title}`));
  // Two lanes: the Unix-socket file needs no TCP port, the others share
  // common.js's ports from 1111 and go one at a time.
  const lanes = [alone.filter((t) => t.file === UNIX), alone.filter((t) => t.file !== UNIX)];
  await Promise.all(lanes.map(async (lane) => { for (const t of lane) await runOne(t); }));
  const order = new Map(tests.map((t, i) => [`${t.file} :: ${t.title}`, i]));
  failed.sort((a, b) => order.get(a.title) - order.get(b.title));
  const check = !only && !grep;
  const listed = expected();
  const failedTitles = new Set(failed.map((f) => f.title));
  if (process.argv.includes('--list')) for (const f of failed) console.log(f.title);
  const unexpected = failed.filter((f) => !check || !listed.has(f.title));
  for (const f of unexpected) {
    console.log(`FAIL${check ? ' (not in expected-failures.txt)' : ''} ${f.title}`);
    for (const e of f.errors) {
      console.log(`  ${e.where === f.title.split(' :: ')[1] ? '' : `[${e.where}] `}${e.message}`);
      if (e.stack) console.log(e.stack);
    }
  }
  const fixed = check ? [...listed].filter((t) => !failedTitles.has(t)) : [];
  for (const t of fixed) console.log(`PASSES (listed in expected-failures.txt) ${t}`);
  if (process.env.PRIMUS_SUITE_SLOW) for (const [ms, t] of slow.sort((a, b) => b[0] - a[0]).slice(0, 25)) console.log(`  ${ms} ms ${t}`);
  for (const f of Object.keys(perFile)) console.log(`  ${f}: ${perFile[f].passed} passed, ${perFile[f].failed} failed`);
  console.log(`primus-suite: ${tests.length} tests, ${passed} passed, ${failed.length} failed` +
    `${check ? ` (${failed.length - unexpected.length} listed)` : ''}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  process.exit(check && (unexpected.length || fixed.length) ? 1 : 0);
}
