// The menu of transforms and plugins (README.md, "The menu") as Primus's
// JavaScript API takes them, for the Node driver and the browser driver's
// page (a plain script there: it defines the global ConformanceMenu).
//
//   TRANSFORMS[name]  [type, fn]: transform(type, fn) on a server or client
//   PLUGINS[name]     {server, client}: use(name, plugin)
(function (root) {
  'use strict';
  const TRANSFORMS = {
    swallow_drop: ['incoming', (p) => p.data !== 'drop'],
    incoming_wrap: ['incoming', (p) => { p.data = { in: p.data }; }],
    outgoing_wrap: ['outgoing', (p) => { p.data = { out: p.data }; }],
    swallow_drop_out: ['outgoing', (p) => p.data !== 'drop'],
    fail_incoming: ['incoming', (p, next) => next(p.data === 'fail' ? new Error('transform failed') : null)],
  };
  const PLUGINS = {
    greeter: {
      server(server) { server.on('connection', (spark) => spark.write({ greeting: 'hello' })); },
      client(client) { client.on('open', () => client.write({ greeting: 'hello' })); },
    },
  };

  const api = { TRANSFORMS, PLUGINS };
  if (typeof module !== 'undefined' && module.exports) module.exports = api;
  else root.ConformanceMenu = api;
})(typeof globalThis !== 'undefined' ? globalThis : this);
