'use strict';
//
// The option names each constructor knows (index.d.ts types the same ones): a
// misspelt option such as `new Server({ prot: 9999 })` throws a TypeError
// naming it, instead of being ignored while the server binds 0.0.0.0:8080.
//

const SERVER = [
  'port', 'host', 'hostname', 'pathname', 'listen', 'unixMode', 'parser', 'transformer',
  'pingInterval', 'maxLength', 'compression', 'highWaterMark', 'maxQueue', 'queuePolicy', 'origins',
  'trustedProxies', 'tls', 'plugin', 'emitter', 'rooms', 'channels', 'batching', 'ackTimeout',
  'metricsPath', 'logLevel',
  // Primus's, with nothing for weft to do: accepted so that a Primus app
  // switches with one line.
  'iknowhttpsisbetter', 'iknowclusterwillbreakconnections', 'global'
];
const CLIENT = [
  'parser', 'transformer', 'reconnect', 'strategy', 'timeout', 'pingTimeout', 'manual',
  'maxLength', 'queueSize', 'retryRefused', 'headers', 'transport', 'ca', 'rejectUnauthorized',
  'emitter', 'channels', 'batching', 'ackTimeout', 'logLevel'
];

// Edit distance, for the "did you mean" of a misspelt name.
function distance(a, b) {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

function check(options, known, what) {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${what} options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    let near = null;
    for (const name of known) {
      const d = distance(key.toLowerCase(), name.toLowerCase());
      if (d <= 2 && (near === null || d < near.d)) near = { name, d };
    }
    throw new TypeError(`unknown ${what} option "${key}"` +
      (near ? ` (did you mean "${near.name}"?)` : ` (known: ${known.join(', ')})`));
  }
  return options;
}

module.exports = {
  /** Throws a TypeError for a key that is not a Server option. */
  checkServer: (options) => check(options, SERVER, 'Server'),
  /** Throws a TypeError for a key that is not a Client option. */
  checkClient: (options) => check(options, CLIENT, 'Client')
};
