'use strict';
//
// The conformance suite (issue #15, item 5): every scenario of scenarios/
// against every host's driver (README.md), then the scenario x host table.
// A cell is PASS, FAIL, or EXCEPTION(reason) when exceptions.json lists that
// host and scenario with its reason. Fails on any FAIL, on an exception that
// is not listed, on a listed exception that passes (the list must shrink as
// the bindings catch up), and when a driver's capabilities disagree with
// docs/bindings.md's matrix (capabilities.json).
//
// WEFT_CONFORMANCE_HOSTS=c,node limits the hosts; WEFT_CONFORMANCE_ONLY=name
// the scenarios (then unbuilt hosts and stale exceptions are not judged);
// WEFT_CONFORMANCE_SLOW=2 doubles every wait.
//
const { test, after } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { HOSTS, HERE, ROOT } = require('./lib/hosts');
const { Driver } = require('./lib/driver');
const { runScenario, roleHost } = require('./lib/scenario');
const { loadMatrix, cell } = require('./lib/matrix');

const ALL = Object.keys(HOSTS);
const only = process.env.WEFT_CONFORMANCE_ONLY ? process.env.WEFT_CONFORMANCE_ONLY.split(',') : null;
const wanted = process.env.WEFT_CONFORMANCE_HOSTS ? process.env.WEFT_CONFORMANCE_HOSTS.split(',') : ALL;
const scenarioDir = path.join(HERE, 'scenarios');
const scenarios = fs.readdirSync(scenarioDir).filter((f) => f.endsWith('.json')).sort()
  .map((f) => ({ file: f, ...JSON.parse(fs.readFileSync(path.join(scenarioDir, f), 'utf8')) }))
  .filter((s) => !only || only.includes(s.name));
const exceptions = JSON.parse(fs.readFileSync(path.join(HERE, 'exceptions.json'), 'utf8'));
const matrix = loadMatrix();
const results = new Map(); // "scenario|host" -> { status, reason }

/** The capabilities a scenario needs that the driver playing each role lacks, per the matrix. */
function gaps(host, sc) {
  const out = new Set();
  for (const role of ['server', 'client']) {
    const h = roleHost(host, role);
    for (const cap of (sc.needs && sc.needs[role]) || []) {
      const c = cell(matrix, cap, h);
      if (!c.has) out.add(cap);
    }
  }
  return [...out];
}

function judge(host, sc, outcome, gap) {
  const listed = exceptions[host] && exceptions[host][sc.name];
  if (gap.length && listed && !gap.every((cap) => listed.includes(cap))) {
    return { status: 'FAIL', reason: `exceptions.json does not name the capabilities it lacks: ${gap.join(', ')}` };
  }
  if (outcome.ok && listed) return { status: 'FAIL', reason: `listed exception passes (remove it from exceptions.json): ${listed}` };
  if (outcome.ok) return { status: 'PASS' };
  if (listed) return { status: 'EXCEPTION', reason: listed, detail: outcome.detail };
  return { status: 'FAIL', reason: outcome.detail };
}

test('every scenario is well-formed and names known capabilities', () => {
  const names = new Set();
  for (const sc of scenarios) {
    assert.ok(sc.name && !names.has(sc.name), `${sc.file}: a unique name`);
    names.add(sc.name);
    assert.strictEqual(`${sc.name}.json`, sc.file, `${sc.file}: the file is named after the scenario`);
    assert.ok(typeof sc.about === 'string' && sc.about, `${sc.file}: about`);
    assert.ok(Array.isArray(sc.steps) && sc.steps.length, `${sc.file}: steps`);
    for (const role of Object.keys(sc.needs || {})) {
      assert.ok(['server', 'client'].includes(role), `${sc.file}: needs.${role}`);
      for (const cap of sc.needs[role]) assert.ok(matrix.rows.has(cap), `${sc.file}: unknown capability ${cap}`);
    }
  }
  for (const host of Object.keys(exceptions)) {
    assert.ok(ALL.includes(host), `exceptions.json: unknown host ${host}`);
    for (const [name, why] of Object.entries(exceptions[host])) {
      assert.ok(only || names.has(name), `exceptions.json: ${host}: unknown scenario ${name}`);
      assert.ok(typeof why === 'string' && why.length > 10, `exceptions.json: ${host}/${name}: a reason`);
    }
  }
});

