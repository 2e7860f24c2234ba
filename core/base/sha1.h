/* SHA-1 (FIPS 180-4), for the WebSocket opening handshake's accept key
 * only (RFC 6455 4.2.2): a 60-byte input, hashed once per connection. A
 * library call through OpenSSL's EVP fetches the algorithm by name on every
 * use: ~6,200 instructions a key against ~3,400 here (two blocks), and
 * ~105 ns a key with the CPU's SHA extensions (~720 ns without). Not for
 * anything that needs collision resistance. */
#ifndef WEFT__SHA1_H
#define WEFT__SHA1_H

#include <stddef.h>
#include <stdint.h>

/* The digest of data[0..len) into out[0..20). No allocation, no failure.
 * Uses the CPU's SHA extensions where it has them (x86-64, GCC builds). */
void weft__sha1(const void *data, size_t len, uint8_t out[20]);

/* The compressions weft__sha1 chooses between. */
enum { WEFT__SHA1_PORTABLE = 0, WEFT__SHA1_CPU = 1 };

/* weft__sha1 with the compression asked for (the tests check both):
 * WEFT__SHA1_CPU falls back to the portable one where the CPU or the
 * compiler has no SHA extensions. Returns the one that ran. */
int weft__sha1_using(int how, const void *data, size_t len, uint8_t out[20]);

#endif
