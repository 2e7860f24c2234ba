/* SHA-1 (FIPS 180-4), for the WebSocket opening handshake's accept key
 * only (RFC 6455 4.2.2): a 60-byte input, hashed once per connection. A
 * library call through OpenSSL's EVP fetches the algorithm by name on every
 * use: ~6,200 instructions a key against ~3,400 here (two blocks). Not for
 * anything that needs collision resistance. */
#ifndef WEFT__SHA1_H
#define WEFT__SHA1_H

#include <stddef.h>
#include <stdint.h>

/* The digest of data[0..len) into out[0..20). No allocation, no failure. */
void weft__sha1(const void *data, size_t len, uint8_t out[20]);

#endif
