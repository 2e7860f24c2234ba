/*
 * Options by name, and messages to a selection of sparks: the policy every
 * host front end shares, kept here once so the hosts only translate.
 *
 * Options. Each server and client option is described by a row of a table
 * (name, type, default, range, what a value must be, one line of docs);
 * hosts read the table to build their option objects, their type
 * declarations and their docs, and set every option through one call with
 * a weft_value. Names are snake_case ("ping_interval"); a host spells them
 * its own way (Node: pingInterval) by a mechanical rule. Hosts apply the
 * options a user gave in the table's order (extensions before their
 * tunings: "channels" before "channel_window").
 *
 * Recipients. weft_server_send() and weft_server_send_event() write one
 * message to every open spark, to the members of rooms, to sparks by id, or
 * to any of those except some ids — encoded once, each spark reached once.
 */
#ifndef WEFT_OPTIONS_H
#define WEFT_OPTIONS_H

#include "weft/weft.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Options by name                                                          */
/* ------------------------------------------------------------------------ */

/* What a value must be (the weft_value type the setter takes). */
enum {
  WEFT_OPT_BOOL = 1, /* WEFT_BOOL */
  WEFT_OPT_UINT,     /* WEFT_INT (or a float with no fraction) in [min, max] */
  WEFT_OPT_NUMBER,   /* WEFT_INT or WEFT_FLOAT, finite, in [min, max] */
  WEFT_OPT_STRING,   /* WEFT_STRING */
  WEFT_OPT_ENUM,     /* WEFT_STRING, one of `choices` */
  WEFT_OPT_STRINGS,  /* WEFT_ARRAY of WEFT_STRING */
  WEFT_OPT_HEADERS   /* WEFT_MAP of WEFT_STRING to WEFT_STRING */
};

/* Flags of an option. */
enum {
  WEFT_OPT_FIXED = 1, /* only before the server listens / the client opens */
  WEFT_OPT_EXT = 2    /* an extension (emitter, rooms, channels) or its tuning */
};

/* One option. Every string is static; `choices` is "|"-separated (NULL
 * when the choices are not fixed, as transformer names: see
 * weft_transformer_at). `def` is the default as JSON text ("30000",
 * "false", "\"json\"", "[]", "null" for none). `expects` says what a value
 * must be in words, for error messages ("a whole number of ms from 0 to
 * 4294967295"); `unit` is "ms", "bytes", "messages" or NULL. */
typedef struct weft_option {
  const char *name;
  int type; /* WEFT_OPT_* */
  int flags;
  const char *def;
  const char *choices;
  double min, max; /* WEFT_OPT_UINT, WEFT_OPT_NUMBER */
  const char *unit;
  const char *expects;
  const char *doc;
} weft_option;

/* The i-th server or client option, or NULL past the last. */
WEFT_EXTERN const weft_option *weft_server_option_at(size_t i);
WEFT_EXTERN const weft_option *weft_client_option_at(size_t i);
/* The option named `name`, or NULL. */
WEFT_EXTERN const weft_option *weft_server_option(const char *name);
WEFT_EXTERN const weft_option *weft_client_option(const char *name);

/* Sets one option (the value is borrowed; strings are copied).
 * Errors: WEFT_EINVAL (NULL handle or name; a value the setter refuses, as
 * a path that does not exist), WEFT_ENOENT (no such option), WEFT_ETYPE
 * (the value has another type than the option's), WEFT_ERANGE (a number
 * out of [min, max], a name not among `choices`), WEFT_EUNSUPPORTED (a
 * transformer or parser this build does not have), WEFT_ESTATE (a FIXED
 * option after listen/open; a tuning of an extension that is not on; an
 * extension turned off once on), WEFT_ECLOSED, WEFT_ENOMEM. */
WEFT_EXTERN int weft_server_set_option(weft_server *server, const char *name,
                                       const weft_value *value);
WEFT_EXTERN int weft_client_set_option(weft_client *client, const char *name,
                                       const weft_value *value);

/* ------------------------------------------------------------------------ */
/* Recipients                                                               */
/* ------------------------------------------------------------------------ */

/* Who gets a message. All lists are borrowed for the call; NULL/0 for
 * none. With neither rooms nor ids: every open spark. With rooms, ids or
 * both: the sparks in at least one of the rooms, and the sparks named by
 * id (ids that name no open spark are skipped). Either way, minus the
 * sparks whose id is in `except`. Rooms need the rooms extension on. */
typedef struct weft_recipients {
  size_t size; /* sizeof(weft_recipients) */
  const char *const *rooms;
  size_t n_rooms;
  const char *const *ids;
  size_t n_ids;
  const char *const *except;
  size_t n_except;
} weft_recipients;

/* Writes `msg` (outgoing transforms run per spark, as weft_spark_write) to
 * the recipients (NULL: every open spark), encoding it once. Returns the
 * number of sparks it was queued on (a spark whose queue is full is not
 * counted and gets its own error event, as with weft_server_write), or
 * WEFT_EINVAL (NULL server or msg, a bad size, NULL lists with n > 0, an
 * invalid room name), WEFT_ESTATE (not listening; rooms named without the
 * rooms extension), WEFT_ENOMEM, or an encoding error. */
WEFT_EXTERN int weft_server_send(weft_server *server, const weft_recipients *to,
                                 const weft_value *msg);
/* The same for an emitted event (no answers; needs the emitter on: else
 * WEFT_ESTATE). */
WEFT_EXTERN int weft_server_send_event(weft_server *server, const weft_recipients *to,
                                       const char *event, const weft_value *args);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_OPTIONS_H */
