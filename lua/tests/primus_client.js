'use strict';
// The official Primus client (npm primus 8) against a Lua weft server:
// node primus_client.js URL [json|msgpack] [websockets|engine.io]. Sends 20
// messages, expects them echoed in order, prints "ok ..." or "fail ..." and
// exits (5 s at most).
const Primus = require('primus');
const [url, parser = 'json', transformer = 'websockets'] = process.argv.slice(2);
const opts = { transformer, parser };
const Socket = Primus.createSocket(opts);
const client = new Socket(url, { reconnect: { retries: 0 } });
const timer = setTimeout(() => { console.log('fail timeout'); process.exit(1); }, 5000);
const got = [];
client.on('open', () => { for (let i = 0; i < 20; i++) client.write({ i, s: 'x'.repeat(i), f: i + 0.5 }); });
client.on('data', (m) => {
  got.push(m);
  if (got.length === 20) {
    const bad = got.findIndex((x, i) => x.i !== i || x.f !== i + 0.5 || x.s.length !== i);
    console.log(bad < 0 ? 'ok 20 echoes' : `fail at ${bad}: ${JSON.stringify(got[bad])}`);
    clearTimeout(timer);
    client.end();
    process.exit(bad < 0 ? 0 : 1);
  }
});
client.on('error', (e) => { console.log(`fail ${e.message}`); process.exit(1); });
