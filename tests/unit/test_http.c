/* HTTP head parser: real clients' requests, split arrival, limits, garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/url.h"
#include "http/heads.h"
#include "transport/ws/codec.h"
#include "weft/weft.h"

static const char chromium_req[] =
    "GET /primus/?_primuscb=OsD3h2k HTTP/1.1\r\n"
    "Host: localhost:8080\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: http://localhost:8080\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Cookie: sid=abc; theme=dark\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";

static const char node_ws_req[] =
    "GET /primus?_primuscb=1700000000000-0 HTTP/1.1\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
    "Connection: Upgrade\r\n"
    "Upgrade: websocket\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "Host: 127.0.0.1:8080\r\n"
    "\r\n";

static const char curl_req[] = "GET /primus/spec HTTP/1.1\r\n"
                               "Host: localhost:8080\r\n"
                               "User-Agent: curl/7.88.1\r\n"
                               "Accept: */*\r\n"
                               "\r\n";

static const char firefox_req[] =
    "GET /primus HTTP/1.1\r\n"
    "Host: localhost:8080\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0\r\n"
    "Accept: */*\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Origin: http://localhost:8080\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Sec-Fetch-Mode: websocket\r\n"
    "Pragma: no-cache\r\n"
    "Upgrade: websocket\r\n"
    "\r\n";

static int parse_str(const char *s, weft__http_head *h) {
  return weft__http_parse_request((const uint8_t *)s, strlen(s), h);
}

static void test_chromium(void **state) {
  (void)state;
  weft__http_head h;
  int n = parse_str(chromium_req, &h);
  assert_int_equal(n, (int)strlen(chromium_req));
  assert_string_equal(weft__http_method(&h), "GET");
  assert_string_equal(weft__http_target(&h), "/primus/?_primuscb=OsD3h2k");
  assert_string_equal(weft__http_path(&h), "/primus/");
  assert_string_equal(weft__http_query(&h), "_primuscb=OsD3h2k");
  assert_int_equal(h.version_minor, 1);
  assert_null(weft__http_reason(&h));
  assert_int_equal(h.n_headers, 13);
  assert_string_equal(weft__http_get(&h, "host"), "localhost:8080");
  assert_string_equal(weft__http_get(&h, "USER-AGENT"),
                      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "Chrome/120.0.0.0 Safari/537.36");
  assert_string_equal(weft__http_get(&h, "Cookie"), "sid=abc; theme=dark");
  assert_string_equal(weft__http_get(&h, "sec-websocket-extensions"),
                      "permessage-deflate; client_max_window_bits");
  assert_null(weft__http_get(&h, "X-Missing"));
  assert_string_equal(weft__http_hname(&h, 0), "Host");
  char accept[29];
  assert_int_equal(weft__ws_check_upgrade(&h, accept), 0);
  assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  weft__http_head_free(&h);
  assert_null(h.storage);
  weft__http_head_free(&h); /* twice is harmless */
}

