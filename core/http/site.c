/*
 * A site's policy and the routing of one request: static content, the
 * endpoint's path, allowed origins, CORS and preflights, the query, the
 * peer's address behind a trusted proxy, the owner's routes, and last the
 * framing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/common.h"
#include "heads.h"
#include "server.h"

/* ---- the site ---- */

static int add_string(char ***list, size_t *n, const char *v) {
  char *d = weft__strdup(v);
  if (!d) return WEFT_ENOMEM;
  char **l = realloc(*list, (*n + 1) * sizeof(*l));
  if (!l) {
    free(d);
    return WEFT_ENOMEM;
  }
  l[(*n)++] = d;
  *list = l;
  return 0;
}

static void free_strings(char **list, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(list[i]);
  free(list);
}

int weft__http_site_add_origin(weft__http_site *site, const char *origin) {
  if (!origin || !*origin) return WEFT_EINVAL;
  return add_string(&site->origins, &site->n_origins, origin);
}

int weft__http_site_add_proxy(weft__http_site *site, const char *ip) {
  struct sockaddr_storage ss;
  if (!ip || weft__sockaddr(ip, 0, &ss) != 0) return WEFT_EINVAL;
  return add_string(&site->proxies, &site->n_proxies, ip);
}

void weft__http_site_free(weft__http_site *site) {
  free(site->page_path);
  site->page_path = NULL;
  weft__http_static_free(site);
  weft__map_free(&site->per_ip); /* empty: every connection released its count */
  free_strings(site->origins, site->n_origins);
  free_strings(site->proxies, site->n_proxies);
  site->origins = site->proxies = NULL;
  site->n_origins = site->n_proxies = 0;
}

static int origin_allowed(const weft__http_site *site, const char *origin) {
  if (!origin || site->n_origins == 0) return 1;
  for (size_t i = 0; i < site->n_origins; i++)
    if (strcmp(site->origins[i], "*") == 0 || weft__strcaseeq(site->origins[i], origin)) return 1;
  return 0;
}

size_t weft__http_cors(const weft__http_conn *hc, char *out, size_t cap) {
  static const char a[] = "Access-Control-Allow-Origin: ",
                    b[] = "\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\n";
  const char *origin = hc->req.head.storage ? weft__http_get(&hc->req.head, "Origin") : NULL;
  size_t n = origin ? strlen(origin) : 0;
  out[0] = '\0';
  /* Copied, not printed: a browser's long polls carry an Origin each. */
  if (!origin || n >= 300 || sizeof(a) - 1 + n + sizeof(b) > cap ||
      !origin_allowed(hc->ep->site, origin))
    return 0;
  memcpy(out, a, sizeof(a) - 1);
  memcpy(out + sizeof(a) - 1, origin, n);
  memcpy(out + sizeof(a) - 1 + n, b, sizeof(b)); /* with its NUL */
  return sizeof(a) - 1 + n + sizeof(b) - 1;
}

/* ---- what the request says about its peer ---- */

const char *weft__http_req_query(const weft__http_req *r, const char *key) {
  for (size_t i = r->n_query; i-- > 0;)
    if (strcmp(r->query[2 * i], key) == 0) return r->query[2 * i + 1];
  return NULL;
}

void weft__http_req_free(weft__http_req *r) {
  weft__http_req_unshare(r);
  weft__http_head_free(&r->head);
  free(r->query);
  r->query = NULL;
  r->n_query = 0;
  weft__http_req_set_address(r, "");
}

int weft__http_req_set_address(weft__http_req *r, const char *text) {
  size_t n = strlen(text);
  char *heap = NULL;
  if (n >= WEFT__ADDR_IN) {
    heap = malloc(n + 1);
    if (!heap) return WEFT_ENOMEM;
    memcpy(heap, text, n + 1);
  }
  if (!r->addr.in[0]) free(r->addr.out.heap);
  memset(&r->addr, 0, sizeof(r->addr));
  if (heap)
    r->addr.out.heap = heap;
  else
    memcpy(r->addr.in, text, n + 1);
  return 0;
}

int weft__http_req_peer(weft__http_req *r, weft__stream *s) {
  char text[64];
  weft__stream_peer(s, text, sizeof(text), &r->port);
  return weft__http_req_set_address(r, text);
}

int weft__http_req_peer_accepted(weft__http_req *r, weft__stream *s, const weft__acceptor *a) {
  char text[64];
  if (weft__acceptor_peer(a, text, sizeof(text), &r->port) != 0) return weft__http_req_peer(r, s);
  return weft__http_req_set_address(r, text);
}

/* Splits and decodes the query string into key/value pairs kept in one
 * allocation: the pointer array followed by the strings. */
