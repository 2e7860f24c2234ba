/* Vibe's events and the emitter's packets, both ways (transport/vibe/event.c):
 * what each side's message becomes, and what is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "transport/vibe/vibe.h"

/* The emitter packet of one Vibe event (n: the ack id), as a string. */
static char *in_to_emitter(const char *text, uint32_t n, int *kind) {
  weft__vibe_in in;
  assert_int_equal(weft__vibe_parse((const uint8_t *)text, strlen(text), &in), 0);
  *kind = in.kind;
  weft__buf out = {0};
  assert_int_equal(weft__vibe_to_emitter(&in, n, &out), 0);
  weft__buf_putc(&out, 0);
  weft__vibe_in_free(&in);
  return (char *)out.data;
}

static void test_events_in(void **state) {
  (void)state;
  int kind;
  char *s =
      in_to_emitter("{\"id\":\"3\",\"type\":\"echo\",\"data\":\"x\",\"reply\":false}", 0, &kind);
  assert_int_equal(kind, WEFT__VIBE_EVENT);
  assert_string_equal(s, "{\"type\":0,\"data\":[\"echo\",\"x\"]}");
  free(s);
  /* No data: no argument. A reply wanted: the ack id given. */
  s = in_to_emitter("{\"id\":\"a\",\"type\":\"ping\",\"reply\":true}", 7, &kind);
  assert_string_equal(s, "{\"type\":0,\"data\":[\"ping\"],\"id\":7}");
  free(s);
  /* The peer's answer to our event 12: resolved and rejected. */
  s = in_to_emitter("{\"id\":\"1\",\"type\":\"reply\",\"data\":{\"id\":\"12\",\"data\":3.5,"
                    "\"exception\":false},\"reply\":false}",
                    0, &kind);
  assert_int_equal(kind, WEFT__VIBE_REPLY);
  assert_string_equal(s, "{\"type\":1,\"id\":12,\"data\":[null,3.5]}");
  free(s);
  s = in_to_emitter("{\"id\":\"1\",\"type\":\"reply\",\"data\":{\"id\":\"12\",\"data\":\"no\","
                    "\"exception\":true}}",
                    0, &kind);
  assert_string_equal(s, "{\"type\":1,\"id\":12,\"data\":[\"no\"]}");
  free(s);
  /* The heartbeat is the transport's own. */
  weft__vibe_in in;
  const char *hb = "{\"id\":\"9\",\"type\":\"heartbeat\",\"reply\":false}";
  assert_int_equal(weft__vibe_parse((const uint8_t *)hb, strlen(hb), &in), 0);
  assert_int_equal(in.kind, WEFT__VIBE_HEARTBEAT);
  weft__vibe_in_free(&in);
}

/* The packet the owner gets, as a value: what the emitter reads in it. */
static void test_packet_value(void **state) {
  (void)state;
  weft__vibe_pend pend = {0};
  weft__vibe_in in;
  weft__vibe_packet pk;
  const weft_value *pkt;
  const char *ev = "{\"id\":\"q\",\"type\":\"ask\",\"data\":{\"a\":[1,\"b\"]},\"reply\":true}";
  assert_int_equal(
      weft__vibe_incoming(&pend, (const uint8_t *)ev, strlen(ev), NULL, &in, &pk, &pkt), 0);
  assert_non_null(pkt);
  int64_t i = -1;
  assert_int_equal(weft_value_get_int(weft_value_map_get(pkt, "type", 4), &i), 0);
  assert_int_equal(i, 0);
  assert_int_equal(weft_value_get_int(weft_value_map_get(pkt, "id", 2), &i), 0);
  assert_int_equal(i, 1); /* the first ack id */
  const weft_value *data = weft_value_map_get(pkt, "data", 4);
  assert_int_equal(weft_value_len(data), 2);
  const char *name;
  size_t n;
  assert_int_equal(weft_value_get_string(weft_value_array_at(data, 0), &name, &n), 0);
  assert_int_equal(n, 3);
  assert_memory_equal(name, "ask", 3);
  uint8_t *enc;
  assert_int_equal(weft_value_encode("json", pkt, &enc, &n), 0);
  assert_int_equal(n, strlen("{\"type\":0,\"data\":[\"ask\",{\"a\":[1,\"b\"]}],\"id\":1}"));
  assert_memory_equal(enc, "{\"type\":0,\"data\":[\"ask\",{\"a\":[1,\"b\"]}],\"id\":1}", n);
  weft_free(enc);
  /* A copy outlives the event; freeing the packet's nodes is a no-op. */
  weft_value *copy = weft_value_dup(pkt);
  assert_non_null(copy);
  weft__vibe_in_free(&in);
  assert_int_equal(weft_value_len(weft_value_map_get(copy, "data", 4)), 2);
  weft_value_free(copy);
  assert_string_equal(weft__vibe_pend_take(1, &pend), "\"q\"");
  weft__vibe_pend_done(&pend);
  /* The heartbeat and malformed events give no packet. */
  const char *hb = "{\"type\":\"heartbeat\"}";
  assert_int_equal(
      weft__vibe_incoming(&pend, (const uint8_t *)hb, strlen(hb), NULL, &in, &pk, &pkt), 1);
  assert_null(pkt);
  weft__vibe_in_free(&in);
  assert_true(weft__vibe_incoming(&pend, (const uint8_t *)"[1]", 3, NULL, &in, &pk, &pkt) < 0);
  assert_null(pkt);
  weft__vibe_in_free(&in);
  weft__vibe_pend_free(&pend);
}

