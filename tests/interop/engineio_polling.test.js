'use strict';
// The engine.io battery (see engineio.test.js) with Primus's
// `websockets: false`: long-polling only.
const { battery } = require('./lib/battery');

battery({ transformer: 'engine.io', mode: 'polling' });
