/*
 * The WebSocket upgrade and RFC 6455 framing, with no I/O: bytes in, events
 * and bytes out. The transport's connections (ws.c, listen.c, dial.c)
 * drive it; the fuzz targets feed it directly.
 */
#ifndef WEFT__WS_CODEC_H
#define WEFT__WS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/utf8.h"
#include "http/parse.h"

/* ---- Handshake ---------------------------------------------------------- */

/* Checks that `h` is a WebSocket upgrade request (GET, HTTP/1.1+, Upgrade:
 * websocket, Connection: upgrade, one 16-byte base64 Sec-WebSocket-Key) and
 * writes Sec-WebSocket-Accept (28 chars + NUL) when `accept` is not NULL
 * (NULL: the checks only, no hash). Returns 0; WEFT_EPROTO for a
 * bad request (answer 400); WEFT_EUNSUPPORTED for a Sec-WebSocket-Version
 * other than 13 (answer 426 with "Sec-WebSocket-Version: 13"). */
int weft__ws_check_upgrade(const weft__http_head *h, char accept[29]);
/* base64(SHA-1(key + the RFC 6455 GUID)), NUL-terminated. */
void weft__ws_accept_key(const char *key, char out[29]);
/* A fresh random Sec-WebSocket-Key (24 chars + NUL), for clients. */
int weft__ws_make_key(char out[25]);

/* ---- permessage-deflate (RFC 7692) ------------------------------------ */

/* Negotiated parameters. A server always answers with both
 * no_context_takeover flags, so one set of shared streams per window size
 * serves every connection and idle connections keep no zlib state. */
typedef struct weft__pmd_params {
  int enabled;
  int server_no_context_takeover;
  int client_no_context_takeover;
  int server_max_window_bits; /* 8..15; 15 when not given */
  int client_max_window_bits; /* 8..15; 15 when not given */
} weft__pmd_params;

/* Server side: picks the first acceptable offer in a Sec-WebSocket-Extensions
 * value (NULL: none). On acceptance p->enabled = 1, p->server_max_window_bits
 * is the window to compress with, and `resp` receives the response header
 * value. Offers it cannot honour (unknown parameters, bad values) are
 * skipped. Returns 0 (enabled or not), WEFT_EINVAL when resp is too small. */
int weft__pmd_negotiate(const char *offers, weft__pmd_params *p, char *resp, size_t cap);

/* Client side: the offer a client sends (it compresses every message
 * afresh, and accepts any window limit) … */
extern const char weft__pmd_offer[];
/* … and the server's answer to it (`value` NULL: none, not enabled). Returns
 * 0 (p->enabled tells), WEFT_EPROTO for an answer a client must fail the
 * connection for (another extension, more than one, unknown or repeated
 * parameters, bad values, client_max_window_bits without a value),
 * WEFT_EINVAL (p NULL). */
int weft__pmd_accept(const char *value, weft__pmd_params *p);

/* zlib streams: a compressor with a window of 2^bits bytes (8..15; 8 is
 * served by 9, see pmd.c) and no context kept, and an inflater with a 15-bit
 * window that keeps the peer's context between messages when `takeover`.
 * Both are set up on first use. Errors: WEFT_EINVAL (bits), WEFT_ENOMEM. */
typedef struct weft__pmd weft__pmd;
int weft__pmd_new(weft__pmd **out, int bits, int takeover);
void weft__pmd_free(weft__pmd *z);
/* The compressor's window bits (9..15). */
int weft__pmd_window(const weft__pmd *z);
/* Compresses one whole message (fresh context), appending to `out` without
 * the trailing 00 00 ff ff. Returns 0 or WEFT_ENOMEM/WEFT_EIO. */
int weft__pmd_deflate(weft__pmd *z, const uint8_t *p, size_t len, weft__buf *out);
/* Decompresses one whole message (a fresh context unless takeover),
 * appending to `out`. Returns 0; WEFT_ETOOBIG when the output would exceed
 * `max`; WEFT_EPROTO for corrupt data; WEFT_ENOMEM. After an error a
 * takeover inflater is unusable. */
int weft__pmd_inflate(weft__pmd *z, const uint8_t *p, size_t len, size_t max, weft__buf *out);

/* ---- Frames ------------------------------------------------------------- */

enum {
  WEFT__WS_CONT = 0x0,
  WEFT__WS_TEXT = 0x1,
  WEFT__WS_BINARY = 0x2,
  WEFT__WS_CLOSE = 0x8,
  WEFT__WS_PING = 0x9,
  WEFT__WS_PONG = 0xA
};

