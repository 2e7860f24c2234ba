/* The weft command's help texts (`weft --help`, `weft serve --help`,
 * `weft connect --help`). */
#include <stdio.h>
#include <string.h>
#include <weft/weft.h>

#include "cli.h"

int weft_cli_wants_help(int argc, char **argv) {
  for (int i = 0; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
  return 0;
}

void weft_cli_help(FILE *f) {
  fprintf(f,
          "weft %s: real-time messaging with Primus 8's wire protocol\n"
          "\n"
          "usage: weft serve [options]         run a server (echo, broadcast or chat)\n"
          "       weft connect URL [options]   a client: stdin lines out, messages to stdout\n"
          "       weft --version               print the version\n"
          "       weft --help                  this text\n"
          "\n"
          "`weft serve --help` and `weft connect --help` list each command's options.\n"
          "\n"
          "examples:\n"
          "  weft serve --port 8080 --mode chat --static examples/chat\n"
          "  weft serve --listen ws+unix:///tmp/app.sock:/primus --listen ws://127.0.0.1:0/\n"
          "  weft serve --port 8443 --tls-cert cert.pem --tls-key key.pem\n"
          "  echo '{\"hello\":\"weft\"}' | weft connect ws://127.0.0.1:8080/primus\n"
          "\n"
          "exit status: 0 done, 1 a failure while running (cannot listen, refused,\n"
          "retries ran out), 2 bad usage.\n",
          weft_version_string());
}

void weft_cli_help_serve(FILE *f) {
  char names[256];
  weft_cli_transformers(names, sizeof(names));
  fprintf(
      f,
      "usage: weft serve [options]\n"
      "\n"
      "Listens on every --listen URL, or on ws://HOST:PORT/PATH when none is given.\n"
      "Prints \"listening on URL\" for each listener when ready, a line per connection\n"
      "and disconnection, and exits 0 on SIGINT or SIGTERM. Every server also answers\n"
      "GET PATH/weft.js and PATH/primus.js with the browser client, and PATH/spec.\n"
      "\n"
      "where:\n"
      "  --listen URL         a URL to listen on; repeat for more (at most 16):\n"
      "                       ws://127.0.0.1:8080/primus, wss://... (with --tls-*),\n"
      "                       ws+unix:///run/app.sock:/primus (a Unix socket, then the path),\n"
      "                       tcp://127.0.0.1:7000 and ipc:///run/app.sock (fast-tcp's wire;\n"
      "                       tcps:// with --tls-cert and --tls-key)\n"
      "  --host H             address to listen on: an IP address or a host name (127.0.0.1)\n"
      "  --port P             TCP port, 0 to 65535; 0 picks a free one (8080)\n"
      "  --path /P            the path served; / serves every path (/primus)\n"
      "  --tls-cert PEM       certificate (chain) file: listen with wss://\n"
      "  --tls-key PEM        its private key file\n"
      "  --unix-mode OCTAL    permissions of Unix socket files, e.g. 660 (0777 & ~umask)\n"
      "protocol:\n"
      "  --transformer NAME   the transport, or several side by side: websockets,engine.io\n"
      "                       (websockets; this build has: %s)\n"
      "  --parser NAME        json, msgpack, or raw: frames as they come (json)\n"
      "  --ping-interval MS   ms between heartbeats, 0 for none (30000; 0 with raw)\n"
      "  --max-length BYTES   largest message, larger ones close the connection (10485760)\n"
      "  --session-heartbeat INTERVAL,TIMEOUT\n"
      "                       engine.io's pingInterval and pingTimeout in ms; an abandoned\n"
      "                       polling session expires after both (25000,20000); vibe's\n"
      "                       heartbeat and _heartbeat handed to its sockets (20000,5000)\n"
      "  --session-cookie NAME  a cookie holding engine.io's sid, for sticky load\n"
      "                       balancing (none)\n"
      "  --compression        negotiate permessage-deflate\n"
      "what it does:\n"
      "  --psk-file FILE      tcp:// and ipc:// clients must prove this key (1..256 bytes)\n"
      "  --psk-ws             ws:// and wss:// clients must prove it too (websockets only)\n"
      "  --mode MODE          echo (back to the sender; an event comes back with its name\n"
      "                       and arguments, an ack request is answered with its first\n"
      "                       argument), broadcast (to every client) or chat (the server\n"
      "                       of examples/chat) (echo)\n"
      "  --static DIR         serve DIR's files at the paths outside PATH (/ is index.html)\n"
      "  --room NAME          every client joins room NAME (none)\n"
      "  --recovery MS        connection-state recovery: a client that asks and comes\n"
      "                       back within MS gets its id, rooms and missed messages, on\n"
      "                       this node or another of the cluster (0: off) (0)\n"
      "in a cluster (weft/adapter.h):\n"
      "  --redis URL          join the nodes on this Redis (redis://127.0.0.1:6379):\n"
      "                       broadcasts, rooms, ids and presence span them (none)\n"
      "  --redis-ttl MS       a dead node's sparks leave the registry after MS (10000)\n"
      "under load:\n"
      "  --max-queue BYTES    bytes queued to one connection before the queue policy\n"
      "                       applies (67108864)\n"
      "  --queue-policy P     close (the slow connection, with 1008) or drop (the message)\n"
      "                       (close)\n"
      "  --max-connections N  open connections at most; more are answered 503 (0: the\n"
      "                       descriptor limit less 64)\n"
      "  --max-per-ip N       connections per client address; more are answered 429 (0: any)\n"
      "  --max-handshakes N   requests being read or authorized at once; more get 503 (0: any)\n"
      "  --kept-headers LIST  the request headers a connection keeps once it is open,\n"
      "                       comma-separated (all); --drop-headers keeps none\n"
      "  --drop-url           nor its method and URL (an idle connection holds them all)\n"
      "operations:\n"
      "  --metrics /PATH      serve Prometheus metrics at this path (off)\n"
      "  --log-level LEVEL    off, error, warn, info or debug: log lines on stderr (off)\n"
      "  --help               this text\n",
      names);
}

void weft_cli_help_connect(FILE *f) {
  fprintf(f, "usage: weft connect URL [options]\n"
             "\n"
             "Connects to a Primus server (weft's or Primus's own, websockets or engine.io)\n"
             "at URL: ws://HOST:PORT/PATH, wss://..., or ws+unix:///run/app.sock:/primus.\n"
             "It reconnects as Primus's client does. Each line of stdin is sent (as JSON\n"
             "when it parses, else as a string; /id asks for the spark id, /end ends). Each\n"
             "message received is printed on stdout as one line of JSON, each event on\n"
             "stderr (open, close, reconnect scheduled ATTEMPT RETRIES DELAY,\n"
             "error KIND STATUS MESSAGE, end, ...).\n"
             "Exits 0 after end; 1 when the server refused, TLS failed or the retries ran\n"
             "out; 2 on bad usage.\n"
             "\n"
             "options:\n"
             "  --transformer NAME   the transport: websockets, engine.io or vibe (websockets)\n"
             "  --transports LIST    engine.io's ways in: polling,websocket (polling first,\n"
             "                       then the upgrade), polling, or websocket (both)\n"
             "  --transport NAME     Vibe's transport: ws, httpstream or httplongpoll (ws;\n"
             "                       or as the URL's ?transport=stream|longpoll says)\n"
             "  --parser NAME        json or msgpack (json)\n"
             "  --reconnect-min MS   first reconnect delay (500)\n"
             "  --reconnect-max MS   largest reconnect delay, 0 for no limit (0)\n"
             "  --retries N          reconnect attempts before giving up (10)\n"
             "  --timeout MS         deadline of the first connection, 0 for none (10000)\n"
             "  --ping-timeout MS    ms without a heartbeat before the connection counts as\n"
             "                       dead (1.5 x the server's ping interval, from PATH/spec)\n"
             "  --strategy LIST      when to reconnect: any of disconnect,online,timeout (all\n"
             "                       three), or none\n"
             "  --header 'N: V'      an extra request header; repeat for more\n"
             "  --psk-file FILE      the pre-shared key for tcp://, ipc:// and, when the server\n"
             "                       asks (--psk-ws), ws:// (1..256 bytes)\n"
             "  --ca-file PEM        certificates to trust for wss:// instead of the system's\n"
             "  --insecure           do not verify the server's certificate (testing only)\n"
             "  --max-length BYTES   largest message accepted, larger ones close (10485760)\n"
             "  --compression        offer permessage-deflate\n"
             "  --echo               send every message back as it came (text as text, binary as\n"
             "                       binary; raw parser, no stdin): the Autobahn client testee\n"
             "  --help               this text\n");
}
