/* The weft command's subcommands. */
#ifndef WEFT_CLI_H
#define WEFT_CLI_H

/* `weft connect URL [options]`: argv[0] is the URL. Returns the exit status. */
int weft_cli_connect(int argc, char **argv);

#endif
