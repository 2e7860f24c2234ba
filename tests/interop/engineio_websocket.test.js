'use strict';
// The engine.io battery (see engineio.test.js) with engine.io-client forced
// to WebSocket only (no polling handshake).
const { battery } = require('./lib/battery');

battery({ transformer: 'engine.io', mode: 'websocket' });
