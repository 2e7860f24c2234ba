'use strict';
// Known traffic against a Lua weft server for lua/tests/test_obs.lua:
// node obs_peer.js PORT (NODE_PATH: tests/interop/node_modules, for `ws`).
// The traffic of every front end's metrics test (tests/support/traffic.js:
// 3 connections echoing 5 '"hi"' each, one upgrade refused with 400, one
// message over max_length 100 closed with 1009), then /metrics scraped until
// the server has seen every close; prints one line of JSON: { refused,
// oversize, scrapes, status, type, body } (body: the last scrape), or
// { error }. Exits by itself within 10 s.
const WebSocket = require('ws');
const traffic = require('../../tests/support/traffic');

const port = Number(process.argv[2]);
setTimeout(() => { console.log(JSON.stringify({ error: 'timed out' })); process.exit(1); }, 10000).unref();

async function main() {
  const sent = await traffic.knownTraffic(WebSocket, port);
  const { page, scrapes } = await traffic.scrapeUntilClosed(port);
  console.log(JSON.stringify(Object.assign(sent, { scrapes, status: page.status, type: page.headers['content-type'], body: page.body })));
}

main().catch((e) => { console.log(JSON.stringify({ error: String(e) })); process.exit(1); });