static void test_node_ws(void **state) {
  (void)state;
  weft__http_head h;
  assert_int_equal(parse_str(node_ws_req, &h), (int)strlen(node_ws_req));
  assert_string_equal(weft__http_path(&h), "/primus");
  assert_string_equal(weft__http_query(&h), "_primuscb=1700000000000-0");
  assert_int_equal(h.n_headers, 6);
  char accept[29];
  assert_int_equal(weft__ws_check_upgrade(&h, accept), 0);
  assert_string_equal(accept, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
  weft__http_head_free(&h);
}

/* An absolute-form target (RFC 9112 3.2.2) is read as its origin form;
 * header lines are counted by name. */
static void test_absolute_form(void **state) {
  (void)state;
  static const struct {
    const char *line, *target, *path, *query;
  } cases[] = {
      {"GET http://h:1/p?q=1 HTTP/1.1", "/p?q=1", "/p", "q=1"},
      {"GET HTTPS://h/a/b HTTP/1.1", "/a/b", "/a/b", ""},
      {"GET http://h?x HTTP/1.1", "/?x", "/", "x"},
      {"GET http://h HTTP/1.1", "/", "/", ""},
      {"GET /plain?y HTTP/1.1", "/plain?y", "/plain", "y"},
      {"GET ftp://h/p HTTP/1.1", "ftp://h/p", "ftp://h/p", ""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char req[256];
    snprintf(req, sizeof(req), "%s\r\nHost: a\r\nhost: b\r\n\r\n", cases[i].line);
    weft__http_head h;
    assert_int_equal(parse_str(req, &h), (int)strlen(req));
    assert_string_equal(weft__http_target(&h), cases[i].target);
    assert_string_equal(weft__http_path(&h), cases[i].path);
    assert_string_equal(weft__http_query(&h), cases[i].query);
    assert_int_equal(weft__http_count(&h, "HOST"), 2);
    assert_int_equal(weft__http_count(&h, "Upgrade"), 0);
    weft__http_head_free(&h);
  }
}

static void test_curl(void **state) {
  (void)state;
  weft__http_head h;
  assert_int_equal(parse_str(curl_req, &h), (int)strlen(curl_req));
  assert_string_equal(weft__http_target(&h), "/primus/spec");
  assert_string_equal(weft__http_path(&h), "/primus/spec");
  assert_string_equal(weft__http_query(&h), "");
  assert_string_equal(weft__http_get(&h, "Accept"), "*/*");
  char accept[29];
  assert_int_equal(weft__ws_check_upgrade(&h, accept), WEFT_EPROTO);
  weft__http_head_free(&h);
}

static void test_firefox(void **state) {
  (void)state;
  weft__http_head h;
  assert_int_equal(parse_str(firefox_req, &h), (int)strlen(firefox_req));
  char accept[29];
  assert_int_equal(weft__ws_check_upgrade(&h, accept), 0);
  assert_int_equal(strlen(accept), 28);
  weft__http_head_free(&h);
}

/* Every prefix of a head asks for more; the whole head parses; bytes after it
 * (the first WebSocket frame, pipelined) are not part of it. */
static void test_split_arrival(void **state) {
  (void)state;
  const char *reqs[] = {chromium_req, node_ws_req, curl_req, firefox_req};
  for (size_t r = 0; r < 4; r++) {
    size_t len = strlen(reqs[r]);
    uint8_t *buf = malloc(len + 6);
    memcpy(buf, reqs[r], len);
    memcpy(buf + len, "\x81\x80\x01\x02\x03\x04", 6);
    weft__http_head h;
    for (size_t k = 0; k < len; k++)
      assert_int_equal(weft__http_parse_request(buf, k, &h), 0);
    for (size_t extra = 0; extra <= 6; extra++) {
      assert_int_equal(weft__http_parse_request(buf, len + extra, &h), (int)len);
      weft__http_head_free(&h);
    }
    free(buf);
  }
}

/* The header table is sized for header lines only (not the start line or
 * the empty last one): none, and one, with either line end. */
static void test_table_sizes(void **state) {
  (void)state;
  weft__http_head h;
  const char *none = "GET /x?a=1 HTTP/1.0\r\n\r\n";
  assert_int_equal(parse_str(none, &h), (int)strlen(none));
  assert_int_equal(h.n_headers, 0);
  assert_null(weft__http_get(&h, "Host"));
  assert_string_equal(weft__http_path(&h), "/x");
  assert_string_equal(weft__http_query(&h), "a=1");
  weft__http_head_free(&h);
  const char *one = "GET /x HTTP/1.1\nHost: a\n\n";
  assert_int_equal(parse_str(one, &h), (int)strlen(one));
  assert_int_equal(h.n_headers, 1);
  assert_string_equal(weft__http_hname(&h, 0), "Host");
  assert_string_equal(weft__http_hvalue(&h, 0), "a");
  assert_ptr_equal(weft__http_path(&h), weft__http_target(&h)); /* no query: no copy */
  weft__http_head_free(&h);
  /* What the block keeps: the offsets, then the strings with nothing
   * between them (no version, line ends or space before a value). */
  const char *two = "GET /x?a=1 HTTP/1.1\r\nHost: a\r\nX:  b c \r\n\r\n";
  static const char kept[] = "GET\0/x?a=1\0/x\0Host\0a\0X\0b c";
  assert_int_equal(parse_str(two, &h), (int)strlen(two));
  assert_int_equal(h.n_headers, 2);
  assert_memory_equal(h.storage + 2 * sizeof(uint16_t), kept, sizeof(kept));
  assert_string_equal(weft__http_hvalue(&h, 1), "b c");
  assert_string_equal(weft__http_path(&h), "/x");
  assert_string_equal(weft__http_query(&h), "a=1");
  assert_string_equal(weft__http_target(&h), "/x?a=1");
  weft__http_head_free(&h);
}

static void test_bare_lf_and_leading_blank(void **state) {
  (void)state;
  weft__http_head h;
  const char *lf = "GET /x?y HTTP/1.1\nHost: a\nUpgrade: websocket\n\n";
  assert_int_equal(parse_str(lf, &h), (int)strlen(lf));
  assert_string_equal(weft__http_get(&h, "Host"), "a");
  assert_string_equal(weft__http_get(&h, "Upgrade"), "websocket");
  assert_string_equal(weft__http_query(&h), "y");
  weft__http_head_free(&h);

  const char *mixed = "GET / HTTP/1.0\r\nHost: a\nX: b\r\n\n";
  assert_int_equal(parse_str(mixed, &h), (int)strlen(mixed));
  assert_int_equal(h.version_minor, 0);
  assert_string_equal(weft__http_get(&h, "x"), "b");
  weft__http_head_free(&h);

  const char *lead = "\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
  assert_int_equal(parse_str(lead, &h), (int)strlen(lead));
  assert_string_equal(weft__http_method(&h), "GET");
  weft__http_head_free(&h);

  assert_int_equal(parse_str("\r\n\r\n", &h), 0);
  assert_int_equal(parse_str("GET / HTTP/1.1\r\n\r", &h), 0);
}

static void test_values(void **state) {
  (void)state;
  weft__http_head h;
  const char *s = "GET / HTTP/1.1\r\n"
                  "X-Empty:\r\n"
                  "X-Spaces: \t a  b \t \r\n"
                  "X-Utf8: caf\xc3\xa9\r\n"
                  "x-dup: 1\r\n"
                  "X-Dup: 2\r\n"
                  "\r\n";
  assert_int_equal(parse_str(s, &h), (int)strlen(s));
  assert_string_equal(weft__http_get(&h, "x-empty"), "");
  assert_string_equal(weft__http_get(&h, "x-spaces"), "a  b");
  assert_string_equal(weft__http_get(&h, "x-utf8"), "caf\xc3\xa9");
  assert_string_equal(weft__http_get(&h, "X-DUP"), "1");
  weft__http_head_free(&h);
}

static void test_too_big(void **state) {
  (void)state;
  weft__http_head h;
  size_t cap = WEFT__HTTP_MAX_HEAD + 64;
  char *buf = malloc(cap);
  const char *line = "GET / HTTP/1.1\r\nX-Pad: ";
  size_t ll = strlen(line);

  /* A head ending exactly at the limit is fine. */
  memcpy(buf, line, ll);
  memset(buf + ll, 'a', WEFT__HTTP_MAX_HEAD - ll - 4);
  memcpy(buf + WEFT__HTTP_MAX_HEAD - 4, "\r\n\r\n", 4);
  assert_int_equal(weft__http_parse_request((uint8_t *)buf, WEFT__HTTP_MAX_HEAD, &h),
                   WEFT__HTTP_MAX_HEAD);
  weft__http_head_free(&h);

  /* One byte more and it is not. */
  memset(buf + ll, 'a', WEFT__HTTP_MAX_HEAD - ll - 3);
  memcpy(buf + WEFT__HTTP_MAX_HEAD - 3, "\r\n\r\n", 4);
  assert_int_equal(weft__http_parse_request((uint8_t *)buf, WEFT__HTTP_MAX_HEAD + 1, &h),
                   WEFT_ETOOBIG);
  /* No end yet but under the limit: wait. At the limit: too big. */
  memset(buf + ll, 'a', cap - ll);
  assert_int_equal(weft__http_parse_request((uint8_t *)buf, WEFT__HTTP_MAX_HEAD - 1, &h), 0);
  assert_int_equal(weft__http_parse_request((uint8_t *)buf, WEFT__HTTP_MAX_HEAD, &h), WEFT_ETOOBIG);
  assert_int_equal(weft__http_parse_request((uint8_t *)buf, cap, &h), WEFT_ETOOBIG);
  memcpy(buf, "HTTP/1.1 200 OK\r\nX: ", 20);
  assert_int_equal(weft__http_parse_response((uint8_t *)buf, cap, &h), WEFT_ETOOBIG);
  /* Lines of a request that cannot be a response fail as such. */
  memcpy(buf, "GET", 3);
  assert_int_equal(weft__http_parse_response((uint8_t *)buf, cap, &h), WEFT_EPROTO);
  free(buf);
}

static void test_too_many_headers(void **state) {
  (void)state;
  char buf[4096];
  weft__http_head h;
  for (int count = WEFT__HTTP_MAX_HEADERS; count <= WEFT__HTTP_MAX_HEADERS + 1; count++) {
    size_t n = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < count; i++)
      n += (size_t)snprintf(buf + n, sizeof buf - n, "H%d: v\r\n", i);
    n += (size_t)snprintf(buf + n, sizeof buf - n, "\r\n");
    int rc = weft__http_parse_request((uint8_t *)buf, n, &h);
    if (count == WEFT__HTTP_MAX_HEADERS) {
      assert_int_equal(rc, (int)n);
      assert_int_equal(h.n_headers, WEFT__HTTP_MAX_HEADERS);
      assert_string_equal(weft__http_get(&h, "h63"), "v");
      weft__http_head_free(&h);
    } else {
      assert_int_equal(rc, WEFT_ETOOBIG);
      assert_null(h.storage);
    }
  }
}

static void test_malformed(void **state) {
  (void)state;
  static const char *bad[] = {
      "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",  /* obs-fold */
      "GET / HTTP/1.1\r\nHost: a\r\n\tfolded\r\n\r\n", /* obs-fold, tab */
      "GET / HTTP/1.1\r\n Host: a\r\n\r\n",            /* first header folded */
      "GET / HTTP/1.1\r\nHost : a\r\n\r\n",            /* space before colon */
      "GET / HTTP/1.1\r\nHost\r\n\r\n",                /* no colon */
      "GET / HTTP/1.1\r\n: a\r\n\r\n",                 /* empty name */
      "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n",            /* non-token name */
      "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",          /* lone CR in value */
      "GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n",         /* control char */
      "GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n",         /* DEL */
      "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n",           /* CR CR LF */
      "GET / HTTP/2.0\r\n\r\n",                        /* not 1.x */
      "GET / HTTP/1.10\r\n\r\n",
      "GET / HTTP/1.\r\n\r\n",
      "GET / http/1.1\r\n\r\n",
      "GET / HTTP/1.1 \r\n\r\n",
      "GET /  HTTP/1.1\r\n\r\n", /* two spaces */
      "GET  / HTTP/1.1\r\n\r\n",
      "GET HTTP/1.1\r\n\r\n", /* no target */
      "GET\r\n\r\n",
      "GE(T / HTTP/1.1\r\n\r\n",
      " GET / HTTP/1.1\r\n\r\n",
      "GET /\x01 HTTP/1.1\r\n\r\n",
      "GET /\x7f HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\rHost: a\r\n\r\n",
      "HTTP/1.1 101 Switching Protocols\r\n\r\n", /* a response */
  };
  weft__http_head h;
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    int rc = parse_str(bad[i], &h);
    if (rc != WEFT_EPROTO) fail_msg("case %zu: got %d", i, rc);
    assert_null(h.storage);
  }
  /* NUL anywhere fails at once, before the head ends. */
  static const uint8_t nul[] = "GET / HTTP/1.1\r\nHost: a\0b";
  assert_int_equal(weft__http_parse_request(nul, sizeof nul - 1, &h), WEFT_EPROTO);
  /* A TLS ClientHello sent to the plain port. */
  static const uint8_t tls[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03};
  assert_int_equal(weft__http_parse_request(tls, sizeof tls, &h), WEFT_EPROTO);
  /* Bytes that cannot start a request line fail before a head ends. */
  static const char *early[] = {"\x16\x03\x01", "G(", "GET\t", " GET", "\x80", "{\"a\":1}"};
  for (size_t i = 0; i < sizeof early / sizeof *early; i++)
    assert_int_equal(parse_str(early[i], &h), WEFT_EPROTO);
  assert_int_equal(parse_str("GE", &h), 0);
  assert_int_equal(parse_str("GET", &h), 0);
  assert_int_equal(parse_str("GET /", &h), 0);
  assert_int_equal(weft__http_parse_response((const uint8_t *)"HTTX", 4, &h), WEFT_EPROTO);
  assert_int_equal(weft__http_parse_response((const uint8_t *)"HTT", 3, &h), 0);
  assert_int_equal(weft__http_parse_response((const uint8_t *)"HTTP/1.1 1", 10, &h), 0);
  static const uint8_t nul2[] = "\0";
  assert_int_equal(weft__http_parse_request(nul2, 1, &h), WEFT_EPROTO);
  assert_int_equal(weft__http_parse_request(NULL, 0, &h), 0);
  assert_int_equal(weft__http_parse_request(NULL, 5, &h), WEFT_EINVAL);
  assert_int_equal(weft__http_parse_request(nul, 1, NULL), WEFT_EINVAL);
}

