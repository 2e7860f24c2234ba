'use strict';
// One driver process, spoken to over the protocol of README.md: commands as
// JSON lines on its stdin (a pipe, or a regular file the runner appends to
// for hosts that cannot wait on a pipe and their loop at once), events and
// replies as JSON lines on its stdout. Every process is ended by its PID.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const PROTOCOL = 1;

class Driver {
  /**
   * @param {string} host      the host's name (table column)
   * @param {object} spec      lib/hosts.js entry
   * @param {string} label     "main/server" … for messages
   * @param {function} onEvent (event object) => void
   */
  constructor(host, spec, label, onEvent, extraEnv) {
    this.host = host;
    this.label = label;
    this.onEvent = onEvent;
    this.pending = new Map();
    this.nextId = 1;
    this.stderr = '';
    this.exited = null;
    let stdin = 'pipe';
    if (spec.stdin === 'file') {
      this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-conf-'));
      this.inFile = path.join(this.dir, 'stdin.jsonl');
      fs.writeFileSync(this.inFile, '');
      stdin = fs.openSync(this.inFile, 'r');
    }
    this.child = spawn(spec.argv[0], spec.argv.slice(1), {
      env: { ...process.env, ...(spec.env || {}), ...(extraEnv || {}) },
      stdio: [stdin, 'pipe', 'pipe'],
    });
    if (typeof stdin === 'number') fs.closeSync(stdin);
    this.child.stderr.on('data', (d) => {
      if (this.stderr.length < 20000) this.stderr += d;
    });
    this.hello = new Promise((resolve, reject) => {
      this.helloResolve = resolve;
      this.helloReject = reject;
    });
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => this.line(line));
    this.child.on('error', (e) => this.helloReject(e));
    this.child.on('exit', (code, signal) => {
      this.exited = { code, signal };
      const err = new Error(`${this.label}: driver exited (${signal || code})${this.tail()}`);
      this.helloReject(err);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
      this.onEvent({ ev: '$exit', proc: this.label, code, signal });
    });
  }

  tail() {
    const s = this.stderr.trim();
    return s ? `\n--- ${this.label} stderr:\n${s.slice(-3000)}` : '';
  }

  line(line) {
    let msg;
    try {
      msg = JSON.parse(line);
    } catch (e) {
      this.onEvent({ ev: '$bad_line', proc: this.label, line });
      return;
    }
    if (msg.ev === 'hello') {
      if (msg.protocol !== PROTOCOL) this.helloReject(new Error(`${this.label}: protocol ${msg.protocol}, want ${PROTOCOL}`));
      else this.helloResolve(msg);
      return;
    }
    if (msg.id !== undefined && msg.ev === undefined) {
      const p = this.pending.get(msg.id);
      if (p) {
        this.pending.delete(msg.id);
        p.resolve(msg);
      }
      return;
    }
    this.onEvent(msg);
  }

  /** Sends one command; resolves with the reply object ({ok, ...}). */
  send(cmd, timeoutMs) {
    if (this.exited) return Promise.reject(new Error(`${this.label}: driver has exited${this.tail()}`));
    const id = this.nextId++;
    const line = `${JSON.stringify({ id, ...cmd })}\n`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.label}: no reply to ${cmd.cmd} within ${timeoutMs} ms${this.tail()}`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (m) => { clearTimeout(timer); resolve(m); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      if (this.inFile) fs.appendFileSync(this.inFile, line);
      else this.child.stdin.write(line);
    });
  }

  /** Asks the driver to quit, then ends it by its PID if it does not. */
  async stop(graceMs) {
    if (this.exited) return;
    const gone = new Promise((resolve) => this.child.once('exit', resolve));
    this.send({ cmd: 'quit' }, graceMs).catch(() => {});
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }

  kill(signal) {
    if (this.exited) return;
    try {
      process.kill(this.child.pid, signal);
    } catch (e) {
      /* gone already */
    }
  }

  async killAndWait(signal) {
    if (this.exited) return;
    const gone = new Promise((resolve) => this.child.once('exit', resolve));
    this.kill(signal);
    await gone;
  }
}

module.exports = { Driver, PROTOCOL };