// The hosts run side by side (each host's scenarios one after another):
// most of a scenario's time is waiting for the network.
const CONCURRENCY = Number(process.env.WEFT_CONFORMANCE_JOBS || 5);
test('hosts', { concurrency: CONCURRENCY }, async (top) => {
  await Promise.all(ALL.filter((h) => wanted.includes(h)).map((host) => top.test(`host ${host}`, async (t) => {
    const missing = HOSTS[host].missing();
    if (missing) {
      for (const sc of scenarios) results.set(`${sc.name}|${host}`, { status: 'NOT BUILT', reason: missing });
      if (only) return;
      assert.fail(`${host} is not built: ${missing}`);
    }
    await t.test('its driver claims what the matrix says the host has', async () => {
      const label = `caps:${host}`;
      const d = new Driver(host, HOSTS[host], label, () => {});
      try {
        const hello = await d.hello;
        const claimed = new Set(hello.caps);
        const problems = [];
        for (const [id, row] of matrix.rows) {
          if (!row.driver) continue;
          const c = cell(matrix, id, host);
          if (c.has && !claimed.has(id)) problems.push(`${id}: the matrix says ${host} has it, the driver does not claim it`);
          if (!c.has && claimed.has(id)) problems.push(`${id}: the driver claims it, the matrix says "${c.reason}"`);
        }
        for (const id of claimed) if (!matrix.rows.has(id)) problems.push(`${id}: not a capability of the matrix`);
        assert.deepStrictEqual(problems, []);
      } finally {
        await d.stop(5000);
      }
    });
    for (const sc of scenarios) {
      await t.test(sc.name, { timeout: 120000 }, async () => {
        const g = gaps(host, sc);
        const listed = !!(exceptions[host] && exceptions[host][sc.name]);
        const why = g.map((cap) => `${cap} (${cell(matrix, cap, roleHost(host, sc.needs.server && sc.needs.server.includes(cap) ? 'server' : 'client')).reason})`);
        const outcome = g.length ? { ok: false, detail: `needs ${why.join(', ')}` } : await runScenario(host, sc, listed);
        const r = judge(host, sc, outcome, g);
        results.set(`${sc.name}|${host}`, r);
        if (r.status === 'FAIL') assert.fail(r.reason);
      });
    }
  })));
});

after(() => {
  const hosts = ALL.filter((h) => wanted.includes(h));
  const w0 = Math.max(8, ...scenarios.map((s) => s.name.length));
  const lines = [`${'scenario'.padEnd(w0)}  ${hosts.map((h) => h.padEnd(9)).join(' ')}`];
  const notes = [];
  const noteOf = (text) => {
    if (!notes.includes(text)) notes.push(text);
    return notes.indexOf(text) + 1;
  };
  for (const sc of scenarios) {
    const row = hosts.map((h) => {
      const r = results.get(`${sc.name}|${h}`);
      if (!r) return '-'.padEnd(9);
      if (r.status === 'PASS') return 'PASS'.padEnd(9);
      if (r.status === 'NOT BUILT') return `NOTBUILT(${noteOf(`${h}: not built: ${r.reason}`)})`.padEnd(9);
      const n = noteOf(`${sc.name} / ${h}: ${r.status}: ${r.reason}`);
      return `${r.status === 'EXCEPTION' ? 'EXC' : r.status}(${n})`.padEnd(9);
    });
    lines.push(`${sc.name.padEnd(w0)}  ${row.join(' ')}`);
  }
  const counts = {};
  for (const r of results.values()) counts[r.status] = (counts[r.status] || 0) + 1;
  const text = `${lines.join('\n')}\n\n${notes.map((n, i) => `(${i + 1}) ${n}`).join('\n')}\n\n` +
    `conformance: ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')}\n`;
  const dir = path.join(ROOT, 'build-conformance');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'table.txt'), text);
  process.stdout.write(`\n${text}`);
});