static int parse_query(weft__http_req *r) {
  const char *q = weft__http_query(&r->head);
  if (!q || !*q || r->query) return 0;
  size_t n = 1, qlen = strlen(q);
  const char *end = q + qlen;
  for (const char *p = q; (p = memchr(p, '&', (size_t)(end - p))) != NULL; p++)
    n++;
  char **arr = malloc(2 * n * sizeof(char *) + 2 * (qlen + n));
  if (!arr) return WEFT_ENOMEM;
  char *out = (char *)(arr + 2 * n);
  size_t k = 0;
  if (!memchr(q, '%', qlen) && !memchr(q, '+', qlen)) {
    /* Nothing to decode (the usual query): one copy, cut in place. */
    memcpy(out, q, qlen + 1);
    for (char *p = out, *e = out + qlen; p < e; p++) {
      if (*p == '&') continue; /* an empty part */
      char *amp = memchr(p, '&', (size_t)(e - p));
      if (!amp) amp = e; /* the NUL */
      *amp = '\0';
      char *eq = memchr(p, '=', (size_t)(amp - p));
      arr[2 * k] = p;
      arr[2 * k + 1] = eq ? eq + 1 : amp; /* no '=': the value is "" */
      if (eq) *eq = '\0';
      k++;
      p = amp;
    }
    r->query = arr;
    r->n_query = (uint16_t)k;
    return 0;
  }
  /* Something to decode: part by part, as weft__url_decode does it. */
  for (const char *p = q; p < end; p++) {
    if (*p == '&') continue; /* an empty part */
    const char *amp = memchr(p, '&', (size_t)(end - p));
    if (!amp) amp = end;
    const char *eq = memchr(p, '=', (size_t)(amp - p));
    const char *kend = eq ? eq : amp, *v = eq ? eq + 1 : amp;
    arr[2 * k] = out;
    out += weft__url_decode(out, p, (size_t)(kend - p)) + 1;
    arr[2 * k + 1] = out;
    out += weft__url_decode(out, v, (size_t)(amp - v)) + 1;
    k++;
    p = amp;
  }
  r->query = arr;
  r->n_query = (uint16_t)k;
  return 0;
}

static int is_trusted(const weft__http_site *site, const char *ip) {
  for (size_t i = 0; i < site->n_proxies; i++)
    if (strcmp(site->proxies[i], ip) == 0) return 1;
  return 0;
}

/* Behind a trusted proxy the client is the leftmost X-Forwarded-For entry. */
static void forwarded_address(weft__http_conn *hc) {
  weft__http_req *r = &hc->req;
  if (!is_trusted(hc->ep->site, weft__http_req_address(r))) return;
  const char *xff = weft__http_get(&r->head, "X-Forwarded-For");
  if (!xff) return;
  while (*xff == ' ')
    xff++;
  size_t len = strcspn(xff, ", ");
  char ip[48]; /* IPv6 needs 46 */
  if (len == 0 || len >= sizeof(ip)) return;
  memcpy(ip, xff, len);
  ip[len] = '\0';
  struct sockaddr_storage ss;
  if (weft__sockaddr(ip, 0, &ss) != 0) return;        /* not an address: ignore */
  if (weft__http_req_set_address(r, ip) != 0) return; /* the socket's, then */
  hc->forwarded = 1;
  const char *xfp = weft__http_get(&r->head, "X-Forwarded-Port");
  if (xfp) {
    int port = atoi(xfp);
    if (port > 0 && port < 65536) r->port = port;
  }
}

int weft__http_header_has(const weft__http_head *h, const char *name, const char *token) {
  const char *v = weft__http_get(h, name);
  return v && weft__http_has_token(v, token);
}

/* ---- routing ---- */

static void respond_preflight(weft__http_conn *hc) {
  const char *req_headers = weft__http_get(&hc->req.head, "Access-Control-Request-Headers");
  char extra[512];
  snprintf(extra, sizeof(extra),
           "Access-Control-Allow-Methods: GET, HEAD, PUT, POST, DELETE, OPTIONS\r\n"
           "Access-Control-Max-Age: 2592000\r\n%s%.300s%s",
           req_headers ? "Access-Control-Allow-Headers: " : "", req_headers ? req_headers : "",
           req_headers ? "\r\n" : "");
  weft__http_respond(hc, 200, "text/plain", "", 0, extra);
}

