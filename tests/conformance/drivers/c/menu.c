/* The fixed menu of transforms and plugins the scenarios name (README.md
 * "Menu"), as weft_plugin_ops. Clients have incoming transforms and open
 * hooks only: plugin.h has no client outgoing hook. */
#include <string.h>

#include "driver.h"

static int is_text(const weft_value *msg, const char *text) {
  const char *s;
  size_t n;
  return weft_value_get_string(msg, &s, &n) == 0 && n == strlen(text) && memcmp(s, text, n) == 0;
}

static weft_value *wrap(const char *key, const weft_value *msg) {
  weft_value *m = weft_value_new_map();
  weft_value_map_add(m, key, strlen(key), weft_value_dup(msg));
  return m;
}

static int swallow(weft_spark *sp, const weft_value *msg, weft_value **rep, void *user) {
  (void)sp, (void)rep, (void)user;
  return is_text(msg, "drop") ? WEFT_SWALLOW : WEFT_PASS;
}
static int wrap_in(weft_spark *sp, const weft_value *msg, weft_value **rep, void *user) {
  (void)sp, (void)user;
  *rep = wrap("in", msg);
  return WEFT_PASS;
}
static int wrap_out(weft_spark *sp, const weft_value *msg, weft_value **rep, void *user) {
  (void)sp, (void)user;
  *rep = wrap("out", msg);
  return WEFT_PASS;
}
static int fail(weft_spark *sp, const weft_value *msg, weft_value **rep, void *user) {
  (void)sp, (void)rep, (void)user;
  return is_text(msg, "fail") ? WEFT_EINVAL : WEFT_PASS;
}
static int c_swallow(weft_client *c, const weft_value *msg, weft_value **rep, void *user) {
  (void)c, (void)rep, (void)user;
  return is_text(msg, "drop") ? WEFT_SWALLOW : WEFT_PASS;
}
static int c_wrap_in(weft_client *c, const weft_value *msg, weft_value **rep, void *user) {
  (void)c, (void)user;
  *rep = wrap("in", msg);
  return WEFT_PASS;
}
static int c_wrap_out(weft_client *c, const weft_value *msg, weft_value **rep, void *user) {
  (void)c, (void)user;
  *rep = wrap("out", msg);
  return WEFT_PASS;
}
static int c_fail(weft_client *c, const weft_value *msg, weft_value **rep, void *user) {
  (void)c, (void)rep, (void)user;
  return is_text(msg, "fail") ? WEFT_EINVAL : WEFT_PASS;
}

static void greet(weft_spark *sp, void *user) {
  (void)user;
  weft_value *m = weft_value_new_map();
  weft_value_map_add(m, "greeting", 8, weft_value_new_string("hello", 5));
  weft_spark_write(sp, m);
  weft_value_free(m);
}
static void c_greet(weft_client *c, void *user) {
  (void)user;
  weft_value *m = weft_value_new_map();
  weft_value_map_add(m, "greeting", 8, weft_value_new_string("hello", 5));
  weft_client_write(c, m);
  weft_value_free(m);
}

#define OPS(n) .version = WEFT_PLUGIN_VERSION, .size = sizeof(weft_plugin_ops), .name = n
static const weft_plugin_ops server_menu[] = {
    {OPS("swallow_drop"), .incoming = swallow},   {OPS("incoming_wrap"), .incoming = wrap_in},
    {OPS("outgoing_wrap"), .outgoing = wrap_out}, {OPS("swallow_drop_out"), .outgoing = swallow},
    {OPS("fail_incoming"), .incoming = fail},     {OPS("greeter"), .connection = greet},
};
static const weft_plugin_ops client_menu[] = {
    {OPS("swallow_drop"), .client_incoming = c_swallow},
    {OPS("incoming_wrap"), .client_incoming = c_wrap_in},
    {OPS("fail_incoming"), .client_incoming = c_fail},
    {OPS("outgoing_wrap"), .client_outgoing = c_wrap_out},
    {OPS("swallow_drop_out"), .client_outgoing = c_swallow},
    {OPS("greeter"), .client_open = c_greet},
};

const weft_plugin_ops *conf_menu(const char *name, int client) {
  const weft_plugin_ops *menu = client ? client_menu : server_menu;
  size_t n =
      client ? sizeof client_menu / sizeof *client_menu : sizeof server_menu / sizeof *server_menu;
  for (size_t i = 0; name && i < n; i++)
    if (strcmp(menu[i].name, name) == 0) return &menu[i];
  return NULL;
}
