/* TLS sessions on memory BIOs (see tls.h). */
#include "tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "weft/weft.h"

struct weft__tls_ctx {
  SSL_CTX *ctx;
};

struct weft__tls {
  SSL *ssl;
  BIO *rbio, *wbio; /* network → SSL, SSL → network */
  char err[200];
};

/* "what file: why", the reason from OpenSSL's first error (a system error,
 * such as a missing file, as strerror says it); `file` may be NULL. */
static void ssl_errstr(char *err, size_t cap, const char *what, const char *file) {
  unsigned long e = ERR_get_error();
  char buf[160] = "";
  if (e && ERR_SYSTEM_ERROR(e))
    uv_strerror_r(-(int)ERR_GET_REASON(e), buf, sizeof(buf));
  else if (e)
    ERR_error_string_n(e, buf, sizeof(buf));
  snprintf(err, cap, "%s%s%s%s%s", what, file ? " " : "", file ? file : "", *buf ? ": " : "", buf);
  ERR_clear_error();
}

/* Takes `ctx` in every case. */
static int wrap(SSL_CTX *ctx, weft__tls_ctx **out) {
  weft__tls_ctx *c = malloc(sizeof(*c));
  if (!c) {
    SSL_CTX_free(ctx);
    return WEFT_ENOMEM;
  }
  c->ctx = ctx;
  *out = c;
  return 0;
}

int weft__tls_ctx_server(weft__tls_ctx **out, const char *cert, const char *key, char *err,
                         size_t cap) {
  *out = NULL;
  if (!cert || !key) {
    snprintf(err, cap, "a certificate and a key are needed");
    return WEFT_EINVAL;
  }
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return WEFT_ENOMEM;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
    ssl_errstr(err, cap, "cannot load the certificate", cert);
    SSL_CTX_free(ctx);
    return WEFT_EINVAL;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
    ssl_errstr(err, cap, "cannot load the key", key);
    SSL_CTX_free(ctx);
    return WEFT_EINVAL;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    snprintf(err, cap, "the key %s does not match the certificate %s", key, cert);
    SSL_CTX_free(ctx);
    return WEFT_EINVAL;
  }
  return wrap(ctx, out);
}

int weft__tls_ctx_client(weft__tls_ctx **out, const char *ca_file, int verify, char *err,
                         size_t cap) {
  *out = NULL;
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return WEFT_ENOMEM;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                     : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
      ssl_errstr(err, cap,
                 ca_file ? "cannot load the trusted certificates"
                         : "cannot load the system's trusted certificates",
                 ca_file);
      SSL_CTX_free(ctx);
      return WEFT_EINVAL;
    }
  }
  return wrap(ctx, out);
}

void weft__tls_ctx_free(weft__tls_ctx *c) {
  if (!c) return;
  SSL_CTX_free(c->ctx);
  free(c);
}

int weft__tls_new(weft__tls **out, weft__tls_ctx *ctx, int server, const char *host) {
  *out = NULL;
  weft__tls *t = calloc(1, sizeof(*t));
  if (!t) return WEFT_ENOMEM;
  t->ssl = SSL_new(ctx->ctx);
  t->rbio = BIO_new(BIO_s_mem());
  t->wbio = BIO_new(BIO_s_mem());
  if (!t->ssl || !t->rbio || !t->wbio) {
    SSL_free(t->ssl);
    BIO_free(t->rbio);
    BIO_free(t->wbio);
    free(t);
    return WEFT_ENOMEM;
  }
  SSL_set_bio(t->ssl, t->rbio, t->wbio); /* the SSL owns both now */
  if (server) {
    SSL_set_accept_state(t->ssl);
  } else {
    SSL_set_connect_state(t->ssl);
    if (host && *host) {
      struct sockaddr_in6 a6;
      struct sockaddr_in a4;
      int is_ip = uv_ip4_addr(host, 0, &a4) == 0 || uv_ip6_addr(host, 0, &a6) == 0;
      if (is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host);
      } else {
        SSL_set_tlsext_host_name(t->ssl, host);
        SSL_set1_host(t->ssl, host);
      }
    }
  }
  *out = t;
  return 0;
}

void weft__tls_free(weft__tls *t) {
  if (!t) return;
  SSL_free(t->ssl);
  free(t);
}

int weft__tls_feed(weft__tls *t, const uint8_t *p, size_t n) {
  while (n > 0) {
    int chunk = n > 1 << 30 ? 1 << 30 : (int)n;
    int w = BIO_write(t->rbio, p, chunk);
    if (w <= 0) return WEFT_ENOMEM;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int fail(weft__tls *t, int rc) {
  long v = SSL_get_verify_result(t->ssl);
  if (v != X509_V_OK) {
    snprintf(t->err, sizeof(t->err), "certificate verify failed: %s",
             X509_verify_cert_error_string(v));
    ERR_clear_error();
  } else {
    ssl_errstr(t->err, sizeof(t->err), rc == SSL_ERROR_SSL ? "TLS failure" : "TLS I/O failure",
               NULL);
  }
  return WEFT_EPROTO;
}

int weft__tls_handshake(weft__tls *t) {
  if (SSL_is_init_finished(t->ssl)) return 1;
  int r = SSL_do_handshake(t->ssl);
  if (r == 1) return 1;
  int e = SSL_get_error(t->ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
  return fail(t, e);
}

long weft__tls_read(weft__tls *t, uint8_t *out, size_t cap) {
  int r = SSL_read(t->ssl, out, cap > 1 << 30 ? 1 << 30 : (int)cap);
  if (r > 0) return r;
  int e = SSL_get_error(t->ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
  if (e == SSL_ERROR_ZERO_RETURN) return WEFT_ECLOSED;
  return fail(t, e);
}

int weft__tls_write(weft__tls *t, const uint8_t *p, size_t n) {
  while (n > 0) {
    int chunk = n > 1 << 30 ? 1 << 30 : (int)n;
    int w = SSL_write(t->ssl, p, chunk);
    if (w <= 0) return fail(t, SSL_get_error(t->ssl, w));
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

size_t weft__tls_pending(weft__tls *t) { return BIO_ctrl_pending(t->wbio); }

void weft__tls_take(weft__tls *t, uint8_t *out, size_t n) {
  size_t got = 0;
  while (got < n) {
    int r = BIO_read(t->wbio, out + got, (int)(n - got > 1 << 30 ? 1 << 30 : n - got));
    if (r <= 0) break;
    got += (size_t)r;
  }
}

const char *weft__tls_error(const weft__tls *t) { return t ? t->err : ""; }
