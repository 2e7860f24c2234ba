'use strict';
// Runs one scenario (scenarios/*.json, README.md "Scenarios") on one host:
// starts the drivers the steps name, sends commands, plays the raw peers,
// and matches the events. Resolves { ok, detail }; never throws.
const { Driver } = require('./driver');
const path = require('node:path');
const { HOSTS, HERE } = require('./hosts');
const { RawPeers } = require('./raw');
const values = require('./values');

const SCALE = Number(process.env.WEFT_CONFORMANCE_SLOW || 1);
const DEFAULT_TIMEOUT = 10000;
const REPLY_TIMEOUT = 15000;
// Event fields that carry protocol values (compared as values); the rest
// are compared as plain JSON.
const VALUE_FIELDS = new Set(['value', 'args', 'reason', 'values']);
// Fields that name what an event is about: `ordered` compares the first
// unconsumed event with the same ev and these.
const OBJECT_FIELDS = ['server', 'client', 'spark', 'channel', 'raw', 'raw_server', 'ref'];
const VAR = /^\$[A-Za-z_][\w.]*$/;
// "$s1.url?token=x", "$s1.http/page.html": a variable, then a URL's rest.
const PREFIX = /^(\$[A-Za-z_][\w.]*[\w])([?/#:].*)$/s;

class Failure extends Error {}

/** The driver host that plays `role` ("server" | "client") when testing `host`. */
function roleHost(host, role) {
  return role === 'server' ? HOSTS[host].serverHost || host : host;
}

class Run {
  constructor(host, scenario, scale) {
    this.host = host;
    this.scenario = scenario;
    this.scale = scale;
    this.vars = new Map([['$static', path.join(HERE, 'static')]]);
    this.events = [];
    this.waiters = new Set();
    this.drivers = new Map(); // "proc:host" -> Driver
    this.replyOwner = new Map(); // runner's reply ref -> [driver, driver's ref]
    this.killed = new Set();
    this.fatal = null;
    this.raw = new RawPeers((e) => this.push(e, null));
    this.seq = 0;
  }

  push(e, driver) {
    if (e.ev === '$exit' && this.killed.has(e.proc)) return;
    if (e.ev === '$exit' || e.ev === '$bad_line' || e.ev === 'driver_error') {
      const why = e.ev === '$exit' ? `driver ${e.proc} exited (${e.signal || e.code})`
        : e.ev === '$bad_line' ? `driver ${e.proc} printed a line that is not JSON: ${e.line}`
          : `driver error: ${e.message}`;
      this.fatal = this.fatal || new Failure(why + (driver ? driver.tail() : ''));
    }
    if (driver && typeof e.reply === 'string') {
      const ref = `${driver.label}#${e.reply}`;
      this.replyOwner.set(ref, [driver, e.reply]);
      e.reply = ref;
    }
    e._seq = this.seq++;
    this.events.push(e);
    for (const w of this.waiters) w();
  }

  async driver(proc, role) {
    const h = roleHost(this.host, role);
    const key = `${proc}:${h}`;
    let d = this.drivers.get(key);
    if (d && !d.exited) return d;
    this.killed.delete(key);
    d = new Driver(h, HOSTS[h], key, (e) => this.push(e, d));
    this.drivers.set(key, d);
    await d.hello;
    return d;
  }

  subst(v) {
    if (typeof v === 'string' && VAR.test(v)) {
      if (!this.vars.has(v)) throw new Failure(`unbound variable ${v}`);
      return this.vars.get(v);
    }
    const m = typeof v === 'string' ? PREFIX.exec(v) : null;
    if (m) return `${this.subst(m[1])}${m[2]}`;
    if (Array.isArray(v)) return v.map((x) => this.subst(x));
    if (v && typeof v === 'object') {
      const out = {};
      for (const k of Object.keys(v)) out[k] = this.subst(v[k]);
      return out;
    }
    return v;
  }

  /** Does event e match pattern p? Binds unbound $vars into `binds`. */
  match(p, e, binds) {
    for (const k of Object.keys(p)) {
      if (k === 'proc') continue;
      const want = p[k];
      const got = e[k];
      if (VALUE_FIELDS.has(k)) {
        if (got === undefined || !values.equal(this.subst(want), got)) return false;
      } else if (typeof want === 'string' && VAR.test(want)) {
        const bound = binds.has(want) ? binds.get(want) : this.vars.get(want);
        if (bound === undefined) {
          if (got === undefined) return false;
          binds.set(want, got);
        } else if (bound !== got) return false;
      } else if (!this.plain(want, got, binds)) return false;
    }
    return true;
  }

  /** Plain fields: {"$re": …} matches strings, objects match as subsets, the rest exactly. */
  plain(want, got, binds) {
    if (typeof want === 'string' && VAR.test(want)) return this.match({ x: want }, { x: got }, binds);
    if (want && typeof want === 'object' && want.$re !== undefined) {
      return typeof got === 'string' && new RegExp(want.$re).test(got);
    }
    if (want && typeof want === 'object' && !Array.isArray(want)) {
      if (!got || typeof got !== 'object') return false;
      return Object.keys(want).every((k) => this.plain(want[k], got[k], binds));
    }
    return JSON.stringify(want) === JSON.stringify(got);
  }

  /** Finds (and consumes) the first unconsumed event matching p, or null. */
  take(p, ordered) {
    for (const e of this.events) {
      if (e._used) continue;
      if (ordered && e.ev === p.ev && OBJECT_FIELDS.every((f) => p[f] === undefined ||
          (typeof p[f] === 'string' && VAR.test(p[f]) && !this.vars.has(p[f])) || this.subst(p[f]) === e[f])) {
        const binds = new Map();
        if (!this.match(p, e, binds)) throw new Failure(`out of order: wanted ${show(p)}, next is ${show(e)}`);
        return this.consume(e, binds);
      }
      const binds = new Map();
      if (!ordered && this.match(p, e, binds)) return this.consume(e, binds);
    }
    return null;
  }

  consume(e, binds) {
    e._used = true;
    for (const [k, v] of binds) this.vars.set(k, v);
    return e;
  }

  waitFor(test, ms) {
    return new Promise((resolve, reject) => {
      const check = () => {
        try {
          if (this.fatal) throw this.fatal;
          const r = test();
          if (r) done(resolve, r);
        } catch (e) {
          done(reject, e);
        }
      };
      const timer = setTimeout(() => done(resolve, null), ms);
      const done = (fn, v) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        fn(v);
      };
      this.waiters.add(check);
      check();
    });
  }

  async expect(step) {
    const ms = (step.timeout || DEFAULT_TIMEOUT) * this.scale;
    const pats = step.expect_all || [step.expect];
    const left = pats.slice();
    const ok = await this.waitFor(() => {
      for (let i = 0; i < left.length; i++) {
        if (this.take(left[i], step.ordered)) left.splice(i--, 1);
      }
      return left.length === 0;
    }, ms);
    if (!ok) throw new Failure(`no event ${left.map(show).join(', ')} within ${ms} ms${this.recent()}`);
  }

  async expectNone(step) {
    await new Promise((r) => setTimeout(r, (step.for || 500) * SCALE));
    if (this.fatal) throw this.fatal;
    const e = this.events.find((x) => !x._used && this.match(step.expect_none, x, new Map()));
    if (e) throw new Failure(`unexpected event ${show(e)}`);
  }

  recent() {
    const left = this.events.filter((e) => !e._used).slice(-12);
    return left.length ? `; unconsumed events: ${left.map(show).join(' ')}` : '; no unconsumed events';
  }

  async command(step) {
    const { proc = 'main', fails, returns: want, bind, ...rest } = step;
    const cmd = this.subst(rest);
    let driver;
    let payload = cmd;
    if (cmd.cmd === 'reply') {
      const owner = this.replyOwner.get(cmd.reply);
      if (!owner) throw new Failure(`no event carried reply ${cmd.reply}`);
      [driver] = owner;
      payload = { ...cmd, reply: owner[1] };
    } else {
      const role = cmd.server !== undefined ? 'server' : 'client';
      driver = await this.driver(proc, role);
    }
    const r = await driver.send(payload, REPLY_TIMEOUT * SCALE);
    if (fails) {
      if (r.ok) throw new Failure(`${cmd.cmd} succeeded; wanted failure ${fails}`);
      if (r.code !== fails) throw new Failure(`${cmd.cmd} failed with ${r.code} (${r.message}); wanted ${fails}`);
      return;
    }
    if (!r.ok) throw new Failure(`${cmd.cmd} failed: ${r.code}: ${r.message}`);
    if (cmd.cmd === 'serve') {
      this.vars.set(`$${cmd.server}.url`, r.url);
      const m = /^wss?:\/\/([^/]+)/.exec(r.url);
      if (m) this.vars.set(`$${cmd.server}.http`, `http://${m[1]}`);
    }
    if (want) {
      const binds = new Map();
      if (!this.match(want, r, binds)) throw new Failure(`${cmd.cmd} replied ${show(r)}; wanted ${show(want)}`);
      for (const [k, v] of binds) this.vars.set(k, v);
    }
    for (const [field, name] of Object.entries(bind || {})) this.vars.set(name, r[field]);
  }

  async action(step) {
    const s = this.subst(step);
    switch (s.do) {
      case 'sleep': return new Promise((r) => setTimeout(r, s.ms * SCALE));
      case 'raw_connect': return this.raw.connect(s);
      case 'raw_serve': return this.vars.set(`$${s.raw_server}.url`, await this.raw.serve(s));
      case 'raw_send': return this.raw.send(s);
      case 'raw_pause': return this.raw.pause(s, true);
      case 'raw_resume': return this.raw.pause(s, false);
      case 'raw_close': return this.raw.close(s);
      case 'http_get': return this.httpGet(s);
      case 'kill': {
        for (const [key, d] of this.drivers) {
          if (key.startsWith(`${s.proc}:`)) {
            this.killed.add(key);
            await d.killAndWait('SIGKILL');
          }
        }
        return undefined;
      }
      default: throw new Failure(`unknown action ${s.do}`);
    }
  }

  async httpGet(s) {
    const res = await fetch(s.url);
    const body = await res.text();
    if (s.status !== undefined && res.status !== s.status) throw new Failure(`GET ${s.url}: ${res.status}, wanted ${s.status}`);
    if (s.contains !== undefined && !body.includes(s.contains)) throw new Failure(`GET ${s.url}: body lacks ${JSON.stringify(s.contains)}`);
  }

  async run() {
    const steps = this.scenario.steps;
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i];
      try {
        if (this.fatal) throw this.fatal;
        if (step.cmd) await this.command(step);
        else if (step.do) await this.action(step);
        else if (step.expect || step.expect_all) await this.expect(step);
        else if (step.expect_none) await this.expectNone(step);
        else throw new Failure('a step needs cmd, do, expect, expect_all or expect_none');
      } catch (e) {
        e.message = `step ${i + 1} ${show(step)}: ${e.message}`;
        throw e;
      }
    }
    if (this.fatal) throw this.fatal;
  }

  async close() {
    await this.raw.closeAll().catch(() => {});
    await Promise.all([...this.drivers.values()].map((d) => {
      this.killed.add(d.label);
      return d.stop(5000 * SCALE);
    }));
  }
}

function show(x) {
  const o = {};
  for (const k of Object.keys(x)) if (k[0] !== '_') o[k] = x[k];
  const s = JSON.stringify(o);
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

/**
 * Runs `scenario` on `host`: { ok: true } or { ok: false, detail }. `quick`
 * (a listed exception, expected to fail) shortens the waits for events.
 */
async function runScenario(host, scenario, quick) {
  const run = new Run(host, scenario, quick ? SCALE * 0.3 : SCALE);
  try {
    await run.run();
    return { ok: true };
  } catch (e) {
    return { ok: false, detail: e instanceof Failure || e.message ? e.message : String(e) };
  } finally {
    await run.close();
  }
}

module.exports = { runScenario, roleHost };
