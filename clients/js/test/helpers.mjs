// Test helpers: start `weft serve` on port 0 (or a given port) and read its
// port, and launch Debian's Chromium through playwright-core. Every process
// started here is killed by its PID only.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, '../../..');
export const WEFT_BIN = resolve(process.env.WEFT_BIN || join(ROOT, 'build-js/core/weft'));
export const ARTIFACTS = resolve(process.env.WEFT_ARTIFACTS || join(ROOT, 'build-js/artifacts'));
mkdirSync(ARTIFACTS, { recursive: true });

const live = new Set();
process.on('exit', () => {
  for (const p of live) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch (e) {}
  }
});

/** Starts `weft serve ARGS`; resolves { proc, port, stop() } once it listens. */
export function startWeft(args, { timeout = 5000 } = {}) {
  return new Promise((resolveP, reject) => {
    const proc = spawn(WEFT_BIN, ['serve', '--host', '127.0.0.1', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      stop(proc);
      reject(new Error(`weft serve did not listen within ${timeout} ms: ${out}${err}`));
    }, timeout);
    proc.stderr.on('data', (d) => (err += d));
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening on wss?:\/\/[^:]+:(\d+)/.exec(out);
      if (m && timer) {
        clearTimeout(timer);
        resolveP({ proc, port: Number(m[1]), stop: (sig) => stop(proc, sig) });
      }
    });
    proc.on('exit', (code) => {
      live.delete(proc);
      clearTimeout(timer);
      if (!/listening on/.test(out)) reject(new Error(`weft serve exited with ${code}: ${err}`));
    });
  });
}

/** Kills a process we started, by its PID, and waits for it to exit. */
export function stop(proc, sig = 'SIGTERM') {
  return new Promise((res) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return res();
    proc.once('exit', () => res());
    try {
      process.kill(proc.pid, sig);
    } catch (e) {
      res();
    }
  });
}

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync'
];

/** Debian's Chromium with a new empty profile (a persistent context on a fresh --user-data-dir). */
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'weft-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 900, height: 600 },
    timeout: 30000
  });
  return { context, profile };
}

/**
 * Chromium for one test file: launched before its tests, closed (its profile
 * removed) after them; `.context` is the browser context meanwhile.
 */
export function chromiumHooks(before, after) {
  let b = null;
  before(async () => {
    b = await launchChromium();
  });
  after(async () => {
    if (b) {
      await b.context.close();
      rmSync(b.profile, { recursive: true, force: true });
    }
  });
  return {
    get context() {
      return b.context;
    }
  };
}
