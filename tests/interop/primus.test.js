'use strict';
//
// Interop: the official Primus 8 client (from npm) against the selected test
// server (weft's binary, or the Primus reference), websockets transformer.
// The battery is lib/battery.js; engineio.test.js runs it for engine.io.
// See README.md.
//
const { battery } = require('./lib/battery');

battery({ transformer: 'websockets' });