void weft__http_route(weft__http_conn *hc) {
  weft__http_endpoint *ep = hc->ep;
  weft__http_site *site = ep->site;
  const weft__http_head *h = &hc->req.head;
  if (ep->stopping) {
    weft__http_respond_status(hc, 503, NULL);
    return;
  }
  /* RFC 9112 3.2: an HTTP/1.1 request without Host, or any with more than
   * one, is answered 400. */
  size_t hosts = weft__http_count(h, "Host");
  if (hosts > 1 || (hosts == 0 && h->version_minor >= 1)) {
    weft__http_respond_status(hc, 400, NULL);
    return;
  }
  int upgrade = weft__http_header_has(h, "Upgrade", "websocket");
  if (!upgrade && site->page_path && strcmp(weft__http_path(h), site->page_path) == 0) {
    if (strcmp(weft__http_method(h), "GET") == 0 || strcmp(weft__http_method(h), "HEAD") == 0)
      site->page(hc, site->page_user);
    else
      weft__http_respond_status(hc, 405, "Allow: GET, HEAD\r\n");
    return;
  }
  if (!upgrade && weft__http_static_asset(hc)) return;
  /* Upgrades go to any path that starts with the pathname (as Primus's
   * do); the folder serves what is not the pathname or below it. */
  int under = strncmp(weft__http_path(h), ep->path, ep->plen) == 0;
  char after = weft__http_path(h)[under ? ep->plen : 0];
  int inside = under && (ep->plen == 0 || after == '/' || after == '\0');
  if (!upgrade && !inside && weft__http_static_file(hc)) return;
  if (!under) {
    weft__http_respond_status(hc, 404, NULL);
    return;
  }
  if (!origin_allowed(site, weft__http_get(h, "Origin"))) {
    weft__http_respond_status(hc, 403, NULL);
    return;
  }
  if (!upgrade) {
    if (strcmp(weft__http_method(h), "OPTIONS") == 0) {
      respond_preflight(hc);
      return;
    }
    if (site->route && site->route(hc, weft__http_path(h) + ep->plen, site->route_user)) return;
    /* A server at "/" shares every path with the static folder. */
    if (ep->plen == 0 && weft__http_static_file(hc)) return;
  }
  if (parse_query(&hc->req) != 0) {
    weft__http_respond_status(hc, 500, NULL);
    return;
  }
  forwarded_address(hc);
  weft__http_dispatch(hc);
}

/* ---- connection limits ---- */

struct weft__ip_count {
  char ip[48];
  size_t n;
  struct weft__ip_count *next; /* same hash */
};

void weft__http_site_cap(weft__http_site *site) {
  struct rlimit rl;
  site->conn_cap = site->max_conns;
  if (site->max_conns || getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return;
  size_t fds = (size_t)rl.rlim_cur;
  site->conn_cap = fds > 128 ? fds - 64 : fds / 2;
}

static struct weft__ip_count *ip_count(weft__http_site *site, const char *ip, int create) {
  uint64_t h = weft__map_hash(ip, strlen(ip));
  struct weft__ip_count *head = weft__map_get(&site->per_ip, h);
  for (struct weft__ip_count *c = head; c; c = c->next)
    if (strcmp(c->ip, ip) == 0) return c;
  if (!create) return NULL;
  struct weft__ip_count *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  snprintf(c->ip, sizeof(c->ip), "%s", ip);
  c->next = head;
  if (weft__map_put(&site->per_ip, h, c) != 0) {
    free(c);
    return NULL;
  }
  return c;
}

static void ip_release(weft__http_site *site, struct weft__ip_count *c) {
  if (--c->n) return;
  uint64_t h = weft__map_hash(c->ip, strlen(c->ip));
  struct weft__ip_count *head = weft__map_get(&site->per_ip, h), **pp = &head;
  while (*pp != c)
    pp = &(*pp)->next;
  *pp = c->next;
  if (head)
    weft__map_put(&site->per_ip, h, head); /* replacing never grows */
  else
    weft__map_del(&site->per_ip, h);
  free(c);
}

int weft__http_site_admit(weft__http_site *site, weft__http_conn *hc) {
  site->n_conns++;
  site->n_handshakes++;
  hc->handshaking = 1;
  if (site->conn_cap && site->n_conns > site->conn_cap) return 503;
  if (site->max_handshakes && site->n_handshakes > site->max_handshakes) return 503;
  const char *ip = weft__http_req_address(&hc->req);
  if (!site->max_per_ip || !ip[0]) return 0; /* a Unix socket's peer has no address */
  struct weft__ip_count *c = ip_count(site, ip, 1);
  if (!c) return 503;
  if (c->n >= site->max_per_ip) return 429; /* others hold it: c->n >= 1 */
  c->n++;
  hc->ipc = c;
  return 0;
}

void weft__http_site_handshake_done(weft__http_site *site, weft__http_conn *hc) {
  if (!hc->handshaking) return;
  hc->handshaking = 0;
  site->n_handshakes--;
}

void weft__http_site_release(weft__http_site *site, weft__http_conn *hc) {
  weft__http_site_handshake_done(site, hc);
  site->n_conns--;
  if (hc->ipc) ip_release(site, hc->ipc);
  hc->ipc = NULL;
}
