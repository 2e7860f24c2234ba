/*
 * The Node 20 guard for vibe-protocol 3.0.0-Alpha9's reference *server*
 * (issue #21), loaded by the harness (mocha --require for test/client.js,
 * which runs that server in-process; bench/peers/vibe_server.js): on Node
 * 20 a ServerResponse emits 'close' after 'finish' too, and the long-poll
 * transport's res.on("close") (lib/transport-http-server.js, `refresh`)
 * then ends every session after its first answer. Each response 'close'
 * handler runs only when the response had not finished
 * (`if (!res.writableFinished)`), which is what the guard on that one
 * handler does; the suites stay unmodified.
 */
"use strict";
const http = require("http");

const on = http.ServerResponse.prototype.on;
http.ServerResponse.prototype.on = function (name, fn) {
  if (name !== "close") return on.call(this, name, fn);
  return on.call(this, name, function (...args) {
    if (!this.writableFinished) fn.apply(this, args);
  });
};
