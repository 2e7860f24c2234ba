'use strict';
// Process and worker lifetimes, and memory over many connections.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { runNode } = require('./helpers');

const fixture = (name) => path.join(__dirname, 'fixtures', name);

test('a process with no listening server and no client exits by itself', async () => {
  const r = await runNode([fixture('exits.js')], 15000);
  assert.equal(r.signal, null, `killed: ${r.stderr}`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /closed\nexit 0/);
});

test('workers that start a server and exit or are terminated leave the process clean', async () => {
  const r = await runNode([fixture('worker.js')], 20000);
  assert.equal(r.signal, null, `killed: ${r.stderr}`);
  assert.equal(r.code, 0, r.stderr);
  const runs = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(runs.map((x) => x.mode), ['terminate', 'exit', 'end', 'terminate']);
  for (const run of runs) {
    assert.ok(run.port > 0, JSON.stringify(run));
    assert.equal(run.refused, true, `port still open after ${run.mode}`);
  }
  assert.equal(r.stderr, '');
});

test('1000 connect/disconnect cycles leave heap and RSS flat', async () => {
  const r = await runNode(['--expose-gc', fixture('cycles.js')], 60000);
  assert.equal(r.code, 0, r.stderr);
  const { before, after, connected } = JSON.parse(r.stdout.trim());
  assert.equal(connected, 0);
  const heapGrowth = after.heap - before.heap;
  const rssGrowth = after.rss - before.rss;
  // Bounds, not timings: a leak of 1 KiB per cycle would already cross them.
  assert.ok(heapGrowth < 1024 * 1024, `heap grew ${heapGrowth} bytes`);
  assert.ok(rssGrowth < 8 * 1024 * 1024, `RSS grew ${rssGrowth} bytes`);
});
