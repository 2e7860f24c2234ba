'use strict';
// The official Primus client (npm primus 8) speaking primus-emitter's packets
// by hand to a Lua weft server with the emitter: node primus_emitter_client.js URL.
// Asks "sum" (expects [null, 3]) and "fail" (expects ["nope"]), answers the
// server's "hello" with [null, "hi <arg>"], prints "ok ..." or "fail ..." and exits (5 s at most).
const Primus = require('primus');
const [url] = process.argv.slice(2);
const Socket = Primus.createSocket({ transformer: 'websockets', parser: 'json' });
const client = new Socket(url, { reconnect: { retries: 0 } });
const timer = setTimeout(() => { console.log('fail timeout'); process.exit(1); }, 5000);
const seen = {};
function check() {
  if (!(seen.sum && seen.fail && seen.hello && seen.done)) return;
  const ok = JSON.stringify(seen.sum) === '[null,3]' && JSON.stringify(seen.fail) === '["nope"]';
  console.log(ok ? 'ok acks both ways' : `fail ${JSON.stringify(seen)}`);
  clearTimeout(timer);
  client.end();
  process.exit(ok ? 0 : 1);
}
client.on('open', () => {
  client.write({ type: 0, data: ['sum', 1, 2], id: 1 });
  client.write({ type: 0, data: ['fail'], id: 2 });
});
client.on('data', (m) => {
  if (m && m.type === 1 && m.id === 1) seen.sum = m.data;
  else if (m && m.type === 1 && m.id === 2) seen.fail = m.data;
  else if (m && m.type === 0 && Array.isArray(m.data) && m.data[0] === 'hello') {
    seen.hello = true;
    client.write({ type: 1, id: m.id, data: [null, 'hi ' + m.data[1]] });
  } else if (m && m.done) seen.done = true;
  check();
});
client.on('error', (e) => { console.log(`fail ${e.message}`); process.exit(1); });
