'use strict';
// The conformance driver of the browser host (tests/conformance/README.md):
// weft's own browser client (clients/js/dist/weft.min.js, the global Weft)
// in headless Chromium through playwright-core, as clients/js/test does,
// with its optional channels module (dist/weft-channels.min.js).
// Clients only: the runner plays servers on the C driver. This Node process
// speaks the protocol on stdin/stdout and serves one page (page.js and the
// client bundle) on 127.0.0.1; commands run in the page, and its events
// come back through an exposed function.
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const { chromium } = require(path.join(ROOT, 'clients', 'js', 'node_modules', 'playwright-core'));

const CAPS = ['client', 'values', 'values.binary', 'parser.msgpack', 'client.manual', 'client.destroy',
  'client.set_online', 'client.id', 'client.emitter', 'rooms.client', 'client.transform.in', 'client.transform.out',
  'client.plugin', 'client.batching', 'client.channels', 'values.int64.json'];
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const FILES = {
  '/': ['text/html', '<!doctype html><title>weft conformance</title><script src="/weft.js"></script>' +
    '<script src="/weft-channels.js"></script><script src="/values.js"></script><script src="/menu.js"></script><script src="/page.js"></script>'],
  '/weft.js': ['application/javascript', path.join(ROOT, 'clients', 'js', 'dist', 'weft.min.js')],
  // the optional channels module, as a page loads it after weft.js
  '/weft-channels.js': ['application/javascript', path.join(ROOT, 'clients', 'js', 'dist', 'weft-channels.min.js')],
  '/values.js': ['application/javascript', path.join(__dirname, '..', '..', 'lib', 'values.js')],
  '/menu.js': ['application/javascript', path.join(__dirname, '..', '..', 'lib', 'menu.js')],
  '/page.js': ['application/javascript', path.join(__dirname, 'page.js')],
};

const out = (ev) => process.stdout.write(`${JSON.stringify(ev)}\n`);

function servePage() {
  const server = http.createServer((req, res) => {
    const f = FILES[req.url];
    if (!f) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': f[0] });
    return res.end(req.url === '/' ? f[1] : fs.readFileSync(f[1]));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function main() {
  const http_ = await servePage();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-conf-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: FLAGS, timeout: 30000,
  });
  const page = context.pages()[0] || await context.newPage();
  await page.exposeFunction('confOut', (ev) => out(ev));
  page.on('pageerror', (e) => out({ ev: 'driver_error', message: `page error: ${e.message}` }));
  await page.goto(`http://127.0.0.1:${http_.address().port}/`);
  await page.waitForFunction(() => window.conf && window.Weft);
  out({ ev: 'hello', protocol: 1, host: 'browser', caps: CAPS, pid: process.pid });

  let chain = Promise.resolve();
  const quit = async () => {
    await page.evaluate(() => window.conf.run({ cmd: 'quit' })).catch(() => {});
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
    http_.close();
    process.exit(0);
  };
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    if (!line.trim()) return;
    const c = JSON.parse(line);
    // One command at a time, in order, as the protocol says.
    chain = chain.then(async () => {
      if (c.cmd === 'quit') {
        out({ id: c.id, ok: true });
        return quit();
      }
      try {
        const r = await page.evaluate((cmd) => {
          try {
            return { ok: true, r: window.conf.run(cmd) };
          } catch (e) {
            return { ok: false, code: e.code || e.name, message: e.message };
          }
        }, c);
        out(r.ok ? { ...r.r, id: c.id, ok: true } : { id: c.id, ok: false, code: r.code, message: r.message });
      } catch (e) {
        out({ id: c.id, ok: false, code: 'EDRIVER', message: String(e.message || e) });
      }
      return undefined;
    });
  }).on('close', () => { chain = chain.then(quit); });
}

main().catch((e) => {
  process.stderr.write(`browser driver: ${e.stack || e}\n`);
  process.exit(1);
});
