/* The PSK handshake's messages (psk.h): HMAC-SHA256, no I/O. */
#include "psk.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "weft/weft.h"

const uint8_t weft__psk_magic[WEFT__PSK_MAGIC_LEN] = {'W', 'E', 'F', 'T', 'P', 'S', 'K', '1'};

/* HMAC-SHA256(key, label | a | b). */
static int mac(const uint8_t *key, size_t klen, const char *label, const uint8_t *a,
               const uint8_t *b, uint8_t out[WEFT__PSK_MAC]) {
  uint8_t msg[32 + 2 * WEFT__PSK_NONCE];
  size_t l = strlen(label);
  memcpy(msg, label, l);
  memcpy(msg + l, a, WEFT__PSK_NONCE);
  memcpy(msg + l + WEFT__PSK_NONCE, b, WEFT__PSK_NONCE);
  unsigned int n = 0;
  if (!HMAC(EVP_sha256(), key, (int)klen, msg, l + 2 * WEFT__PSK_NONCE, out, &n) ||
      n != WEFT__PSK_MAC)
    return WEFT_EIO;
  return 0;
}

size_t weft__psk_refusal(const char *why, uint8_t out[3 + 64]) {
  size_t n = strlen(why) < 64 ? strlen(why) : 64;
  out[0] = 1;
  out[1] = (uint8_t)n;
  out[2] = 0;
  memcpy(out + 3, why, n);
  return 3 + n;
}

int weft__psk_challenge(weft__rand *r, uint8_t out[WEFT__PSK_CHALLENGE],
                        uint8_t ns[WEFT__PSK_NONCE]) {
  if (weft__rand_bytes(r, ns, WEFT__PSK_NONCE) != 0) return WEFT_EIO;
  memcpy(out, weft__psk_magic, WEFT__PSK_MAGIC_LEN);
  memcpy(out + WEFT__PSK_MAGIC_LEN, ns, WEFT__PSK_NONCE);
  return 0;
}

int weft__psk_answer(weft__rand *r, const uint8_t *key, size_t klen,
                     const uint8_t challenge[WEFT__PSK_CHALLENGE], uint8_t out[WEFT__PSK_ANSWER],
                     uint8_t nc[WEFT__PSK_NONCE]) {
  if (memcmp(challenge, weft__psk_magic, WEFT__PSK_MAGIC_LEN) != 0) return WEFT_EPROTO;
  if (weft__rand_bytes(r, nc, WEFT__PSK_NONCE) != 0) return WEFT_EIO;
  memcpy(out, weft__psk_magic, WEFT__PSK_MAGIC_LEN);
  memcpy(out + WEFT__PSK_MAGIC_LEN, nc, WEFT__PSK_NONCE);
  return mac(key, klen, "weft-psk-1 client", challenge + WEFT__PSK_MAGIC_LEN, nc,
             out + WEFT__PSK_MAGIC_LEN + WEFT__PSK_NONCE);
}

int weft__psk_check(const uint8_t *key, size_t klen, const uint8_t ns[WEFT__PSK_NONCE],
                    const uint8_t answer[WEFT__PSK_ANSWER], uint8_t proof[WEFT__PSK_OK]) {
  if (memcmp(answer, weft__psk_magic, WEFT__PSK_MAGIC_LEN) != 0) return WEFT_EPROTO;
  const uint8_t *nc = answer + WEFT__PSK_MAGIC_LEN;
  uint8_t want[WEFT__PSK_MAC];
  if (mac(key, klen, "weft-psk-1 client", ns, nc, want) != 0) return WEFT_EIO;
  if (CRYPTO_memcmp(want, nc + WEFT__PSK_NONCE, WEFT__PSK_MAC) != 0) return WEFT_EUNAUTHORIZED;
  proof[0] = 0;
  return mac(key, klen, "weft-psk-1 server", nc, ns, proof + 1);
}

int weft__psk_verify(const uint8_t *key, size_t klen, const uint8_t ns[WEFT__PSK_NONCE],
                     const uint8_t nc[WEFT__PSK_NONCE], const uint8_t *m) {
  uint8_t want[WEFT__PSK_MAC];
  if (mac(key, klen, "weft-psk-1 server", nc, ns, want) != 0) return WEFT_EIO;
  return CRYPTO_memcmp(want, m, WEFT__PSK_MAC) == 0 ? 0 : WEFT_EUNAUTHORIZED;
}
