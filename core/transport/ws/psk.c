/*
 * The pre-shared key on ws:// and wss:// (decision #26): the handshake of
 * tcp:// and ipc:// (fasttcp/psk.h, the same bytes) carried as binary
 * WebSocket messages right after the 101, which says "Weft-Psk: 1":
 *
 *   server -> client  "WEFTPSK1" | Ns                                   40 bytes
 *   client -> server  "WEFTPSK1" | Nc | HMAC(K, "weft-psk-1 client" | Ns | Nc)  72
 *   server -> client  0x00 | HMAC(K, "weft-psk-1 server" | Nc | Ns)     33 bytes
 *                  or 0x01 | u16 length (LE) | reason, then a close frame 1008
 *
 * Until the server's proof the connection stays new: the owner hears
 * `opened` only after it (no message of the peer reaches it before), and a
 * refused one only `refused` (client) or nothing but `closed` (server).
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/fasttcp/psk.h"
#include "ws.h"

enum { PSK_ANSWER = 1, PSK_CHALLENGE, PSK_VERDICT };

struct weft__ws_psk {
  uint8_t phase;
  uint8_t nonce[2 * WEFT__PSK_NONCE]; /* Ns | Nc */
  size_t klen;
  uint8_t key[WEFT__PSK_KEY_MAX];
  weft__rand rand;
};

int weft__ws_psk_new(weft__ws_conn *w, const uint8_t *key, size_t klen) {
  if (!klen || klen > WEFT__PSK_KEY_MAX) return WEFT_EINVAL;
  weft__ws_psk *k = calloc(1, sizeof(*k));
  if (!k) return WEFT_ENOMEM;
  memcpy(k->key, key, klen);
  k->klen = klen;
  k->phase = w->client ? PSK_CHALLENGE : PSK_ANSWER;
  w->psk = k;
  return 0;
}

void weft__ws_psk_free(weft__ws_conn *w) {
  if (!w->psk) return;
  OPENSSL_cleanse(w->psk, sizeof(*w->psk));
  free(w->psk);
  w->psk = NULL;
}

/* The server refuses: the verdict, a close frame, and the end. */
static void refuse(weft__ws_conn *w, const char *why) {
  uint8_t v[3 + 64];
  size_t n = weft__psk_refusal(why, v);
  weft__ws_psk_free(w);
  if (weft__ws_send_binary(w, v, n) != 0 || weft__ws_send_close(w, WEFT__CLOSE_POLICY, why) != 0) {
    weft__ws_abort(&w->base);
    return;
  }
  w->state = WEFT__WS_CLOSING; /* never open: the owner hears no closing */
  weft__ws_side_of(w)->linger(w);
}

/* The client is refused, or the server did not prove the key. */
static void refused(weft__ws_conn *w, const char *why) {
  weft__ws_psk_free(w);
  if (w->base.owner && w->base.ev->refused)
    w->base.ev->refused(&w->base, 401, (const uint8_t *)why, strlen(why));
  weft__ws_abort(&w->base);
}

/* Done: the owner hears `opened` now. */
static void proven(weft__ws_conn *w) {
  weft__ws_psk_free(w);
  if (!w->client) weft__ws_side_of(w)->deadline(w, 0);
  weft__ws_open(w);
}

int weft__ws_psk_begin(weft__ws_conn *w) {
  weft__ws_psk *k = w->psk;
  if (w->client) return 1; /* the challenge comes */
  uint8_t ch[WEFT__PSK_CHALLENGE];
  if (weft__psk_challenge(&k->rand, ch, k->nonce) != 0 ||
      weft__ws_send_binary(w, ch, sizeof(ch)) != 0) {
    weft__ws_abort(&w->base);
    return 1;
  }
  weft__ws_side_of(w)->deadline(w, WEFT__PSK_MS); /* a truncated handshake ends */
  return 1;
}

void weft__ws_psk_message(weft__ws_conn *w, int binary, const uint8_t *data, size_t len) {
  weft__ws_psk *k = w->psk;
  uint8_t *ns = k->nonce, *nc = k->nonce + WEFT__PSK_NONCE;
  if (k->phase == PSK_ANSWER) {
    uint8_t proof[WEFT__PSK_OK];
    if (!binary || len != WEFT__PSK_ANSWER ||
        weft__psk_check(k->key, k->klen, ns, data, proof) != 0) {
      refuse(w, "authentication failed");
      return;
    }
    if (weft__ws_send_binary(w, proof, sizeof(proof)) != 0) {
      weft__ws_abort(&w->base);
      return;
    }
    proven(w);
  } else if (k->phase == PSK_CHALLENGE) {
    uint8_t answer[WEFT__PSK_ANSWER];
    if (!binary || len != WEFT__PSK_CHALLENGE ||
        weft__psk_answer(&k->rand, k->key, k->klen, data, answer, nc) != 0) {
      refused(w, "not a pre-shared key challenge");
      return;
    }
    memcpy(ns, data + WEFT__PSK_MAGIC_LEN, WEFT__PSK_NONCE);
    if (weft__ws_send_binary(w, answer, sizeof(answer)) != 0) {
      weft__ws_abort(&w->base);
      return;
    }
    k->phase = PSK_VERDICT;
  } else if (binary && len >= 3 && data[0] == 1 && len == 3 + (data[1] | (size_t)data[2] << 8)) {
    char why[300];
    int n = len - 3 < 200 ? (int)(len - 3) : 200;
    snprintf(why, sizeof(why), "refused by the server: %.*s", n, (const char *)data + 3);
    refused(w, why);
  } else if (!binary || len != WEFT__PSK_OK || data[0] != 0 ||
             weft__psk_verify(k->key, k->klen, ns, nc, data + 1) != 0) {
    refused(w, "the server failed to prove the pre-shared key");
  } else {
    proven(w);
  }
}