static void test_bad_events_in(void **state) {
  (void)state;
  const char *bad[] = {"",
                       "not json",
                       "[1,2]",
                       "{\"data\":1}",
                       "{\"type\":3}",
                       "{\"type\":\"\"}",
                       "\"echo\"",
                       "{\"type\":\"a\\u0000b\"}"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    weft__vibe_in in;
    assert_true(weft__vibe_parse((const uint8_t *)bad[i], strlen(bad[i]), &in) < 0);
  }
  /* A reply to an id that is not one of ours (not a decimal we gave). */
  const char *others[] = {"{\"type\":\"reply\",\"data\":{\"id\":\"x1\",\"data\":1}}",
                          "{\"type\":\"reply\",\"data\":{\"id\":\"0\"}}",
                          "{\"type\":\"reply\",\"data\":{\"id\":\"012\"}}",
                          "{\"type\":\"reply\",\"data\":{\"id\":\"99999999999\"}}",
                          "{\"type\":\"reply\",\"data\":5}"};
  for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
    weft__vibe_in in;
    assert_int_equal(weft__vibe_parse((const uint8_t *)others[i], strlen(others[i]), &in), 0);
    assert_int_equal(in.kind, WEFT__VIBE_REPLY);
    assert_int_equal(in.ack, 0);
    weft__vibe_in_free(&in);
  }
  /* Not UTF-8. */
  weft__vibe_in in;
  assert_true(weft__vibe_parse((const uint8_t *)"{\"type\":\"\xff\"}", 11, &in) < 0);
}

static const char *peer_id(uint32_t n, void *user) {
  (void)user;
  return n == 7 ? "\"a\"" : NULL;
}

/* What the owner sends, as the Vibe event that leaves: from the message's
 * bytes, and (a server's send, which has it) from its value, the same. */
static int out(const char *msg, char **s) {
  weft__buf b = {0};
  int rc = weft__vibe_from_message((const uint8_t *)msg, strlen(msg), 5, peer_id, NULL, NULL, &b);
  weft__buf_putc(&b, 0);
  *s = (char *)b.data;
  weft_value *v = NULL;
  if (weft_value_decode("json", msg, strlen(msg), &v, NULL) == 0) {
    weft__buf c = {0};
    assert_int_equal(weft__vibe_from_value(v, 5, peer_id, NULL, &c), rc);
    weft__buf_putc(&c, 0);
    if (rc == 0) assert_string_equal((const char *)c.data, *s);
    weft__buf_free(&c);
    weft_value_free(v);
  }
  return rc;
}

static void test_messages_out(void **state) {
  (void)state;
  char *s;
  assert_int_equal(out("{\"type\":0,\"data\":[\"echo\",{\"a\":1}]}", &s), 0);
  assert_string_equal(s, "{\"id\":\"n5\",\"type\":\"echo\",\"data\":{\"a\":1},\"reply\":false}");
  free(s);
  /* An emit with an ack: the ack id names it; only the first argument goes. */
  assert_int_equal(out("{\"type\":0,\"data\":[\"ask\",1,2],\"id\":42}", &s), 0);
  assert_string_equal(s, "{\"id\":\"42\",\"type\":\"ask\",\"data\":1,\"reply\":true}");
  free(s);
  assert_int_equal(out("{\"type\":0,\"data\":[\"bare\"]}", &s), 0);
  assert_string_equal(s, "{\"id\":\"n5\",\"type\":\"bare\",\"reply\":false}");
  free(s);
  /* The emitter's answers to the peer's event "a" (ack 7). */
  assert_int_equal(out("{\"type\":1,\"id\":7,\"data\":[null,\"ok\"]}", &s), 0);
  assert_string_equal(s, "{\"id\":\"n5\",\"type\":\"reply\",\"data\":{\"id\":\"a\",\"data\":\"ok\","
                         "\"exception\":false},\"reply\":false}");
  free(s);
  assert_int_equal(out("{\"type\":1,\"id\":7,\"data\":[\"why\"]}", &s), 0);
  assert_string_equal(s,
                      "{\"id\":\"n5\",\"type\":\"reply\",\"data\":{\"id\":\"a\",\"data\":\"why\","
                      "\"exception\":true},\"reply\":false}");
  free(s);
  /* A plain write: the event "message". */
  assert_int_equal(out("[1,\"two\"]", &s), 0);
  assert_string_equal(s,
                      "{\"id\":\"n5\",\"type\":\"message\",\"data\":[1,\"two\"],\"reply\":false}");
  free(s);
}

static void test_bad_messages_out(void **state) {
  (void)state;
  char *s;
  assert_int_equal(out("{\"type\":2,\"ch\":\"c\",\"data\":[1]}", &s),
                   WEFT_EUNSUPPORTED); /* channels */
  free(s);
  assert_int_equal(out("{\"type\":1,\"id\":8,\"data\":[null,1]}", &s),
                   WEFT_ENOENT); /* no such event */
  free(s);
  assert_true(out("{oops", &s) < 0);
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_events_in),        cmocka_unit_test(test_packet_value),
      cmocka_unit_test(test_bad_events_in),    cmocka_unit_test(test_messages_out),
      cmocka_unit_test(test_bad_messages_out),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
