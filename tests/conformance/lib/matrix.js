'use strict';
// docs/bindings.md's capability matrix: its source (capabilities.json), the
// public functions of include/weft/*.h, which of them each host's binding
// sources call, and the Markdown table rendered from it.
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, HERE } = require('./hosts');

const FILE = path.join(HERE, 'capabilities.json');
const DOC = path.join(ROOT, 'docs', 'bindings.md');
const BEGIN = '<!-- matrix: generated from tests/conformance/capabilities.json; do not edit -->';
const END = '<!-- end of matrix -->';

function loadMatrix() {
  const json = JSON.parse(fs.readFileSync(FILE, 'utf8'));
  const rows = new Map();
  for (const r of json.rows) rows.set(r.id, r);
  return { ...json, rows };
}

/** { has, reason, api } of one cell. A string cell is the host's API for it. */
function cell(m, id, host) {
  const row = m.rows.get(id);
  if (!row) return { has: false, reason: `no capability ${id}` };
  const c = row[host];
  if (typeof c === 'string') return { has: true, api: c };
  if (c && (c.missing || c.na)) return { has: false, reason: c.missing || c.na, na: !!c.na };
  return { has: false, reason: `no cell for ${host}` };
}

/** Every WEFT_EXTERN function declared in include/weft/*.h, in order. */
function publicFunctions() {
  const dir = path.join(ROOT, 'include', 'weft');
  const names = [];
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.h')).sort()) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, ' ')
      .replace(/^\s*#.*$/gm, ' ');
    for (const m of text.matchAll(/WEFT_EXTERN\s+[^;{]*?\b(weft_[a-z0-9_]+)\s*\(/g)) names.push({ name: m[1], header: f });
  }
  return names;
}

/** Files matching simple globs ("dir/*.c", "dir/**\/*.py") under ROOT. */
function glob(pattern) {
  const parts = pattern.split('/');
  const walk = (dir, i) => {
    if (i === parts.length) return [dir];
    const p = parts[i];
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) return [];
    if (p === '**') {
      const here = walk(dir, i + 1);
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) here.push(...walk(path.join(dir, e.name), i));
      }
      return here;
    }
    const re = new RegExp(`^${p.replace(/\./g, '\\.').replace(/\*/g, '.*')}$`);
    return fs.readdirSync(dir).filter((n) => re.test(n)).flatMap((n) => walk(path.join(dir, n), i + 1));
  };
  return [...new Set(walk(ROOT, 0))].filter((f) => fs.statSync(f).isFile());
}

/** The set of weft_* identifiers a host's binding sources mention. */
function boundNames(m, host) {
  const names = new Set();
  for (const pattern of m.sources[host] || []) {
    for (const f of glob(pattern)) {
      for (const x of fs.readFileSync(f, 'utf8').matchAll(/\bweft_[a-z0-9_]+/g)) names.add(x[0]);
    }
  }
  return names;
}

function render(m) {
  const esc = (s) => String(s).replace(/\|/g, '\\|');
  const head = `| capability | ${m.hosts.map((h) => m.titles[h]).join(' | ')} |`;
  const lines = [head, `|---|${m.hosts.map(() => '---').join('|')}|`];
  const notes = []; // each reason once
  for (const [id, row] of m.rows) {
    const cells = m.hosts.map((h) => {
      const c = cell(m, id, h);
      if (c.has) return `✓ ${esc(c.api)}`.trim();
      if (!notes.includes(c.reason)) notes.push(c.reason);
      return `${c.na ? 'n/a' : '✗'} [${notes.indexOf(c.reason) + 1}]`;
    });
    lines.push(`| **${id}**: ${esc(row.what)} | ${cells.join(' | ')} |`);
  }
  return `${BEGIN}\n\n${lines.join('\n')}\n\n${notes.map((n, i) => `${i + 1}. ${n}`).join('\n')}\n\n${END}`;
}

/** docs/bindings.md with its matrix block replaced by `block`. */
function withMatrix(doc, block) {
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`docs/bindings.md has no matrix block (${BEGIN} … ${END})`);
  return doc.slice(0, a) + block + doc.slice(b + END.length);
}

module.exports = { loadMatrix, cell, publicFunctions, boundNames, render, withMatrix, DOC, FILE };
