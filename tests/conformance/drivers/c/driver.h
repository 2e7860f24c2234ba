/*
 * The conformance driver of the C host (tests/conformance/README.md): weft
 * servers and clients through the public headers (include/weft/) only, controlled by JSON
 * lines on stdin and reporting JSON lines on stdout. Every event comes from
 * a callback of the public API.
 *
 * Files: main.c (the loop, stdin, replies), wire.c (protocol values <->
 * weft values, JSON lines out), server.c (servers and sparks), client.c
 * (clients), ext.c (events with acks, rooms, channels), menu.c (the fixed
 * menu of transforms and plugins).
 */
#ifndef CONF_DRIVER_H
#define CONF_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "weft/ext.h"

/* A command's failure: its code name ("EINVAL", or the driver's own
 * "ECAP": the host cannot do it) and a message. */
typedef struct conf_err {
  char code[32];
  char message[256];
} conf_err;

/* Sets *e from a weft code and a context; returns -1. */
int conf_fail(conf_err *e, int rc, const char *what);
/* Sets *e to a code of the driver's own; returns -1. */
int conf_failx(conf_err *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- wire.c ---- */
/* Protocol JSON (decoded by weft's json parser) -> an owned weft value with
 * the tags ($int, $float, $bin, $map) resolved; NULL on malformed tags. */
weft_value *conf_from_wire(const weft_value *w);
/* A weft value -> an owned protocol value (tags where JSON cannot say it). */
weft_value *conf_to_wire(const weft_value *v);
/* Field access on a command (a map with string keys); NULL when absent. */
const weft_value *conf_get(const weft_value *map, const char *key);
const char *conf_str(const weft_value *map, const char *key);
int64_t conf_int(const weft_value *map, const char *key, int64_t dflt);
int conf_bool(const weft_value *map, const char *key);
/* An event or reply under construction: a map; conf_put_* add fields (the
 * value ones take ownership); conf_emit() prints it as one line and frees. */
weft_value *conf_event(const char *ev);
void conf_put_str(weft_value *m, const char *key, const char *s);
void conf_put_int(weft_value *m, const char *key, int64_t i);
void conf_put_bool(weft_value *m, const char *key, int b);
void conf_put(weft_value *m, const char *key, weft_value *v);
/* A borrowed weft value, converted to the protocol's form. */
void conf_put_value(weft_value *m, const char *key, const weft_value *v);
void conf_emit(weft_value *m);

/* ---- main.c ---- */
weft_loop *conf_loop(void);

/* ---- server.c ---- */
typedef struct conf_server conf_server;
/* Each returns 0 (with fields added to `reply`) or -1 (with *e set). */
int conf_serve(const weft_value *cmd, weft_value *reply, conf_err *e);
int conf_server_cmd(const char *name, const weft_value *cmd, weft_value *reply, conf_err *e);
/* The spark named by the command's "server" and "spark" (NULL: *e set). */
weft_spark *conf_spark(const weft_value *cmd, conf_err *e);
weft_server *conf_server_of(const weft_value *cmd, conf_err *e);
/* quit: destroys every server (once) and client; how many are not closed yet */
int conf_servers_close(void);

/* ---- client.c ---- */
int conf_connect(const weft_value *cmd, weft_value *reply, conf_err *e);
int conf_client_cmd(const char *name, const weft_value *cmd, weft_value *reply, conf_err *e);
weft_client *conf_client(const weft_value *cmd, conf_err *e);
int conf_clients_close(void);

/* ---- ext.c ---- */
/* The emitter or rooms of the command's server or client. */
weft_emitter *conf_emitter_of(const weft_value *cmd, conf_err *e);
weft_rooms *conf_rooms_of(const weft_value *cmd, conf_err *e);
/* Registers handlers for the event names of options.events; `owner` is the
 * server's or client's name (copied into static storage by the caller). */
int conf_listen_events(weft_emitter *em, const char *owner, int server, const weft_value *names);
/* Channels of a server or client: opened-by-peer handler and errors. */
int conf_watch_channels(weft_channels *chs, const char *owner, int server);
/* Lets clients join rooms whose names start with `prefix`. */
int conf_rooms_policy(weft_server *s, const char *prefix);
int conf_ext_cmd(const char *name, const weft_value *cmd, weft_value *reply, conf_err *e);

/* ---- menu.c ---- */
/* The ops of a menu transform or plugin, or NULL; `client` picks the
 * client's side (NULL when the menu item has none there). */
const weft_plugin_ops *conf_menu(const char *name, int client);

#endif
