'use strict';
//
// weft's client (the CLI) on the engine.io transformer against the npm
// Primus server on engine.io and weft's test server: the whole battery of
// lib/cli.js with the default way in (polling, then the upgrade), and the
// exact echo of 1000+ messages polling only and WebSocket only.
//
const { cliBattery } = require('./lib/cli');

cliBattery({ transformer: 'engine.io' });
cliBattery({ transformer: 'engine.io', transports: 'polling', full: false });
cliBattery({ transformer: 'engine.io', transports: 'websocket', full: false });
