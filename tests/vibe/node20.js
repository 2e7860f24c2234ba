/*
 * A harness shim for Vibe's suites on Node 20, loaded with mocha's
 * --require (the suites themselves run unmodified). vibe-protocol
 * 3.0.0-Alpha9's client was written for Node 0.10, where a response whose
 * request the client aborted ended ('end'); its httpstream transport closes
 * on that 'end' (lib/transport-http-stream-transport.js: "the rest of work,
 * firing the close event, will be done by res's end event handler"). On
 * Node 20 that response fails instead, with "aborted" (ECONNRESET): the
 * socket gets an error it has no handler for and never hears close, so a
 * client-side close of an httpstream socket fails the suite whatever the
 * server (the reference server's own testee included). The shim gives the
 * response of a request aborted by the client its 'end' back in place of
 * that one error. (Measured: without it the
 * reference server's own testee fails the suite's first httpstream close.)
 */
"use strict";
const http = require("http");

const abort = http.ClientRequest.prototype.abort;
http.ClientRequest.prototype.abort = function () {
  const res = this.res;
  if (res && !res.complete && !res.__weftNode20) {
    res.__weftNode20 = true;
    const emit = res.emit;
    let ended = false;
    res.emit = function (name, ...args) {
      if (name === "error" && args[0] && args[0].code === "ECONNRESET") {
        if (ended) return false;
        ended = true;
        return emit.call(this, "end");
      }
      return emit.call(this, name, ...args);
    };
  }
  return abort.call(this);
};
