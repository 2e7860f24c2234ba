// Connection-state recovery for weft's browser client, an optional plugin
// outside the main bundle (dist/weft-recovery.mjs, dist/weft-recovery.min.js;
// decisions #23, #24), the C client's half (core/primus/client_resume.c):
// the first connection asks with the query weft_rs=1; a weft server with
// recovery on answers first "primus::weft::rs::<r>:<id>:<token>" (r: 1
// resumed, 0 fresh); every later connection presents weft_rs=<id>.<token>.<n>,
// n the messages received in the session (each item of a batch counts one;
// Primus's own strings do not), and a server that still has the session
// gives back the id, the rooms and the messages after n, before new ones.
//
//   client.use('recovery', recovery());
//   client.recovered                       // true while this connection resumed
//   client.on('recovered', (id) => ...);   // at each resumed open, before its data
import { WeftError } from './weft.js';

const TAG = 'primus::weft::rs::';
const TOKEN = /^[A-Za-z0-9_-]{1,23}$/;
const control = (v) =>
  typeof v === 'string' && (v.startsWith('primus::ping::') || v === 'primus::server::close' || v.startsWith('primus::id::'));

/** The plugin: client.use('recovery', recovery()). */
export function recovery() {
  return {
    client(client) {
      let id = '';
      let token = '';
      let count = 0;
      client.recovered = false;
      const answer = (rest) => {
        // "<r>:<id>:<token>": r from the left, the token after the last colon
        const last = rest.lastIndexOf(':');
        const tok = rest.slice(last + 1);
        if (!/^[01]:/.test(rest) || last < 3 || !TOKEN.test(tok))
          return client.emit('error', new WeftError('protocol', 'malformed recovery answer ignored', { code: 'EPROTO' }));
        client.recovered = rest[0] === '1';
        if (!client.recovered) count = 0; // a fresh session
        id = rest.slice(2, last);
        token = tok;
        if (client.recovered) client.emit('recovered', id);
      };
      // The client's own steps, wrapped: each message (counted, or the
      // answer taken), and the URL of each connection.
      const value = client._value;
      client._value = function (v) {
        if (typeof v === 'string' && v.startsWith(TAG)) return answer(v.slice(TAG.length));
        if (!control(v)) count++;
        return value.call(this, v);
      };
      const connect = client._connect;
      client._connect = function (a) {
        const url = this.url;
        const q = id ? `${encodeURIComponent(id)}.${token}.${count}` : '1';
        this.url = `${url}${url.includes('?') ? '&' : '?'}weft_rs=${q}`;
        try {
          return connect.call(this, a);
        } finally {
          this.url = url;
        }
      };
    }
  };
}

export default recovery;
