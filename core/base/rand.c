#include "rand.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "weft/weft.h"

int weft__rand_bytes(weft__rand *r, uint8_t *out, size_t n) {
  while (n > 0) {
    if (r->avail == 0) {
      size_t got = 0;
      while (got < sizeof(r->pool)) {
        ssize_t k = getrandom(r->pool + got, sizeof(r->pool) - got, 0);
        if (k < 0) {
          if (errno == EINTR) continue;
          return WEFT_EIO;
        }
        got += (size_t)k;
      }
      r->avail = sizeof(r->pool);
    }
    size_t take = n < r->avail ? n : r->avail;
    memcpy(out, r->pool + sizeof(r->pool) - r->avail, take);
    /* Used bytes are wiped so an id never repeats from a stale pool. */
    memset(r->pool + sizeof(r->pool) - r->avail, 0, take);
    r->avail -= take;
    out += take;
    n -= take;
  }
  return 0;
}
