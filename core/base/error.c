#include "weft/weft.h"

#define WEFT__ERR_NAME(name, msg) "E" #name,
#define WEFT__ERR_MSG(name, msg) msg,
static const char *const err_names[] = {WEFT_ERRNO_MAP(WEFT__ERR_NAME)};
static const char *const err_msgs[] = {WEFT_ERRNO_MAP(WEFT__ERR_MSG)};

static int err_index(int code) {
  if (code <= WEFT__ERRNO_BASE || code >= WEFT__ERRNO_END) return -1;
  return code - WEFT__ERRNO_BASE - 1;
}

const char *weft_err_name(int code) {
  int i = err_index(code);
  return i < 0 ? "UNKNOWN" : err_names[i];
}

const char *weft_strerror(int code) {
  int i = err_index(code);
  return i < 0 ? "unknown error" : err_msgs[i];
}

unsigned weft_version(void) { return WEFT_VERSION_NUMBER; }
const char *weft_version_string(void) { return WEFT_VERSION_STRING; }
