'use strict';
//
// Interop: the official Primus 8 client (from npm) on the engine.io
// transformer (engine.io-client 6.6) against the selected test server, in
// its default way in: a polling handshake, then the upgrade to WebSocket.
// The same battery as the websockets one (lib/battery.js);
// engineio_polling.test.js and engineio_websocket.test.js run the other two
// ways in (separate files, so the runner takes them in parallel).
//
const { battery } = require('./lib/battery');

battery({ transformer: 'engine.io' });