/* The Vibe long-polling requests every keep-alive connection sends. */
static const char longpoll_get[] =
    "GET /vibe?transport=longpollajax&when=poll&id=3f2a9c1e-77aa-4bde-9b1c-0d5e6f7a8b9c "
    "HTTP/1.1\r\n"
    "Host: 127.0.0.1:4000\r\n"
    "Connection: keep-alive\r\n"
    "\r\n";
static const char longpoll_post[] =
    "POST /vibe?transport=longpollajax&id=3f2a9c1e-77aa-4bde-9b1c-0d5e6f7a8b9c HTTP/1.1\r\n"
    "content-type: text/plain; charset=utf-8\r\n"
    "Host: 127.0.0.1:4000\r\n"
    "Connection: keep-alive\r\n"
    "Content-Length: 80\r\n"
    "\r\n";

/* Parses s[0..len) from a heap block of exactly that size (so a sanitizer
 * sees any read past it). */
static int parse_exact(const char *s, size_t len, weft__http_head *h, int request) {
  uint8_t *b = malloc(len ? len : 1);
  memcpy(b, s, len);
  int rc = request ? weft__http_parse_request(b, len, h) : weft__http_parse_response(b, len, h);
  free(b);
  return rc;
}

/* Every prefix asks for more, in a block that ends there; the whole head
 * parses the same alone and with a body behind it. */
