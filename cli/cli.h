/* The weft command's subcommands. */
#ifndef WEFT_CLI_H
#define WEFT_CLI_H

#include <stddef.h>
#include <stdio.h>

/* `weft connect URL [options]`: argv[0] is the URL. Returns the exit status. */
int weft_cli_connect(int argc, char **argv);
/* The transformers there are, comma-separated, into out[0..cap). */
void weft_cli_transformers(char *out, size_t cap);
/* 0 for a known transformer; else prints the names there are and -1. */
int weft_cli_check_transformer(const char *name);

/* A --psk-file: its bytes (1..256) into out[0..256). Returns the length,
 * or -1 once it said why not. */
int weft_cli_read_psk(const char *path, unsigned char out[256]);

/* help.c: 1 when argv holds --help or -h; the help texts. */
int weft_cli_wants_help(int argc, char **argv);
void weft_cli_help(FILE *f);
void weft_cli_help_serve(FILE *f);
void weft_cli_help_connect(FILE *f);

#endif
