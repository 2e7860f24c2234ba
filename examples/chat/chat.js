// The chat demo's page logic: weft's browser client (global Weft, loaded
// from /primus/weft.js) against `weft serve --mode chat --static examples/chat`.
// The nick travels in the connection's query so every reconnect carries it.
// Demo knobs in the page's own query: ?reconnectMax=MS&reconnectMin=MS.
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const num = (name, dflt) => (params.has(name) ? Number(params.get(name)) : dflt);
  let client = null;
  let countdown = null;
  // Message ids: this page's random prefix and a counter. The server echoes
  // them and replays its history on (re)connection; `seen` drops duplicates.
  const pageId = Math.random().toString(36).slice(2, 10);
  let counter = 0;
  const seen = new Set();

  function setStatus(state, text) {
    $('status').dataset.state = state;
    $('status').textContent = text;
  }

  function clearCountdown() {
    if (countdown) clearInterval(countdown);
    countdown = null;
  }

  function item(list, cls, nick, text) {
    const li = document.createElement('li');
    if (cls) li.className = cls;
    if (nick !== null) {
      const n = document.createElement('span');
      n.className = 'nick';
      n.textContent = nick;
      li.appendChild(n);
      li.dataset.nick = nick;
    }
    li.appendChild(document.createTextNode(text));
    list.appendChild(li);
    list.scrollTop = list.scrollHeight;
    return li;
  }

  function showOnline(online) {
    const ul = $('online');
    ul.textContent = '';
    for (const nick of (online || []).slice().sort()) item(ul, null, null, nick);
    $('count').textContent = String((online || []).length);
  }

  function onData(msg) {
    if (!msg || typeof msg !== 'object') return;
    switch (msg.type) {
      case 'welcome':
        showOnline(msg.online);
        for (const m of msg.history || []) onData(m);
        break;
      case 'join':
      case 'leave':
        showOnline(msg.online);
        item($('messages'), 'notice', null, `${msg.nick} ${msg.type === 'join' ? 'joined' : 'left'}`);
        break;
      case 'message':
        if (msg.id) {
          if (seen.has(msg.id)) break;
          seen.add(msg.id);
        }
        item($('messages'), 'message', msg.nick, msg.text);
        break;
      case 'error':
        item($('messages'), 'notice', null, `server: ${msg.message}`);
        break;
    }
  }

  function join(nick) {
    $('login').hidden = true;
    $('room').hidden = false;
    setStatus('connecting', 'connecting…');
    client = new Weft('/primus?nick=' + encodeURIComponent(nick), {
      reconnect: { min: num('reconnectMin', 500), max: num('reconnectMax', 10000), retries: 100 }
    });
    window.chatClient = client; /* for a look from the console (and the tests) */
    client.on('open', () => {
      clearCountdown();
      $('pending').textContent = ''; /* the queued messages went out before `open` */
      setStatus('connected', `connected as ${nick}`);
    });
    client.on('data', onData);
    client.on('close', () => setStatus('reconnecting', 'disconnected'));
    client.on('reconnect scheduled', (info) => {
      clearCountdown();
      const at = Date.now() + info.delay;
      const tick = () => {
        const s = Math.max(0, Math.ceil((at - Date.now()) / 1000));
        setStatus('reconnecting', `reconnecting in ${s} s`);
      };
      tick();
      countdown = setInterval(tick, 250);
    });
    client.on('reconnect', () => {
      clearCountdown();
      setStatus('reconnecting', 'reconnecting…');
    });
    client.on('offline', () => {
      clearCountdown();
      setStatus('offline', 'offline');
    });
    client.on('online', () => {
      if (client.readyState !== Weft.OPEN) setStatus('connecting', 'back online, connecting…');
    });
    client.on('end', () => {
      clearCountdown();
      setStatus('ended', 'disconnected (reload to join again)');
    });
    client.on('error', (err) => console.warn('weft', err.kind, err.message));
  }

  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const nick = $('nick').value.trim();
    if (nick) join(nick);
  });

  $('say').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = $('text').value;
    if (!text || !client) return;
    const queued = client.readyState !== Weft.OPEN;
    if (!client.write({ type: 'message', text, id: `${pageId}-${++counter}` })) {
      item($('messages'), 'notice', null, 'not sent: the connection has ended');
      return;
    }
    if (queued) item($('pending'), null, null, text);
    $('text').value = '';
  });
})();
