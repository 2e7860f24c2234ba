// The uWebSockets peer of bench/: a minimal server of our own against the
// uWS headers (not uWS's examples/EchoServer.cpp, which listens on the fixed
// port 9001, negotiates permessage-deflate and pings every 16 s). Built by
// bench/peers/uws.sh; no uWS code is in this repository.
//
//   uws_server [--port 0] [--mode echo|broadcast|rooms]
//
// Serves every path on 127.0.0.1 and prints "listening on
// ws://127.0.0.1:PORT/primus" like `weft serve`. echo: every message goes
// back to its sender as it came (text or binary), like `weft serve --parser
// raw --mode echo`; broadcast: every socket subscribes to one topic and every
// message is published to it with App::publish (the sender included, as
// `weft serve --mode broadcast` writes to every client); rooms: a socket
// opened with ?room=K in its URL subscribes to the topic "room<K>" only, and
// every message it sends is published there with App::publish (the sender
// included, as bench/ext/rooms_server.c's weft_rooms_write to the sender's
// room). No compression, no automatic pings, no idle timeout (weft runs
// with --ping-interval 0).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "App.h"

namespace {
// rooms: the socket's topic, "room<K>", set by the upgrade handler (fixed
// storage: no allocation per socket, none per publish).
struct PerSocketData {
  char topic[24];
  unsigned char len;
  std::string_view view() const { return {topic, len}; }
};
constexpr std::string_view kTopic = "all";
enum Mode { ECHO, BROADCAST, ROOMS };
} // namespace

int main(int argc, char **argv) {
  int port = 0;
  Mode mode = ECHO;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--port") == 0) {
      port = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--mode") == 0) {
      if (std::strcmp(argv[i + 1], "broadcast") == 0) {
        mode = BROADCAST;
      } else if (std::strcmp(argv[i + 1], "rooms") == 0) {
        mode = ROOMS;
      } else if (std::strcmp(argv[i + 1], "echo") != 0) {
        std::fprintf(stderr, "uws_server: --mode is echo, broadcast or rooms\n");
        return 2;
      }
    } else {
      std::fprintf(stderr, "usage: uws_server [--port P] [--mode echo|broadcast|rooms]\n");
      return 2;
    }
  }
  uWS::App app;
  uWS::App *self = &app;
  uWS::App::WebSocketBehavior<PerSocketData> behavior = {
      .compression = uWS::DISABLED,
      .maxPayloadLength = 16 * 1024 * 1024,
      .idleTimeout = 0,
      .maxBackpressure = 64 * 1024 * 1024,
      .closeOnBackpressureLimit = false,
      .resetIdleTimeoutOnSend = false,
      .sendPingsAutomatically = false,
      .open =
          [mode](auto *ws) {
            if (mode == BROADCAST) ws->subscribe(kTopic);
            if (mode == ROOMS) ws->subscribe(ws->getUserData()->view());
          },
      .message =
          [mode, self](auto *ws, std::string_view msg, uWS::OpCode op) {
            if (mode == BROADCAST)
              self->publish(kTopic, msg, op, false);
            else if (mode == ROOMS)
              self->publish(ws->getUserData()->view(), msg, op, false);
            else
              ws->send(msg, op, false);
          }};
  // Only rooms reads the URL: echo and broadcast keep uWS's default upgrade.
  if (mode == ROOMS)
    behavior.upgrade = [](auto *res, auto *req, auto *context) {
      std::string_view room = req->getQuery("room");
      PerSocketData data{};
      int n = std::snprintf(data.topic, sizeof(data.topic), "room%.*s",
                            static_cast<int>(room.size() < 16 ? room.size() : 16),
                            room.empty() ? "" : room.data());
      data.len = static_cast<unsigned char>(n);
      res->template upgrade<PerSocketData>(std::move(data), req->getHeader("sec-websocket-key"),
                                           req->getHeader("sec-websocket-protocol"),
                                           req->getHeader("sec-websocket-extensions"), context);
    };
  app.ws<PerSocketData>("/*", std::move(behavior))
      .listen("127.0.0.1", port,
              [](auto *ls) {
                if (!ls) {
                  std::fprintf(stderr, "uws_server: cannot listen\n");
                  std::exit(1);
                }
                std::printf("listening on ws://127.0.0.1:%d/primus\n",
                            us_socket_local_port(0, reinterpret_cast<us_socket_t *>(ls)));
                std::fflush(stdout);
              })
      .run();
  return 0;
}
