/*
 * fast-tcp 3.3.2's wire (npm fast-tcp, lib/Serializer.js and lib/Reader.js),
 * with no I/O: bytes in, messages out, and messages to bytes. The
 * transport's connections drive it; the fuzz target feeds it directly.
 *
 * A frame, all integers little-endian:
 *
 *   u32 length (of what follows) | u8 version (1) | u8 flags (0)
 *   | u8 data type | u8 message type | u32 message id
 *   | u16 event length | event (UTF-8) | u32 data length | data
 *
 * Data types: string (UTF-8), binary, integer (signed, 6 bytes as written;
 * 1..6 accepted as Node's readIntLE does), double (8 bytes), object (bytes of
 * the object serializer, JSON by default), boolean (1 byte, nonzero is
 * true), empty (no bytes). Message types: see WEFT__FT_MT_*. Routed
 * messages from a client carry "a,b|event" in the event (rooms or socket
 * ids, then the event name); join/leave carry "a,b" as string data.
 */
#ifndef WEFT__FT_CODEC_H
#define WEFT__FT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

enum {
  WEFT__FT_VERSION = 1,
  WEFT__FT_PREFIX = 4, /* the length in front */
  WEFT__FT_FIXED = 14, /* version .. event length, and the data length */
  WEFT__FT_EVENT_MAX = 65535
};

enum {
  WEFT__FT_DT_STRING = 1,
  WEFT__FT_DT_BINARY = 2,
  WEFT__FT_DT_INTEGER = 3,
  WEFT__FT_DT_DECIMAL = 4,
  WEFT__FT_DT_OBJECT = 5,
  WEFT__FT_DT_BOOLEAN = 6,
  WEFT__FT_DT_EMPTY = 7
};

enum {
  WEFT__FT_MT_ERROR = 0,
  WEFT__FT_MT_REGISTER = 1,
  WEFT__FT_MT_DATA = 2,
  WEFT__FT_MT_DATA_TO_SOCKET = 3,
  WEFT__FT_MT_DATA_TO_ROOM = 4,
  WEFT__FT_MT_DATA_BROADCAST = 5,
  WEFT__FT_MT_DATA_WITH_ACK = 6,
  WEFT__FT_MT_ACK = 7,
  WEFT__FT_MT_JOIN_ROOM = 8,
  WEFT__FT_MT_LEAVE_ROOM = 9,
  WEFT__FT_MT_LEAVE_ALL_ROOMS = 10,
  WEFT__FT_MT_STREAM_OPEN = 11,
  WEFT__FT_MT_STREAM = 12,
  WEFT__FT_MT_STREAM_CLOSE = 13,
  WEFT__FT_MT_STREAM_OPEN_WITH_ACK = 14,
  WEFT__FT_MT_STREAM_OPEN_TO_SOCKET = 15,
  WEFT__FT_MT_STREAM_OPEN_TO_ROOM = 16,
  WEFT__FT_MT_STREAM_OPEN_BROADCAST = 17,
  WEFT__FT_MT_LAST = 17
};

/* The integers fast-tcp writes: 6 bytes, signed. */
#define WEFT__FT_INT_MAX ((INT64_C(1) << 47) - 1)
#define WEFT__FT_INT_MIN (-(INT64_C(1) << 47))

/* One message. Parsed: event and data point into the bytes parsed (valid
 * while they are); the scalar of an integer, double or boolean is decoded
 * too. To write: event and data (string, binary, object) are read; an
 * integer, double or boolean is written from i, d or b. */
typedef struct weft__ft_msg {
  uint8_t flags, dt, mt;
  uint32_t id;
  const char *event;
  size_t event_len;
  const uint8_t *data;
  size_t data_len;
  int64_t i; /* integer */
  double d;  /* double */
  int b;     /* boolean: 0 or 1 */
  /* Object data's encoding (the owner's parser; NULL: JSON), set by the
   * mapping, not by the codec. */
  const struct weft__parser_ops *objects;
} weft__ft_msg;

/* Parses the frame at the start of buf[0..len), whose whole size (prefix
 * included) may be at most `max` bytes. Returns:
 *   > 0  the frame's size; *m is set;
 *   0    more bytes are needed: *need (when not NULL) gets the size the
 *        frame will have once its length is known, else 4;
 *   WEFT_ETOOBIG  the length announced passes `max` (known from the first
 *        4 bytes: nothing more is buffered);
 *   WEFT_EPROTO   a malformed frame: shorter than its fixed part, event or
 *        data lengths that do not add up to it exactly, a version other
 *        than 1, an unknown data or message type, a scalar of the wrong
 *        size (integer 1..6 bytes, double 8, boolean 1, empty 0);
 *   WEFT_EUTF8    an event name or a string that is not UTF-8;
 *   WEFT_EINVAL   buf, m NULL.
 * *why (when not NULL) gets a static sentence for an error, for the
 * MT_ERROR sent before closing. */
long weft__ft_parse(const uint8_t *buf, size_t len, size_t max, weft__ft_msg *m, size_t *need,
                    const char **why);

/* The size of m's frame, prefix included (0 when too large to frame:
 * event over 65535 bytes, or the frame over 2^32 - 1). */
size_t weft__ft_frame_size(const weft__ft_msg *m);

/* Appends m's frame to `out`. Returns 0; WEFT_EINVAL (m, out NULL, an
 * unknown data type, data NULL with data_len > 0); WEFT_ERANGE (an integer
 * outside WEFT__FT_INT_MIN..MAX); WEFT_ETOOBIG (see frame_size);
 * WEFT_ENOMEM. Nothing is appended on error. */
int weft__ft_write(weft__buf *out, const weft__ft_msg *m);

/* The message types that open a stream (its id names it). */
static inline int weft__ft_mt_opens_stream(int mt) {
  return mt == WEFT__FT_MT_STREAM_OPEN ||
         (mt >= WEFT__FT_MT_STREAM_OPEN_WITH_ACK && mt <= WEFT__FT_MT_STREAM_OPEN_BROADCAST);
}

#endif
