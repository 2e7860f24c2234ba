'use strict';
//
// A small chat server written for Primus. primus-app.js and weft-app.js
// differ in one line: the require below (test/switch.test.js checks it).
//
const Primus = require('primus');

module.exports = function chat(port, hostname = '127.0.0.1', transformer = 'websockets') {
  const primus = Primus.createServer({ port, hostname, transformer, iknowhttpsisbetter: true });

  primus.authorize((req, done) => {
    if (req.query.nick === 'mallory') return done(Object.assign(new Error('banned'), { statusCode: 403 }));
    done();
  });

  primus.transform('incoming', (packet) => {
    if (typeof packet.data === 'string') packet.data = packet.data.trim();
  });

  primus.on('connection', (spark) => {
    const nick = spark.query.nick || 'anon';
    primus.write({ joined: nick });
    spark.on('data', (msg) => {
      if (msg === 'who') {
        const nicks = [];
        primus.forEach((s) => { nicks.push(s.query.nick || 'anon'); });
        spark.write({ online: nicks.sort() });
      } else if (msg === 'bye') {
        spark.end({ goodbye: nick });
      } else {
        primus.write({ from: nick, text: msg });
      }
    });
  });

  primus.on('disconnection', (spark) => primus.write({ left: spark.query.nick || 'anon' }));
  return primus;
};
