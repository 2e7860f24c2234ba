// The uWebSockets peer of bench/: a minimal server of our own against the
// uWS headers (not uWS's examples/EchoServer.cpp, which listens on the fixed
// port 9001, negotiates permessage-deflate and pings every 16 s). Built by
// bench/peers/uws.sh; no uWS code is in this repository.
//
//   uws_server [--port 0] [--mode echo|broadcast]
//
// Serves every path on 127.0.0.1 and prints "listening on
// ws://127.0.0.1:PORT/primus" like `weft serve`. echo: every message goes
// back to its sender as it came (text or binary), like `weft serve --parser
// raw --mode echo`; broadcast: every socket subscribes to one topic and every
// message is published to it with App::publish (the sender included, as
// `weft serve --mode broadcast` writes to every client). No compression, no
// automatic pings, no idle timeout (weft runs with --ping-interval 0).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "App.h"

namespace {
struct PerSocketData {};
constexpr std::string_view kTopic = "all";
}  // namespace

int main(int argc, char **argv) {
  int port = 0;
  bool broadcast = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--port") == 0) {
      port = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--mode") == 0) {
      broadcast = std::strcmp(argv[i + 1], "broadcast") == 0;
      if (!broadcast && std::strcmp(argv[i + 1], "echo") != 0) {
        std::fprintf(stderr, "uws_server: --mode is echo or broadcast\n");
        return 2;
      }
    } else {
      std::fprintf(stderr, "usage: uws_server [--port P] [--mode echo|broadcast]\n");
      return 2;
    }
  }
  uWS::App app;
  uWS::App *self = &app;
  app.ws<PerSocketData>(
         "/*",
         {.compression = uWS::DISABLED,
          .maxPayloadLength = 16 * 1024 * 1024,
          .idleTimeout = 0,
          .maxBackpressure = 64 * 1024 * 1024,
          .closeOnBackpressureLimit = false,
          .resetIdleTimeoutOnSend = false,
          .sendPingsAutomatically = false,
          .open =
              [broadcast](auto *ws) {
                if (broadcast) ws->subscribe(kTopic);
              },
          .message =
              [broadcast, self](auto *ws, std::string_view msg, uWS::OpCode op) {
                if (broadcast)
                  self->publish(kTopic, msg, op, false);
                else
                  ws->send(msg, op, false);
              }})
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