static void test_split_every_offset(void **state) {
  (void)state;
  static const char response[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX: y\r\n\r\n";
  const char *heads[] = {longpoll_get, longpoll_post, response, "GET / HTTP/1.1\n\n"};
  for (size_t r = 0; r < 4; r++) {
    size_t len = strlen(heads[r]);
    int request = r != 2;
    weft__http_head h;
    for (size_t k = 0; k < len; k++)
      if (parse_exact(heads[r], k, &h, request) != 0) fail_msg("head %zu at %zu", r, k);
    char *body = malloc(len + 80);
    memcpy(body, heads[r], len);
    memset(body + len, 'b', 80);
    for (size_t extra = 0; extra <= 80; extra += 20) {
      assert_int_equal(parse_exact(body, len + extra, &h, request), (int)len);
      weft__http_head_free(&h);
    }
    free(body);
  }
  weft__http_head h;
  assert_int_equal(parse_str(longpoll_post, &h), (int)strlen(longpoll_post));
  assert_string_equal(weft__http_method(&h), "POST");
  assert_string_equal(weft__http_path(&h), "/vibe");
  assert_string_equal(weft__http_query(&h),
                      "transport=longpollajax&id=3f2a9c1e-77aa-4bde-9b1c-0d5e6f7a8b9c");
  assert_int_equal(h.n_headers, 4);
  assert_string_equal(weft__http_get(&h, "Content-Type"), "text/plain; charset=utf-8");
  assert_string_equal(weft__http_get(&h, "content-length"), "80");
  assert_string_equal(weft__http_hvalue(&h, 3), "80");
  assert_null(weft__http_get(&h, "Content-Lengt"));
  assert_null(weft__http_get(&h, "Content-Length2"));
  assert_int_equal(weft__http_count(&h, "HOST"), 1);
  weft__http_head_free(&h);
}

/* Names, values and targets of every length up to past two 32-byte steps
 * (the scan's and the copies' edges), with either line end, as the last
 * header and before another one. */
static void test_lengths(void **state) {
  (void)state;
  char name[80], value[80], target[120], req[512];
  for (size_t n = 1; n < 70; n++) {
    for (size_t i = 0; i < n; i++) {
      name[i] = "abcXYZ-09_!~"[i % 12];
      value[i] = "v al\xc3\xa9;=/"[i % 9];
      target[i] = i == 0 ? '/' : "pq?=&%.x"[i % 8];
    }
    name[n] = value[n] = target[n] = '\0';
    if (value[n - 1] == ' ') value[n - 1] = 'z'; /* trailing whitespace is trimmed */
    for (int lf = 0; lf < 2; lf++) {
      const char *eol = lf ? "\n" : "\r\n";
      for (int last = 0; last < 2; last++) {
        int len = snprintf(req, sizeof req, "GET %s HTTP/1.1%s%s: %s%s%s%s", target, eol, name,
                           value, eol, last ? "" : "B: c", last ? "" : eol);
        len += snprintf(req + len, sizeof req - (size_t)len, "%s", eol);
        weft__http_head h;
        if (parse_exact(req, (size_t)len, &h, 1) != len)
          fail_msg("n %zu lf %d last %d", n, lf, last);
        assert_string_equal(weft__http_target(&h), target);
        const char *q = strchr(target, '?');
        assert_string_equal(weft__http_query(&h), q ? q + 1 : "");
        assert_int_equal(strlen(weft__http_path(&h)), q ? (size_t)(q - target) : n);
        assert_string_equal(weft__http_hname(&h, 0), name);
        assert_string_equal(weft__http_hvalue(&h, 0), value);
        assert_string_equal(weft__http_get(&h, name), value);
        assert_int_equal(h.n_headers, last ? 1 : 2);
        if (!last) assert_string_equal(weft__http_get(&h, "b"), "c");
        weft__http_head_free(&h);
      }
    }
  }
}

/* A NUL anywhere before the end fails at once, complete or not; after the
 * end it is not the head's. A CR not before an LF fails the complete head
 * (and only waits for more before it ends). */
static void test_nul_and_cr_everywhere(void **state) {
  (void)state;
  const char *heads[] = {longpoll_get, longpoll_post};
  for (size_t r = 0; r < 2; r++) {
    size_t len = strlen(heads[r]);
    char *b = malloc(len + 1);
    weft__http_head h;
    for (size_t p = 0; p < len; p++) {
      memcpy(b, heads[r], len + 1);
      b[p] = '\0';
      if (parse_exact(b, len, &h, 1) != WEFT_EPROTO) fail_msg("NUL at %zu", p);
      if (parse_exact(b, p + 1, &h, 1) != WEFT_EPROTO) fail_msg("NUL at the end %zu", p);
      assert_null(h.storage);
      if (heads[r][p] == '\r' || heads[r][p] == '\n' || heads[r][p + 1] == '\n') continue;
      b[p] = '\r';
      if (parse_exact(b, len, &h, 1) != WEFT_EPROTO) fail_msg("CR at %zu", p);
      assert_null(h.storage);
      int early = parse_exact(b, len - 2, &h, 1);
      /* In the method, it cannot start a request (bad_start). */
      size_t method = (size_t)(strchr(heads[r], ' ') - heads[r]);
      if (early != (p <= method ? WEFT_EPROTO : 0)) fail_msg("CR at %zu, early: %d", p, early);
    }
    memcpy(b, heads[r], len + 1);
    char *tail = malloc(len + 2);
    memcpy(tail, heads[r], len);
    tail[len] = '\0';
    tail[len + 1] = '\r';
    assert_int_equal(parse_exact(tail, len + 2, &h, 1), (int)len);
    weft__http_head_free(&h);
    free(tail);
    free(b);
  }
}

/* Tab, SP and DEL where each is and is not allowed. */
static void test_whitespace_and_del(void **state) {
  (void)state;
  static const struct {
    const char *head;
    int ok;
  } cases[] = {
      {"GET /a\tb HTTP/1.1\r\n\r\n", 0},         {"GET\t/ HTTP/1.1\r\n\r\n", 0},
      {"GET / HTTP/1.1\t\r\n\r\n", 0},           {"GET / HTTP/1.1\r\nA:\tb\tc\t\r\n\r\n", 1},
      {"GET / HTTP/1.1\r\nA\t: b\r\n\r\n", 0},   {"GET / HTTP/1.1\r\n\tA: b\r\n\r\n", 0},
      {"GET /\x7f HTTP/1.1\r\n\r\n", 0},         {"GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n", 0},
      {"GET / HTTP/1.1\r\nA\x7f: b\r\n\r\n", 0}, {"GET /a?b?c HTTP/1.1\r\n\r\n", 1},
      {"GET /a b HTTP/1.1\r\n\r\n", 0},          {"GET /\x80\xff HTTP/1.1\r\n\r\n", 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    weft__http_head h;
    int rc = parse_str(cases[i].head, &h);
    if (cases[i].ok ? rc != (int)strlen(cases[i].head) : rc != WEFT_EPROTO)
      fail_msg("case %zu: got %d", i, rc);
    weft__http_head_free(&h);
  }
  weft__http_head h;
  assert_int_equal(parse_str("GET / HTTP/1.1\r\nA:\tb\tc\t\r\n\r\n", &h), 27);
  assert_string_equal(weft__http_get(&h, "a"), "b\tc");
  weft__http_head_free(&h);
  assert_int_equal(parse_str("GET /a?b?c HTTP/1.1\r\n\r\n", &h), 23);
  assert_string_equal(weft__http_path(&h), "/a");
  assert_string_equal(weft__http_query(&h), "b?c");
  weft__http_head_free(&h);
  assert_int_equal(parse_str("GET HTTPS://h?a/b HTTP/1.1\r\n\r\n", &h), 30);
  assert_string_equal(weft__http_target(&h), "/?a/b");
  assert_string_equal(weft__http_path(&h), "/");
  assert_string_equal(weft__http_query(&h), "a/b");
  weft__http_head_free(&h);
}

/* The 65th header line decides: too many when it is well-formed, its own
 * error when not; a bad line after it is not looked at. */
static void test_header_limit_order(void **state) {
  (void)state;
  char buf[4096];
  weft__http_head h;
  for (int bad65 = 0; bad65 < 2; bad65++) {
    size_t n = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 64; i++)
      n += (size_t)snprintf(buf + n, sizeof buf - n, "H%d: v\r\n", i);
    n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\r\nBad Line\r\n\r\n",
                          bad65 ? "H 64: v" : "H64: v");
    assert_int_equal(weft__http_parse_request((uint8_t *)buf, n, &h),
                     bad65 ? WEFT_EPROTO : WEFT_ETOOBIG);
    assert_null(h.storage);
  }
}

