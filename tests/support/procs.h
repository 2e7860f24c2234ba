/*
 * Child processes and ports for tests (redis-server, the CLI): a free port
 * on 127.0.0.1, whether something listens on one, a child started with its
 * output to /dev/null (waiting up to 5 s for its port), and stopping a
 * child by its PID.
 */
#ifndef WEFT_TEST_PROCS_H
#define WEFT_TEST_PROCS_H

#include <stddef.h>
#include <sys/types.h>

int free_port(void);
int port_open(int port);
pid_t spawn(char *const argv[], int port);
/* Sends `sig` to *pid (when > 0), reaps it and sets *pid to 0. */
void stop(pid_t *pid, int sig);
/* redis-server on 127.0.0.1:`port` without persistence, its folder `dir`
 * (created with mkdtemp from its "...XXXXXX" template); fills url (of cap
 * bytes) with redis://127.0.0.1:port. Returns its PID once it listens, or
 * -1. Stop it with stop(), then rmdir(dir). */
pid_t spawn_redis(int port, char *dir, char *url, size_t cap);

#endif