/* Close codes we send. */
enum {
  WEFT__CLOSE_NORMAL = 1000,
  WEFT__CLOSE_GOING_AWAY = 1001,
  WEFT__CLOSE_PROTOCOL = 1002,
  WEFT__CLOSE_NO_STATUS = 1005, /* reported when a close frame had no code */
  WEFT__CLOSE_ABNORMAL = 1006,  /* reported when no close frame came */
  WEFT__CLOSE_INVALID_DATA = 1007,
  WEFT__CLOSE_POLICY = 1008,
  WEFT__CLOSE_TOO_BIG = 1009,
  WEFT__CLOSE_INTERNAL = 1011
};

/* Writes a frame header into out (2..14 bytes) and returns its size. `mask`
 * is NULL for server frames, 4 bytes for client frames. */
size_t weft__ws_frame_header(uint8_t out[14], int opcode, int fin, int rsv1, uint64_t len,
                             const uint8_t *mask);
/* XORs p[0..len) with mask, starting at mask byte (offset % 4). Returns 1
 * when a byte of the result is >= 0x80, else 0: all-ASCII text needs no
 * UTF-8 check, and the unmasking pass finds that for one OR per load. */
int weft__ws_mask(uint8_t *p, size_t len, const uint8_t mask[4], size_t offset);
/* 1 when code may appear in a close frame on the wire (RFC 6455 7.4). */
int weft__ws_close_code_valid(int code);
/* Builds a close payload (code + reason truncated to fit 125 bytes on a
 * UTF-8 boundary) and returns its length; code 0 gives an empty payload. */
size_t weft__ws_close_payload(uint8_t out[125], int code, const char *reason);

/*
 * The reader: consumes frames from a byte stream, assembles fragmented
 * messages, validates (masking, opcodes, RSV bits, control frame rules,
 * continuation order, UTF-8 of text and close reasons, fail-fast on
 * fragments and on the bytes of a frame not complete yet), inflates
 * compressed messages, and reports events.
 *
 * Callbacks return 0 to go on, non-zero to stop feeding at once (the feed
 * then returns the bytes consumed up to and including that frame).
 * Message and control payloads are valid during the callback only; an
 * unfragmented, uncompressed message points into the caller's buffer
 * (unmasked in place), so the common case copies nothing.
 */
typedef struct weft__ws_reader_cbs {
  int (*message)(void *ctx, int binary, uint8_t *data, size_t len);
  int (*ping)(void *ctx, uint8_t *data, size_t len);
  int (*pong)(void *ctx, uint8_t *data, size_t len);
  /* code is WEFT__CLOSE_NO_STATUS when the frame carried none. */
  int (*close)(void *ctx, int code, const char *reason, size_t reason_len);
} weft__ws_reader_cbs;

/* A reader's buffers, made when first needed: most connections never see
 * a fragmented or compressed message. */
typedef struct weft__ws_rbufs {
  weft__buf msg;     /* fragments so far */
  weft__buf scratch; /* inflate output */
} weft__ws_rbufs;

typedef struct weft__ws_reader {
  weft__pmd *pmd; /* when allow_rsv1 */
  /* state */
  weft__ws_rbufs *bufs; /* NULL until a fragment or a compressed message */
  /* Largest message (after inflating): 32 bits, as every idle connection
   * carries it; a larger limit is taken as 4 GiB - 1. */
  uint32_t max_length;
  uint32_t pend_done; /* payload bytes of the pending text frame unmasked and checked
                       * (a frame past max_length fails first, so it fits) */
  /* Bytes needed to complete the pending frame, 0 unknown (a hint for the
   * caller's buffer: at most 4 GiB - 1). */
  uint32_t need;
  /* UTF-8 states (base/utf8.c's fit in a byte): the open message's, and the
   * pending text frame's after pend_done bytes. */
  uint8_t utf8_state;
  uint8_t pend_utf8;
  uint16_t close_code; /* set when feed fails: 1002, 1007 or 1009 */
  /* settings (bytes, not ints: every idle connection carries a reader) */
  uint8_t expect_masked; /* 1 on the server side */
  uint8_t allow_rsv1;    /* permessage-deflate negotiated */
  /* state */
  uint8_t in_message; /* a fragmented message is open */
  uint8_t msg_binary;
  uint8_t msg_compressed;
} weft__ws_reader;

void weft__ws_reader_init(weft__ws_reader *r, int expect_masked, uint64_t max_length);
void weft__ws_reader_free(weft__ws_reader *r);
/* Feeds buf[0..len) (modified in place). Returns the number of bytes
 * consumed: whole frames only; the caller keeps the rest as the call left it
 * (the part of a text frame that is there is unmasked and checked already)
 * and feeds it again with more bytes appended. A negative return is WEFT_EPROTO, WEFT_EUTF8 or
 * WEFT_ETOOBIG, with r->close_code telling what to close with; the stream is
 * then dead. */
long weft__ws_reader_feed(weft__ws_reader *r, uint8_t *buf, size_t len,
                          const weft__ws_reader_cbs *cbs, void *ctx);

#endif
