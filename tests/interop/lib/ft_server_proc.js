'use strict';
// Starts lib/fasttcp_server.js (npm fast-tcp 3.3.2's server) in its own
// process on `port` (0: any) for a node:test test `t`, stopped by its PID
// (SIGTERM) after the test. Resolves with { url, port, child, exited }.
const { spawn } = require('node:child_process');
const path = require('node:path');

const SERVER = path.join(__dirname, 'fasttcp_server.js');

function startFastTcpServer(t, port = 0) {
  const child = spawn(process.execPath, [SERVER, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  t.after(async () => { child.kill('SIGTERM'); await exited; });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('npm fast-tcp server: no "listening" line in 5 s')), 5000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/^listening on (tcp:\S+)/m);
      if (!m) return;
      clearTimeout(timer);
      resolve({ url: m[1], port: Number(m[1].split(':')[2]), child, exited });
    });
  });
}

module.exports = { startFastTcpServer };
