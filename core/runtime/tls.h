/*
 * TLS through OpenSSL with memory BIOs: no socket I/O here. A stream feeds
 * ciphertext in and takes ciphertext out (stream.c); contexts are built
 * once per server or client.
 */
#ifndef WEFT__TLS_H
#define WEFT__TLS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

typedef struct weft__tls_ctx weft__tls_ctx;
typedef struct weft__tls weft__tls;

/* A server context from PEM files. Errors: WEFT_EINVAL (unreadable or
 * mismatched files; `err` says which). */
int weft__tls_ctx_server(weft__tls_ctx **out, const char *cert_file, const char *key_file,
                         char *err, size_t errcap);
/* A client context: peer verification on unless `verify` is 0; trust from
 * `ca_file` (PEM) or, when NULL, the system's store. */
int weft__tls_ctx_client(weft__tls_ctx **out, const char *ca_file, int verify, char *err,
                         size_t errcap);
void weft__tls_ctx_free(weft__tls_ctx *ctx);

/* A session. `host` (clients) is sent as SNI and checked against the
 * certificate (a name, or an IP address literal). */
int weft__tls_new(weft__tls **out, weft__tls_ctx *ctx, int server, const char *host);
void weft__tls_free(weft__tls *t);

/* Ciphertext from the network. Returns 0 or WEFT_ENOMEM. */
int weft__tls_feed(weft__tls *t, const uint8_t *p, size_t n);
/* Advances the handshake: 1 done, 0 needs more input, WEFT_EPROTO failed
 * (weft__tls_error() says why). */
int weft__tls_handshake(weft__tls *t);
/* Decrypts into out[0..cap): bytes produced (> 0), 0 when nothing more is
 * available now, WEFT_EPROTO on failure, WEFT_ECLOSED on close_notify. */
long weft__tls_read(weft__tls *t, uint8_t *out, size_t cap);
/* Encrypts n bytes. Returns 0 or WEFT_EPROTO. */
int weft__tls_write(weft__tls *t, const uint8_t *p, size_t n);
/* Ciphertext ready to send (0 when none); weft__tls_take copies and drains it. */
size_t weft__tls_pending(weft__tls *t);
void weft__tls_take(weft__tls *t, uint8_t *out, size_t n);
/* Why the session failed ("" when it did not). */
const char *weft__tls_error(const weft__tls *t);

#endif
