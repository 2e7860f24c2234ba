// src/recovery.js
import { WeftError } from "./weft.mjs";
var TAG = "primus::weft::rs::";
var TOKEN = /^[A-Za-z0-9_-]{1,23}$/;
var control = (v) => typeof v === "string" && (v.startsWith("primus::ping::") || v === "primus::server::close" || v.startsWith("primus::id::"));
function recovery() {
  return {
    client(client) {
      let id = "";
      let token = "";
      let count = 0;
      client.recovered = false;
      const answer = (rest) => {
        const last = rest.lastIndexOf(":");
        const tok = rest.slice(last + 1);
        if (!/^[01]:/.test(rest) || last < 3 || !TOKEN.test(tok))
          return client.emit("error", new WeftError("protocol", "malformed recovery answer ignored", { code: "EPROTO" }));
        client.recovered = rest[0] === "1";
        if (!client.recovered) count = 0;
        id = rest.slice(2, last);
        token = tok;
        if (client.recovered) client.emit("recovered", id);
      };
      const value = client._value;
      client._value = function(v) {
        if (typeof v === "string" && v.startsWith(TAG)) return answer(v.slice(TAG.length));
        if (!control(v)) count++;
        return value.call(this, v);
      };
      const connect = client._connect;
      client._connect = function(a) {
        const url = this.url;
        const q = id ? `${encodeURIComponent(id)}.${token}.${count}` : "1";
        this.url = `${url}${url.includes("?") ? "&" : "?"}weft_rs=${q}`;
        try {
          return connect.call(this, a);
        } finally {
          this.url = url;
        }
      };
    }
  };
}
var recovery_default = recovery;
export {
  recovery_default as default,
  recovery
};
