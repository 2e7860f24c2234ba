/*
 * Options by name (weft/options.h): the tables are complete and well
 * formed, every type is checked (type, range, choices), each option
 * reaches the handle it names (read back from the core's own fields), and
 * the state rules hold (fixed options after listen/open, extension tunings
 * without their extension, closed handles).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "primus/primus.h"
#include "transport/transport.h"
#include "weft/ext.h"
#include "weft/options.h"

static weft_value *json(const char *s) {
  weft_value *v = NULL;
  assert_int_equal(weft_value_decode("json", s, strlen(s), &v, NULL), 0);
  return v;
}

/* Sets `name` to the JSON value `s` and returns the code. */
static int sset(weft_server *srv, const char *name, const char *s) {
  weft_value *v = json(s);
  int rc = weft_server_set_option(srv, name, v);
  weft_value_free(v);
  return rc;
}

static int cset(weft_client *c, const char *name, const char *s) {
  weft_value *v = json(s);
  int rc = weft_client_set_option(c, name, v);
  weft_value_free(v);
  return rc;
}

static void check_table(const weft_option *(*at)(size_t), const weft_option *(*by)(const char *),
                        size_t min_rows) {
  size_t n = 0;
  for (const weft_option *o; (o = at(n)) != NULL; n++) {
    assert_non_null(o->name);
    assert_non_null(o->expects);
    assert_non_null(o->doc);
    assert_ptr_equal(by(o->name), o);
    for (const char *p = o->name; *p; p++) /* snake_case */
      assert_true((*p >= 'a' && *p <= 'z') || *p == '_');
    assert_true(o->type >= WEFT_OPT_BOOL && o->type <= WEFT_OPT_HEADERS);
    weft_value *def = NULL; /* the default is JSON */
    assert_int_equal(weft_value_decode("json", o->def, strlen(o->def), &def, NULL), 0);
    weft_value_free(def);
    if (o->type == WEFT_OPT_UINT || o->type == WEFT_OPT_NUMBER) assert_true(o->min <= o->max);
    if (o->type == WEFT_OPT_ENUM && strcmp(o->name, "transformer") != 0)
      assert_non_null(o->choices);
    for (size_t k = 0; k < n; k++) /* names are unique */
      assert_string_not_equal(at(k)->name, o->name);
  }
  assert_true(n >= min_rows);
  assert_null(by("no_such_option"));
  assert_null(by(NULL));
}

static void test_tables(void **state) {
  (void)state;
  check_table(weft_server_option_at, weft_server_option, 25);
  check_table(weft_client_option_at, weft_client_option, 16);
  /* An extension comes before its tunings: hosts apply in table order. */
  size_t ch = 0, win = 0;
  for (size_t i = 0; weft_server_option_at(i); i++) {
    if (!strcmp(weft_server_option_at(i)->name, "channels")) ch = i;
    if (!strcmp(weft_server_option_at(i)->name, "channel_window")) win = i;
  }
  assert_true(ch < win);
}

