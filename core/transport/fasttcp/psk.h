/*
 * Pre-shared key authentication on tcp:// and ipc:// (weft's own wire:
 * fast-tcp has none; docs/fasttcp.md). Before any fast-tcp frame:
 *
 *   server -> client  "WEFTPSK1" | Ns (32 random bytes)                  40 bytes
 *   client -> server  "WEFTPSK1" | Nc (32 random bytes)
 *                     | HMAC-SHA256(K, "weft-psk-1 client" | Ns | Nc)     72 bytes
 *   server -> client  0x00 | HMAC-SHA256(K, "weft-psk-1 server" | Nc | Ns) 33 bytes
 *                  or 0x01 | u16 length (LE) | reason (UTF-8), then close
 *
 * then fast-tcp as usual (the server's MT_REGISTER first). MACs are compared
 * in constant time. A fresh Ns per connection makes a replayed answer
 * fail; the server's MAC proves the key to the client too.
 */
#ifndef WEFT__FT_PSK_H
#define WEFT__FT_PSK_H

#include <stddef.h>
#include <stdint.h>

#include "base/rand.h"

enum {
  WEFT__PSK_MAGIC_LEN = 8,
  WEFT__PSK_NONCE = 32,
  WEFT__PSK_MAC = 32,
  WEFT__PSK_CHALLENGE = 40,
  WEFT__PSK_ANSWER = 72,
  WEFT__PSK_OK = 33,
  WEFT__PSK_KEY_MAX = 256,
  WEFT__PSK_MS = 3000 /* the whole handshake, at most */
};

extern const uint8_t weft__psk_magic[WEFT__PSK_MAGIC_LEN];

/* The server's refusal, 0x01 | u16 length (LE) | reason (cut at 64 bytes),
 * into out; returns its length. */
size_t weft__psk_refusal(const char *why, uint8_t out[3 + 64]);

/* The server's challenge into out; its nonce into ns. 0 or WEFT_EIO. */
int weft__psk_challenge(weft__rand *r, uint8_t out[WEFT__PSK_CHALLENGE],
                        uint8_t ns[WEFT__PSK_NONCE]);
/* The client's answer to a challenge: 0; WEFT_EPROTO (not a challenge);
 * WEFT_EIO. nc gets the client's nonce. */
int weft__psk_answer(weft__rand *r, const uint8_t *key, size_t klen,
                     const uint8_t challenge[WEFT__PSK_CHALLENGE], uint8_t out[WEFT__PSK_ANSWER],
                     uint8_t nc[WEFT__PSK_NONCE]);
/* Checks an answer to the challenge of nonce ns: 0 and the server's proof
 * in proof (0x00 | MAC, WEFT__PSK_OK bytes); WEFT_EPROTO (not an answer);
 * WEFT_EUNAUTHORIZED (a wrong MAC). */
int weft__psk_check(const uint8_t *key, size_t klen, const uint8_t ns[WEFT__PSK_NONCE],
                    const uint8_t answer[WEFT__PSK_ANSWER], uint8_t proof[WEFT__PSK_OK]);
/* Checks the server's proof (WEFT__PSK_MAC bytes after the 0x00): 0 or
 * WEFT_EUNAUTHORIZED. */
int weft__psk_verify(const uint8_t *key, size_t klen, const uint8_t ns[WEFT__PSK_NONCE],
                     const uint8_t nc[WEFT__PSK_NONCE], const uint8_t *mac);

#endif
