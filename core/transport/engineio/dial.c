/* The engine.io client (see eio.h). */
#include "eio.h"

int weft__eio_dial(const weft__dial_params *p, weft__conn **out) {
  (void)p;
  *out = NULL;
  return WEFT_EUNSUPPORTED;
}

void weft__eio_cancel(weft__conn *c, int orderly) { (void)c, (void)orderly; }