static void test_response(void **state) {
  (void)state;
  weft__http_head h;
  const char *r = "HTTP/1.1 101 Switching Protocols\r\n"
                  "Upgrade: websocket\r\n"
                  "Connection: Upgrade\r\n"
                  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                  "\r\n";
  size_t len = strlen(r);
  for (size_t k = 0; k < len; k++)
    assert_int_equal(weft__http_parse_response((const uint8_t *)r, k, &h), 0);
  assert_int_equal(weft__http_parse_response((const uint8_t *)r, len, &h), (int)len);
  assert_int_equal(h.status, 101);
  assert_string_equal(weft__http_reason(&h), "Switching Protocols");
  assert_null(weft__http_method(&h));
  assert_null(weft__http_target(&h));
  assert_null(weft__http_path(&h));
  assert_int_equal(h.version_minor, 1);
  assert_string_equal(weft__http_get(&h, "sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  char accept[29];
  assert_int_equal(weft__ws_check_upgrade(&h, accept), WEFT_EPROTO);
  weft__http_head_free(&h);

  const char *no_reason = "HTTP/1.0 404\r\n\r\n";
  assert_int_equal(weft__http_parse_response((const uint8_t *)no_reason, strlen(no_reason), &h),
                   (int)strlen(no_reason));
  assert_int_equal(h.status, 404);
  assert_string_equal(weft__http_reason(&h), "");
  assert_int_equal(h.version_minor, 0);
  weft__http_head_free(&h);

  const char *empty_reason = "HTTP/1.1 200 \nX: y\n\n";
  assert_int_equal(
      weft__http_parse_response((const uint8_t *)empty_reason, strlen(empty_reason), &h),
      (int)strlen(empty_reason));
  assert_string_equal(weft__http_reason(&h), "");
  weft__http_head_free(&h);

  static const char *bad[] = {
      "HTTP/1.1 1x1 OK\r\n\r\n",  "HTTP/1.1 99 OK\r\n\r\n",
      "HTTP/1.1 1011 OK\r\n\r\n", "HTTP/1.1  101 OK\r\n\r\n",
      "HTTP/2 101 OK\r\n\r\n",    "HTTP/1.1 101 O\x01K\r\n\r\n",
      "HTTP/1.1 099 OK\r\n\r\n",  "GET / HTTP/1.1\r\n\r\n",
      "HTTP/1.1\r\n\r\n",         "HTTP/1.1 101 OK\r\nBad Name: x\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    int rc = weft__http_parse_response((const uint8_t *)bad[i], strlen(bad[i]), &h);
    if (rc != WEFT_EPROTO) fail_msg("case %zu: got %d", i, rc);
  }
}

static void test_tokens(void **state) {
  (void)state;
  assert_true(weft__http_has_token("Upgrade", "upgrade"));
  assert_true(weft__http_has_token("keep-alive, Upgrade", "upgrade"));
  assert_true(weft__http_has_token("Upgrade,keep-alive", "UPGRADE"));
  assert_true(weft__http_has_token(" \twebsocket \t", "websocket"));
  assert_true(weft__http_has_token(",,  ,upgrade,", "upgrade"));
  assert_true(weft__http_has_token("a , b ,c", "b"));
  assert_false(weft__http_has_token("websocketx", "websocket"));
  assert_false(weft__http_has_token("xwebsocket", "websocket"));
  assert_false(weft__http_has_token("web socket", "websocket"));
  assert_false(weft__http_has_token("keep-alive", "upgrade"));
  assert_false(weft__http_has_token("", "upgrade"));
  assert_false(weft__http_has_token(",", "upgrade"));
  assert_false(weft__http_has_token(NULL, "upgrade"));
  assert_false(weft__http_has_token("upgrade", NULL));
}

/* Case is folded for ASCII letters only, whatever the locale says
 * (strcasecmp follows LC_CTYPE, which hosts such as Python set). */
static void test_ascii_case(void **state) {
  (void)state;
  assert_true(weft__strcaseeq("KEEP-ALIVE", "keep-alive"));
  assert_true(weft__strcaseeq("Sec-WebSocket-Key", "sec-websocket-key"));
  assert_true(weft__strcaseeq("", ""));
  assert_false(weft__strcaseeq("keep-alive", "keep-aliv"));
  assert_false(weft__strcaseeq("keep-aliv", "keep-alive"));
  assert_false(weft__strcaseeq("a^b", "a~b")); /* differ by 0x20, not letters */
  assert_false(weft__strcaseeq("@", "`"));
  assert_false(weft__strcaseeq("\xc9", "\xe9")); /* Latin-1 E acute: not ASCII */
  assert_true(weft__strncaseeq("HTTP://x", "http://y", 7));
  assert_false(weft__strncaseeq("HTTP:/", "http://", 7));
  assert_true(weft__strncaseeq("ab", "AB", 5)); /* both end before n */
  assert_true(weft__http_has_token("Keep-Alive, UPGRADE", "keep-alive"));
  weft__http_head h;
  const char *req = "GET / HTTP/1.1\r\nCONNECTION: KEEP-ALIVE\r\nhost: x\r\n\r\n";
  assert_true(weft__http_parse_request((const uint8_t *)req, strlen(req), &h) > 0);
  assert_string_equal(weft__http_get(&h, "Connection"), "KEEP-ALIVE");
  assert_string_equal(weft__http_get(&h, "Host"), "x");
  assert_int_equal(weft__http_count(&h, "HOST"), 1);
  weft__http_head_free(&h);
}

static void test_url_decode(void **state) {
  (void)state;
  char out[64];
  struct {
    const char *in, *out;
    size_t n;
  } v[] = {
      {"a%20b+c", "a b c", 5},
      {"%41%42%43", "ABC", 3},
      {"%7e%7E", "~~", 2},
      {"%zz", "%zz", 3},
      {"%4", "%4", 2},
      {"%", "%", 1},
      {"100%", "100%", 4},
      {"%%41", "%A", 2},
      {"", "", 0},
      {"caf%C3%A9", "caf\xc3\xa9", 5},
      {"a%2", "a%2", 3},
      {"%g1x", "%g1x", 4},
  };
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    size_t n = weft__url_decode(out, v[i].in, strlen(v[i].in));
    assert_int_equal(n, v[i].n);
    assert_memory_equal(out, v[i].out, n + 1);
  }
  /* Decoded NUL bytes are counted; only `len` source bytes are read. */
  assert_int_equal(weft__url_decode(out, "a%00b", 5), 3);
  assert_memory_equal(out, "a\0b", 4);
  assert_int_equal(weft__url_decode(out, "abcdef", 3), 3);
  assert_string_equal(out, "abc");
}

/* "user:password@" in a URL: percent-decoded userinfo, the host after the
 * last '@'; malformed escapes, NUL and control characters refused; and the
 * base64 of what a client sends as Authorization: Basic. */
static void test_url_userinfo(void **state) {
  (void)state;
  weft__url u;
  assert_int_equal(weft__url_parse("ws://usr:pa%3Ass@127.0.0.1:9/p?q=1", &u), 0);
  assert_string_equal(u.userinfo, "usr:pa:ss");
  assert_string_equal(u.host, "127.0.0.1");
  assert_int_equal(u.port, 9);
  assert_string_equal(u.path, "/p?q=1");
  assert_int_equal(weft__url_parse("ws://a@b@[::1]:2", &u), 0);
  assert_string_equal(u.userinfo, "a@b");
  assert_string_equal(u.host, "::1");
  assert_int_equal(weft__url_parse("ws://h:1/x@y", &u), 0); /* an '@' in the path is the path's */
  assert_string_equal(u.userinfo, "");
  assert_string_equal(u.path, "/x@y");
  assert_int_equal(weft__url_parse("ws://u%zz@h:1/", &u), WEFT_EURL);
  assert_int_equal(weft__url_parse("ws://u%00@h:1/", &u), WEFT_EURL);
  assert_int_equal(weft__url_parse("ws://u%0d%0a@h:1/", &u), WEFT_EURL);
  assert_int_equal(weft__url_parse("ws://u%4@h:1/", &u), WEFT_EURL);
  assert_int_equal(weft__url_parse("ws://@h:1/", &u), 0);
  assert_string_equal(u.userinfo, "");
  char big[400] = "ws://";
  memset(big + 5, 'u', 300);
  strcpy(big + 305, "@h:1/");
  assert_int_equal(weft__url_parse(big, &u), WEFT_EURL);
  uint8_t out[16];
  assert_int_equal(weft__b64_len(8), 12);
  weft__b64_encode(out, (const uint8_t *)"usr:pass", 8);
  assert_memory_equal(out, "dXNyOnBhc3M=", 12);
}

/* Heads shared between requests (heads.h): from the second sighting, but
 * for the key; each request reads its own key back; a key that would not
 * come back as sent, a head over the size limit and a full pool of heads
 * in use leave the request its own copy. */
static int req_at(weft__http_req *r, const char *target, const char *key, const char *ua) {
  char buf[2048];
  int n = snprintf(buf, sizeof(buf),
                   "GET %s HTTP/1.1\r\nHost: h\r\nUser-Agent: %s\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\n%s%s%sSec-WebSocket-Version: 13\r\n\r\n",
                   target, ua, key ? "Sec-WebSocket-Key: " : "", key ? key : "", key ? "\r\n" : "");
  memset(r, 0, sizeof(*r));
  return weft__http_parse_request((const uint8_t *)buf, (size_t)n, &r->head) == n ? 0 : -1;
}

static int req_of(weft__http_req *r, const char *key, const char *ua) {
  return req_at(r, "/primus", key, ua);
}

/* The same header lines behind other request lines (Primus's client puts a
 * new `_primuscb` in every URL): the lines are shared, each request keeps
 * its line, and its own copy comes back byte for byte. */
static void test_shared_lines(void **state) {
  (void)state;
  weft__heads hs;
  memset(&hs, 0, sizeof(hs));
  const char *targets[] = {"/primus/?_primuscb=a1", "/primus/?_primuscb=OsD3h2k-7", "/p",
                           "/primus/?_primuscb=a1"};
  const char *keys[] = {"AAECAwQFBgcICQoLDA0ODw==", "8PHy8/T19vf4+fr7/P3+/w==",
                        "dGhlIHNhbXBsZSBub25jZQ==", "qqqqqqqqqqqqqqqqqqqqqg=="};
  weft__http_req r[4], want;
  for (int i = 0; i < 4; i++) {
    assert_int_equal(req_at(&r[i], targets[i], keys[i], "a/1"), 0);
    assert_int_equal(weft__heads_share(&hs, &r[i]), i > 0);
  }
  for (int i = 1; i < 4; i++) {
    /* The second made the shared copy: its line is in it; the fourth has
     * the first's line, not in it. */
    assert_int_equal(r[i].head_shared, i == 1 ? 1 : 2);
    assert_int_equal(weft__http_req_own(&r[i]), 0);
    assert_int_equal(req_at(&want, targets[i], keys[i], "a/1"), 0);
    size_t size = weft__http_head_size(&want.head);
    assert_int_equal(weft__http_head_size(&r[i].head), size);
    assert_memory_equal(r[i].head.storage, want.head.storage, size);
    assert_int_equal(r[i].head.method, want.head.method);
    assert_int_equal(r[i].head.target, want.head.target);
    assert_int_equal(r[i].head.path, want.head.path);
    assert_int_equal(r[i].head.query, want.head.query);
    assert_int_equal(r[i].head.n_headers, want.head.n_headers);
    assert_string_equal(weft__http_target(&r[i].head), targets[i]);
    assert_string_equal(weft__http_get(&r[i].head, "sec-websocket-key"), keys[i]);
    weft__http_req_free(&want);
  }
  /* A head that kept only its URL has no lines worth sharing behind
   * another URL (the line's own block would cost more than it saved); the
   * same URL still shares it whole. */
  const char *none[] = {NULL};
  for (int i = 0; i < 3; i++) {
    assert_int_equal(req_at(&want, i < 2 ? "/a?x=1" : "/b?x=22", keys[0], "a/1"), 0);
    assert_int_equal(weft__http_head_keep(&want.head, 1, 0, none, 0), 0);
    assert_int_equal(want.head.n_headers, 0);
    assert_int_equal(weft__heads_share(&hs, &want), i == 1);
    weft__http_req_free(&want);
  }
  /* Freed while shared, line or not; the pool last. */
  assert_int_equal(req_at(&want, "/x?y=1", keys[0], "a/1"), 0);
  assert_int_equal(weft__heads_share(&hs, &want), 1);
  assert_int_equal(want.head_shared, 2);
  weft__http_req_free(&want);
  assert_null(want.head.storage);
  for (int i = 0; i < 4; i++)
    weft__http_req_free(&r[i]);
  weft__heads_free(&hs);
}

static void test_shared_heads(void **state) {
  (void)state;
  weft__heads hs;
  memset(&hs, 0, sizeof(hs));
  weft__http_req r[6];
  const char *keys[] = {
      "AAECAwQFBgcICQoLDA0ODw==", "8PHy8/T19vf4+fr7/P3+/w==", "dGhlIHNhbXBsZSBub25jZQ=="};
  for (int i = 0; i < 3; i++)
    assert_int_equal(req_of(&r[i], keys[i], "a/1"), 0);
  size_t size = weft__http_head_size(&r[0].head);
  assert_int_equal(weft__heads_share(&hs, &r[0]), 0); /* first seen: its own */
  assert_int_equal(weft__heads_share(&hs, &r[1]), 1);
  assert_int_equal(weft__heads_share(&hs, &r[2]), 1);
  assert_ptr_equal(r[1].head.storage, r[2].head.storage);
  assert_int_equal(weft__heads_share(&hs, &r[2]), 0); /* already */
  assert_int_equal(weft__http_req_own(&r[2]), 0);
  assert_int_equal(weft__http_req_own(&r[2]), 0); /* owning twice is once */
  assert_string_equal(weft__http_get(&r[2].head, "sec-websocket-key"), keys[2]);
  assert_string_equal(weft__http_get(&r[2].head, "user-agent"), "a/1");
  assert_string_equal(weft__http_target(&r[2].head), "/primus");
  assert_int_equal(r[2].head.n_headers, 6);
  assert_int_equal(weft__http_head_size(&r[2].head), size);
  /* A key with unused bits set, another head, no key at all. */
  assert_int_equal(req_of(&r[3], "dGhlIHNhbXBsZSBub25jZR==", "a/1"), 0);
  assert_int_equal(weft__heads_share(&hs, &r[3]), 0);
  assert_string_equal(weft__http_get(&r[3].head, "sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZR==");
  assert_int_equal(req_of(&r[4], keys[0], "b/2"), 0);
  assert_int_equal(weft__heads_share(&hs, &r[4]), 0);
  assert_int_equal(req_of(&r[5], NULL, "b/2"), 0);
  assert_int_equal(weft__heads_share(&hs, &r[5]), 0);
  weft__http_req_free(&r[5]);
  assert_int_equal(req_of(&r[5], NULL, "b/2"), 0);
  assert_int_equal(weft__heads_share(&hs, &r[5]), 1);
  assert_int_equal(weft__http_req_own(&r[5]), 0);
  assert_null(weft__http_get(&r[5].head, "sec-websocket-key"));
  assert_string_equal(weft__http_get(&r[5].head, "user-agent"), "b/2");
  /* Too large: never shared. */
  char ua[1100];
  memset(ua, 'u', sizeof(ua) - 1);
  ua[sizeof(ua) - 1] = '\0';
  weft__http_req big;
  for (int i = 0; i < 2; i++) {
    assert_int_equal(req_of(&big, keys[0], ua), 0);
    assert_int_equal(weft__heads_share(&hs, &big), 0);
    weft__http_req_free(&big);
  }
  /* The pool freed while requests share its heads: they keep them. */
  weft__heads_free(&hs);
  assert_int_equal(weft__http_req_own(&r[1]), 0);
  assert_string_equal(weft__http_get(&r[1].head, "sec-websocket-key"), keys[1]);
  for (int i = 0; i < 6; i++)
    weft__http_req_free(&r[i]);

  /* A full pool: heads in use stay, a new one is not shared; once their
   * requests are gone the pool makes room. */
  static weft__http_req held[WEFT__HEADS_MAX];
  char name[32];
  for (int i = 0; i < WEFT__HEADS_MAX; i++) {
    snprintf(name, sizeof(name), "n/%d", i);
    for (int k = 0; k < 2; k++) {
      assert_int_equal(req_of(&held[i], keys[k], name), 0);
      int shared = weft__heads_share(&hs, &held[i]);
      assert_int_equal(shared, k);
      if (!shared) weft__http_req_free(&held[i]);
    }
  }
  for (int k = 0; k < 2; k++) {
    assert_int_equal(req_of(&r[0], keys[k], "late/1"), 0);
    assert_int_equal(weft__heads_share(&hs, &r[0]), 0);
    weft__http_req_free(&r[0]);
  }
  for (int i = 0; i < WEFT__HEADS_MAX; i++)
    weft__http_req_free(&held[i]);
  assert_int_equal(req_of(&r[0], keys[0], "late/1"), 0);
  assert_int_equal(weft__heads_share(&hs, &r[0]), 1);
  assert_int_equal(hs.map.n, 1);
  weft__http_req_free(&r[0]);
  weft__heads_free(&hs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chromium),
      cmocka_unit_test(test_shared_heads),
      cmocka_unit_test(test_shared_lines),
      cmocka_unit_test(test_node_ws),
      cmocka_unit_test(test_curl),
      cmocka_unit_test(test_absolute_form),
      cmocka_unit_test(test_firefox),
      cmocka_unit_test(test_split_arrival),
      cmocka_unit_test(test_bare_lf_and_leading_blank),
      cmocka_unit_test(test_table_sizes),
      cmocka_unit_test(test_values),
      cmocka_unit_test(test_too_big),
      cmocka_unit_test(test_too_many_headers),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_response),
      cmocka_unit_test(test_split_every_offset),
      cmocka_unit_test(test_lengths),
      cmocka_unit_test(test_nul_and_cr_everywhere),
      cmocka_unit_test(test_whitespace_and_del),
      cmocka_unit_test(test_header_limit_order),
      cmocka_unit_test(test_tokens),
      cmocka_unit_test(test_ascii_case),
      cmocka_unit_test(test_url_decode),
      cmocka_unit_test(test_url_userinfo),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