static void test_server_options(void **state) {
  (void)state;
  weft_loop *loop;
  weft_server *s;
  assert_int_equal(weft_loop_new(&loop), 0);
  assert_int_equal(weft_server_new(loop, &s), 0);
  /* Each reaches the server. */
  assert_int_equal(sset(s, "ping_interval", "1234"), 0);
  assert_int_equal(s->ping_interval, 1234);
  assert_int_equal(sset(s, "max_length", "100.0"), 0); /* a whole float is a number */
  assert_int_equal(s->max_length, 100);
  assert_int_equal(sset(s, "parser", "\"msgpack\""), 0);
  assert_string_equal(s->parser->name, "msgpack");
  assert_int_equal(sset(s, "queue_policy", "\"drop\""), 0);
  assert_int_equal(s->queue_policy, WEFT_QUEUE_DROP);
  assert_int_equal(sset(s, "compression", "true"), 0);
  assert_int_equal(s->compression, 1);
  assert_int_equal(sset(s, "max_queue", "4096"), 0);
  assert_int_equal(s->max_queue, 4096);
  assert_int_equal(sset(s, "origins", "[\"https://a.example\", \"https://b.example\"]"), 0);
  assert_int_equal(s->site.n_origins, 2);
  assert_int_equal(sset(s, "tls_cert", "\"/x/cert.pem\""), 0);
  assert_string_equal(s->tls_cert, "/x/cert.pem");
  assert_null(s->tls_key);
  /* engine.io's heartbeat, one at a time (the other keeps its default),
   * the sid cookie, and both transformers side by side. */
  assert_int_equal(sset(s, "session_ping_timeout", "700"), 0);
  assert_int_equal(s->session_ping_interval, 25000);
  assert_int_equal(s->session_ping_timeout, 700);
  assert_int_equal(sset(s, "session_ping_interval", "900"), 0);
  assert_int_equal(s->session_ping_interval, 900);
  assert_int_equal(s->session_ping_timeout, 700);
  assert_int_equal(sset(s, "session_cookie", "\"io\""), 0);
  assert_string_equal(s->session_cookie, "io");
  assert_int_equal(sset(s, "session_cookie", "\"a b\""), WEFT_EINVAL);
  assert_int_equal(sset(s, "session_cookie", "\"\""), 0);
  assert_string_equal(s->session_cookie, "");
  assert_int_equal(sset(s, "session_ping_interval", "0"), WEFT_ERANGE);
  assert_int_equal(sset(s, "session_ping_timeout", "2147483648"), WEFT_ERANGE);
  assert_int_equal(sset(s, "transformer", "\"websockets,engine.io\""), 0);
  assert_int_equal(sset(s, "transformer", "\"engine.io,engine.io\""), WEFT_EINVAL);
  /* Type, range, choices, names. */
  assert_int_equal(sset(s, "ping_interval", "\"30\""), WEFT_ETYPE);
  assert_int_equal(sset(s, "ping_interval", "1.5"), WEFT_ETYPE);
  assert_int_equal(sset(s, "ping_interval", "-1"), WEFT_ERANGE);
  assert_int_equal(sset(s, "ping_interval", "4294967296"), WEFT_ERANGE);
  assert_int_equal(sset(s, "max_length", "0"), WEFT_ERANGE);
  assert_int_equal(sset(s, "compression", "1"), WEFT_ETYPE);
  assert_int_equal(sset(s, "parser", "\"yaml\""), WEFT_ERANGE);
  assert_int_equal(sset(s, "queue_policy", "\"closed\""), WEFT_ERANGE);
  assert_int_equal(sset(s, "transformer", "\"carrier-pigeon\""), WEFT_EUNSUPPORTED);
  assert_int_equal(sset(s, "origins", "[\"a\", 1]"), WEFT_ETYPE);
  assert_int_equal(sset(s, "origins", "\"a\""), WEFT_ETYPE);
  assert_int_equal(sset(s, "no_such_option", "1"), WEFT_ENOENT);
  assert_int_equal(sset(s, "metrics_path", "\"metrics\""), WEFT_EINVAL);
  assert_int_equal(sset(s, "static_dir", "\"/no/such/folder\""), WEFT_ENOENT);
  weft_value *nul = weft_value_new_string("a\0b", 3);
  assert_int_equal(weft_server_set_option(s, "metrics_path", nul), WEFT_EINVAL);
  weft_value_free(nul);
  assert_int_equal(weft_server_set_option(NULL, "ping_interval", NULL), WEFT_EINVAL);
  assert_int_equal(weft_server_set_option(s, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_server_set_option(s, "ping_interval", NULL), WEFT_ETYPE);
  /* Extensions, and their tunings only once they are on. */
  assert_int_equal(sset(s, "channel_window", "8"), WEFT_ESTATE);
  assert_int_equal(sset(s, "ack_timeout", "500"), WEFT_ESTATE);
  assert_int_equal(sset(s, "emitter", "false"), 0); /* off while off */
  assert_int_equal(sset(s, "rooms", "true"), 0);    /* turns the emitter on too */
  assert_non_null(weft_emitter_of_server(s));
  assert_non_null(weft_rooms_of_server(s));
  assert_int_equal(sset(s, "rooms", "true"), 0); /* again: no change */
  assert_int_equal(sset(s, "emitter", "false"), WEFT_ESTATE);
  assert_int_equal(sset(s, "ack_timeout", "500"), 0);
  assert_int_equal(sset(s, "channels", "true"), 0);
  assert_int_equal(sset(s, "channel_window", "8"), 0);
  assert_int_equal(sset(s, "channel_window", "0"), WEFT_ERANGE);
  /* Listening: fixed options are refused, the others still change. */
  assert_int_equal(sset(s, "tls_cert", "null"), WEFT_ETYPE);
  assert_int_equal(sset(s, "parser", "\"json\""), 0);
  assert_int_equal(weft_server_listen(s, "ws://127.0.0.1:0/primus"), 0);
  assert_int_equal(sset(s, "parser", "\"json\""), WEFT_ESTATE);
  assert_int_equal(sset(s, "rooms", "true"), WEFT_ESTATE);
  assert_int_equal(sset(s, "max_queue", "8192"), 0);
  assert_int_equal(s->max_queue, 8192);
  assert_int_equal(sset(s, "max_connections_per_ip", "3"), 0);
  assert_int_equal(s->site.max_per_ip, 3);
  weft_server_destroy(s, NULL);
  assert_int_equal(sset(s, "max_queue", "8192"), WEFT_ECLOSED);
  assert_int_equal(weft_loop_run(loop), 0);
  assert_int_equal(weft_loop_close(loop), 0);
}

/* A wss:// listener needs both files, whichever way they were given. */
static void test_server_tls_pair(void **state) {
  (void)state;
  weft_loop *loop;
  weft_server *s;
  assert_int_equal(weft_loop_new(&loop), 0);
  assert_int_equal(weft_server_new(loop, &s), 0);
  assert_int_equal(sset(s, "tls_cert", "\"" WEFT_TEST_DATA "/tls/cert.pem\""), 0);
  assert_int_equal(weft_server_listen(s, "wss://127.0.0.1:0/primus"), WEFT_EINVAL);
  assert_int_equal(sset(s, "tls_key", "\"\""), WEFT_EINVAL);
  assert_int_equal(sset(s, "tls_key", "\"" WEFT_TEST_DATA "/tls/key.pem\""), 0);
  assert_int_equal(weft_server_listen(s, "wss://127.0.0.1:0/primus"), 0);
  weft_server_destroy(s, NULL);
  assert_int_equal(weft_loop_run(loop), 0);
  assert_int_equal(weft_loop_close(loop), 0);
}

static void test_client_options(void **state) {
  (void)state;
  weft_loop *loop;
  weft_client *c;
  assert_int_equal(weft_loop_new(&loop), 0);
  assert_int_equal(weft_client_new(loop, "ws://127.0.0.1:9/primus", &c), 0);
  assert_int_equal(cset(c, "reconnect_min", "100"), 0);
  assert_int_equal(cset(c, "reconnect_max", "5000"), 0);
  assert_int_equal(cset(c, "retries", "3"), 0);
  assert_int_equal(cset(c, "factor", "1.5"), 0);
  assert_int_equal(c->rmin, 100);
  assert_int_equal(c->rmax, 5000);
  assert_int_equal(c->retries, 3);
  assert_true(fabs(c->factor - 1.5) < 1e-9);
  assert_int_equal(cset(c, "factor", "0.5"), WEFT_ERANGE);
  assert_int_equal(cset(c, "factor", "\"2\""), WEFT_ETYPE);
  assert_int_equal(cset(c, "reconnect_max", "50"), WEFT_EINVAL); /* below the minimum */
  assert_int_equal(cset(c, "strategy", "\"online\""), 0);
  assert_int_equal(c->strat_online + c->strat_disconnect + c->strat_timeout, 1);
  assert_int_equal(cset(c, "strategy", "\"sometimes\""), WEFT_EINVAL);
  assert_int_equal(cset(c, "headers", "{\"X-One\": \"1\", \"X-Two\": \"2\"}"), 0);
  assert_non_null(strstr((const char *)c->headers.data, "X-Two: 2\r\n"));
  assert_int_equal(cset(c, "headers", "{\"X-Bad\": 3}"), WEFT_ETYPE);
  assert_int_equal(cset(c, "headers", "{\"Bad Name\": \"x\"}"), WEFT_EINVAL);
  assert_int_equal(cset(c, "ping_timeout", "0"), 0);
  assert_int_equal(c->ping_timeout_set, 1);
  assert_int_equal(cset(c, "queue_limit", "-5"), WEFT_ERANGE);
  assert_int_equal(cset(c, "ack_timeout", "10"), WEFT_ESTATE); /* no emitter */
  assert_int_equal(cset(c, "emitter", "true"), 0);
  assert_int_equal(cset(c, "ack_timeout", "10"), 0);
  assert_int_equal(cset(c, "rooms", "true"), WEFT_ENOENT); /* a server option */
  assert_int_equal(cset(c, "parser", "\"msgpack\""), 0);
  assert_int_equal(cset(c, "transports", "\"websocket\""), 0);
  assert_int_equal(cset(c, "transports", "\"carrier-pigeon\""), WEFT_EINVAL);
  assert_int_equal(cset(c, "transports", "\"\""), WEFT_EINVAL);
  assert_int_equal(cset(c, "transports", "\"polling,\""), WEFT_EINVAL);
  assert_int_equal(weft_client_open(c), 0);
  assert_int_equal(cset(c, "transports", "\"polling\""), WEFT_ESTATE);
  assert_int_equal(cset(c, "transformer", "\"websockets\""), WEFT_ESTATE);
  assert_int_equal(cset(c, "channels", "true"), WEFT_ESTATE);
  assert_int_equal(cset(c, "timeout", "20"), 0); /* not fixed */
  assert_int_equal(weft_client_end(c, NULL), 0);
  assert_int_equal(cset(c, "timeout", "20"), WEFT_ECLOSED);
  assert_int_equal(weft_client_set_option(NULL, "timeout", NULL), WEFT_EINVAL);
  weft_client_destroy(c);
  assert_int_equal(weft_loop_run(loop), 0);
  assert_int_equal(weft_loop_close(loop), 0);
}

/* Vibe's options (decision #32): the client's transport against its URL's
 * transport= query, the server's heartbeat pair. */
static void vibe_client(weft_loop *loop, const char *query, const char *name, int want) {
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:9/vibe%s", query);
  weft_client *c;
  assert_int_equal(weft_client_new(loop, url, &c), 0);
  char v[64];
  snprintf(v, sizeof(v), "\"%s\"", name);
  assert_int_equal(cset(c, "transport", v), want);
  weft_client_destroy(c);
}

static void test_vibe_options(void **state) {
  (void)state;
  weft_loop *loop;
  weft_client *c;
  assert_int_equal(weft_loop_new(&loop), 0);
  assert_int_equal(weft_client_new(loop, "http://127.0.0.1:9/vibe", &c), 0);
  assert_int_equal(c->way, 0); /* unset: the URL's, else ws */
  assert_int_equal(cset(c, "transport", "\"httpstream\""), 0);
  assert_int_equal(c->way, WEFT__WAY_STREAM);
  assert_int_equal(cset(c, "transport", "\"httplongpoll\""), 0);
  assert_int_equal(c->way, WEFT__WAY_LONGPOLL);
  assert_int_equal(cset(c, "transport", "\"carrier\""), WEFT_ERANGE);
  assert_int_equal(cset(c, "transport", "\"stream\""), WEFT_ERANGE); /* the query's word */
  assert_int_equal(cset(c, "transport", "1"), WEFT_ETYPE);
  assert_int_equal(weft_client_set_transport(c, "carrier"), WEFT_EINVAL);
  assert_int_equal(weft_client_set_transport(c, NULL), WEFT_EINVAL);
  assert_int_equal(weft_client_set_transport(NULL, "ws"), WEFT_EINVAL);
  assert_int_equal(c->way, WEFT__WAY_LONGPOLL); /* refusals change nothing */
  assert_int_equal(weft_client_set_transformer(c, "vibe"), 0);
  assert_int_equal(weft_client_open(c), 0);
  assert_int_equal(weft_client_set_transport(c, "ws"), WEFT_ESTATE);
  weft_client_destroy(c);
  /* The URL's query and the option agree, or the option is refused. */
  vibe_client(loop, "?transport=longpoll", "httplongpoll", 0);
  vibe_client(loop, "?transport=longpoll", "ws", WEFT_EINVAL);
  vibe_client(loop, "?transport=longpoll", "httpstream", WEFT_EINVAL);
  vibe_client(loop, "?a=1&transport=stream&b=2", "httpstream", 0);
  vibe_client(loop, "?a=1&transport=stream&b=2", "httplongpoll", WEFT_EINVAL);
  vibe_client(loop, "?transport=ws", "ws", 0);
  vibe_client(loop, "?transport=ws", "httpstream", WEFT_EINVAL);
  vibe_client(loop, "?transport=pigeon", "ws", WEFT_EINVAL); /* names none of the three */
  vibe_client(loop, "?transport=", "ws", WEFT_EINVAL);
  vibe_client(loop, "?xtransport=stream", "httplongpoll", 0); /* another parameter */
  assert_int_equal(weft__vibe_url_way("/vibe"), 0);
  assert_int_equal(weft__vibe_url_way("/vibe?transport=longpoll&x=1"), WEFT__WAY_LONGPOLL);
  assert_int_equal(weft__vibe_url_way("/vibe?transport=streams"), -1);
  /* The server's heartbeat pair. */
  weft_server *s;
  assert_int_equal(weft_server_new(loop, &s), 0);
  assert_int_equal(sset(s, "vibe_heartbeat", "3000"), 0);
  assert_int_equal(s->vibe_heartbeat, 3000);
  assert_int_equal(s->vibe_wait, 1500);                                  /* half, under 10 s */
  assert_int_equal(sset(s, "vibe_heartbeat_wait", "3000"), WEFT_EINVAL); /* not below */
  assert_int_equal(sset(s, "vibe_heartbeat_wait", "1000"), 0);
  assert_int_equal(s->vibe_wait, 1000);
  assert_int_equal(sset(s, "vibe_heartbeat", "60000"), 0); /* the wait stays */
  assert_int_equal(s->vibe_wait, 1000);
  assert_int_equal(sset(s, "vibe_heartbeat", "1"), WEFT_ERANGE);
  assert_int_equal(sset(s, "vibe_heartbeat", "\"20s\""), WEFT_ETYPE);
  assert_int_equal(weft_server_set_vibe_heartbeat(s, 100, 0), WEFT_EINVAL);
  assert_int_equal(weft_server_set_vibe_heartbeat(s, 100, 100), WEFT_EINVAL);
  assert_int_equal(weft_server_set_vibe_heartbeat(s, 0x80000000u, 5), WEFT_EINVAL);
  assert_int_equal(weft_server_set_vibe_heartbeat(NULL, 100, 5), WEFT_EINVAL);
  assert_int_equal(s->vibe_heartbeat, 60000); /* refusals change nothing */
  weft_server *t;
  assert_int_equal(weft_server_new(loop, &t), 0);
  assert_int_equal(sset(t, "vibe_heartbeat_wait", "7000"), 0); /* the heartbeat's default */
  assert_int_equal(t->vibe_heartbeat, 20000);
  weft_server_destroy(t, NULL);
  weft_server_destroy(s, NULL);
  assert_int_equal(weft_loop_run(loop), 0);
  assert_int_equal(weft_loop_close(loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tables),          cmocka_unit_test(test_server_options),
      cmocka_unit_test(test_server_tls_pair), cmocka_unit_test(test_client_options),
      cmocka_unit_test(test_vibe_options),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
