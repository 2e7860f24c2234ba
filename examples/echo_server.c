/*
 * The smallest weft server: echoes every message back to its sender.
 * README.md shows this file; the build compiles it so it cannot rot.
 *
 *   build/echo_server 8080   then connect a Primus client to ws://127.0.0.1:8080/primus
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <weft/weft.h>

static void on_data(weft_spark *spark, const weft_value *msg, void *user) {
  (void)user;
  weft_spark_write(spark, msg); /* msg is borrowed; write encodes and queues it */
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN); /* a peer that vanishes must not kill the process */
  weft_loop *loop;
  weft_server *server;
  if (weft_loop_new(&loop) != 0 || weft_server_new(loop, &server) != 0) return 1;

  weft_server_events events = {.size = sizeof(events), .data = on_data};
  weft_server_set_events(server, &events, NULL, NULL);

  char url[64];
  snprintf(url, sizeof(url), "ws://127.0.0.1:%s/primus", argc > 1 ? argv[1] : "8080");
  int rc = weft_server_listen(server, url);
  if (rc != 0) {
    fprintf(stderr, "listen: %s (%s)\n", weft_strerror(rc), weft_err_name(rc));
    return 1;
  }
  printf("echo server on ws://127.0.0.1:%d/primus\n", weft_server_port(server));
  fflush(stdout);
  return weft_loop_run(loop) == 0 ? 0 : 1;
}
