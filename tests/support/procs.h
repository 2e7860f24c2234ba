/*
 * Child processes and ports for tests (redis-server, the CLI): a free port
 * on 127.0.0.1, whether something listens on one, a child started with its
 * output to /dev/null (waiting up to 5 s for its port), and stopping a
 * child by its PID.
 */
#ifndef WEFT_TEST_PROCS_H
#define WEFT_TEST_PROCS_H

#include <sys/types.h>

int free_port(void);
int port_open(int port);
pid_t spawn(char *const argv[], int port);
/* Sends `sig` to *pid (when > 0), reaps it and sets *pid to 0. */
void stop(pid_t *pid, int sig);

#endif
