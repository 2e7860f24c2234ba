'use strict';
//
// docs/bindings.md's capability matrix cannot drift (issue #15, item 4):
// every public function of include/weft/*.h is in one row of
// capabilities.json; a host whose cell says it has a capability calls every
// function of that row from its binding sources, or the row says why it
// needs not; every gap has a reason; and docs/bindings.md shows exactly the
// table rendered from the JSON (`node tests/conformance/matrix.js --write`).
//
const { test } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const M = require('./lib/matrix');

const m = M.loadMatrix();
const fns = M.publicFunctions();

test('the header parser finds the public functions', () => {
  assert.ok(fns.length > 150, `${fns.length} functions`);
  for (const f of ['weft_server_new', 'weft_server_use', 'weft_emitter_emit', 'weft_client_set_batching']) {
    assert.ok(fns.some((x) => x.name === f), f);
  }
});

test('every public function is in exactly one row, and every row names real functions', () => {
  const where = new Map();
  const problems = [];
  for (const [id, row] of m.rows) {
    for (const f of row.functions) {
      if (where.has(f)) problems.push(`${f}: in rows ${where.get(f)} and ${id}`);
      where.set(f, id);
      if (!fns.some((x) => x.name === f)) problems.push(`${id}: ${f} is not a public function`);
    }
  }
  for (const f of fns) if (!where.has(f.name)) problems.push(`${f.name} (${f.header}): in no row of capabilities.json`);
  assert.deepStrictEqual(problems, []);
});

test('every cell is an API, or a gap with its reason', () => {
  const problems = [];
  for (const [id, row] of m.rows) {
    assert.ok(row.what, `${id}: what`);
    for (const h of m.hosts) {
      const c = row[h];
      const ok = (typeof c === 'string' && c.length > 0) ||
        (c && typeof (c.missing || c.na) === 'string' && (c.missing || c.na).length > 10);
      if (!ok) problems.push(`${id}, ${h}: ${JSON.stringify(c)}`);
    }
  }
  assert.deepStrictEqual(problems, []);
});

for (const host of Object.keys(m.sources)) {
  test(`${host}: its binding calls every function of the capabilities it has`, () => {
    const bound = M.boundNames(m, host);
    assert.ok(bound.size > 50, `${host}: ${bound.size} weft_ names in ${m.sources[host].join(' ')}`);
    const problems = [];
    for (const [id, row] of m.rows) {
      const has = M.cell(m, id, host).has;
      const why = (row.unneeded && row.unneeded[host]) || {};
      for (const f of row.functions) {
        if (has && !bound.has(f) && !why[f]) {
          problems.push(`${f}: unbound in ${host}, yet the row ${id} says ${host} has it (bind it, or give the reason under "unneeded")`);
        }
        if (why[f] && bound.has(f)) problems.push(`${f}: ${host} calls it; drop its "unneeded" reason in row ${id}`);
      }
      for (const f of Object.keys(why)) if (!row.functions.includes(f)) problems.push(`${id}: unneeded ${f} is not in the row`);
    }
    assert.deepStrictEqual(problems, []);
  });
}

test('docs/bindings.md shows the matrix of capabilities.json', () => {
  const doc = fs.readFileSync(M.DOC, 'utf8');
  const want = M.withMatrix(doc, M.render(m));
  assert.ok(doc === want, 'docs/bindings.md is out of date: run node tests/conformance/matrix.js --write');
});
