/*
 * The client's half of connection-state recovery (decision #23): the
 * weft_rs query parameter of each attempt, the server's answer
 * ("primus::weft::rs::<r>:<id>:<token>"), and the count of application
 * messages received in the session (client_conn.c counts).
 */
#include <stdio.h>
#include <string.h>

#include "primus.h"

int weft_client_set_recovery(weft_client *c, int on, weft_client_recovery_cb cb, void *user) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c) return WEFT_EINVAL;
  if (c->state != WEFT_CLIENT_CLOSED || c->opened || c->ended) return WEFT_ESTATE;
  c->rs_on = on != 0;
  c->rs_cb = cb;
  c->rs_user = user;
  return 0;
}

int weft_client_recovered(const weft_client *c) {
  if (weft__client_gone(c)) return WEFT_ECLOSED;
  if (!c) return WEFT_EINVAL;
  return c->rs_recovered;
}

/* Appends s percent-encoded (RFC 3986 unreserved kept) at b[*n]. */
static int put_enc(char *b, size_t cap, size_t *n, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    int keep = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
               ch == '-' || ch == '_' || ch == '~';
    if (*n + (keep ? 1 : 3) >= cap) return WEFT_EURL;
    if (keep) {
      b[(*n)++] = (char)ch;
    } else {
      b[(*n)++] = '%';
      b[(*n)++] = hex[ch >> 4];
      b[(*n)++] = hex[ch & 15];
    }
  }
  b[*n] = '\0';
  return 0;
}

int weft__client_resume_url(const weft_client *c, weft__url *u) {
  if (!c->rs_on) return 0;
  char *b = u->path;
  size_t cap = sizeof(u->path), n = strlen(b);
  int k = snprintf(b + n, cap - n, "%sweft_rs=", strchr(b, '?') ? "&" : "?");
  if (k < 0 || (size_t)k >= cap - n) return WEFT_EURL;
  n += (size_t)k;
  if (!c->rs_id[0]) return n + 1 < cap ? (b[n++] = '1', b[n] = '\0', 0) : WEFT_EURL;
  /* The id may hold any character (an application's idgen): encoded; the
   * token is base64url and the count digits, so the server splits at the
   * last two dots. */
  int rc = put_enc(b, cap, &n, c->rs_id);
  if (rc) return rc;
  k = snprintf(b + n, cap - n, ".%s.%llu", c->rs_token, (unsigned long long)c->rs_count);
  return k < 0 || (size_t)k >= cap - n ? WEFT_EURL : 0;
}

static int token_ok(const char *s, size_t n) {
  if (n == 0 || n >= sizeof(((weft_client *)0)->rs_token)) return 0;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
          ch == '-' || ch == '_'))
      return 0;
  }
  return 1;
}

void weft__client_resume_answer(weft_client *c, const char *rest, size_t len) {
  /* "<r>:<id>:<token>": r from the left, the token after the last colon
   * (an id may hold colons). */
  const char *last = NULL;
  for (size_t i = len; i > 2 && !last; i--)
    if (rest[i - 1] == ':') last = rest + i - 1;
  size_t idlen = last ? (size_t)(last - rest) - 2 : 0,
         toklen = last ? len - (size_t)(last - rest) - 1 : 0;
  if (!last || (rest[0] != '0' && rest[0] != '1') || rest[1] != ':' || last < rest + 3 ||

      idlen >= sizeof(c->rs_id) || memchr(rest + 2, '\0', idlen) || !token_ok(last + 1, toklen)) {
    weft__client_emit_error(c, WEFT_EPROTO, "protocol", "malformed recovery answer ignored", 0,
                            NULL);
    return;
  }
  int recovered = rest[0] == '1';
  if (!recovered) c->rs_count = 0; /* a fresh session */
  memcpy(c->rs_id, rest + 2, idlen);
  c->rs_id[idlen] = '\0';
  memcpy(c->rs_token, last + 1, toklen);
  c->rs_token[toklen] = '\0';
  c->rs_recovered = (uint8_t)recovered;
  if (c->rs_cb) c->rs_cb(c, recovered, c->rs_id, c->rs_user);
}
