/*
 * The kernel's floor under a game tick: what the syscalls alone cost, with
 * no library, framing or encoding. N loopback TCP connections; a peer
 * process (pinned to the second core) answers every state with a 20-byte
 * input; the server (first core) runs the tick's network part as weft does:
 * one epoll_wait, one read per socket with an input, one write of the state
 * per socket.
 *
 *   tick_floor [PLAYERS 1000] [TICKS 200] [STATE_BYTES 200] [TICK_MS 50] [ORDER]
 *
 * TICK_FLOOR_BATCH set: the peer reads all that is ready before it answers
 * (as the Lua bots, whose writes leave at the end of their loop turn).
 *
 * ORDER "read-first" (the default): the reads of what arrived during the
 * sleep, then the writes. "write-first": weft's order under a Lua tick
 * (poll() flushes the broadcast that the previous tick queued, then reads
 * what is there: with players that answer at once, inputs that just
 * arrived, so the reads meet the peer's sends on the other core instead of
 * data that waited out the sleep; lua/bench/tick_ab.sh runs both).
 *
 * Prints one JSON line: mean ms per tick of the read phase, the write phase
 * and both (the first 10% of ticks skipped), the process's CPU ms per tick
 * over both phases (not inflated when other tenants of a shared machine
 * preempt it), and inputs read per tick.
 * lua/bench/run.sh prints it beside the Lua tick benchmark.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static double cpu_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int write_all(const int *fds, int n, const char *state, int size) {
  for (int i = 0; i < n; i++)
    if (write(fds[i], state, (size_t)size) < 0) return -1;
  return 0;
}

static void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sysconf(_SC_NPROCESSORS_ONLN) > cpu) sched_setaffinity(0, sizeof set, &set);
}

static int watch(int ep, const int *fds, int n) {
  for (int i = 0; i < n; i++) {
    fcntl(fds[i], F_SETFL, O_NONBLOCK);
    struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e) != 0) return -1;
  }
  return 0;
}

/* The players: answer each state with one input until the server closes.
 * `batch`: read every ready socket first, then answer them all, as an event
 * loop that flushes at the end of its turn does (the Lua bots); otherwise
 * each answer follows its read. */
static void peer(int *fds, int n, int batch) {
  pin(1);
  int ep = epoll_create1(0);
  if (ep < 0 || watch(ep, fds, n) != 0) _exit(1);
  struct epoll_event ev[1024];
  char buf[4096], input[20] = {0};
  for (;;) {
    int k = epoll_wait(ep, ev, 1024, 5000);
    if (k <= 0) _exit(0);
    for (int j = 0; j < k; j++) {
      int fd = fds[ev[j].data.u32];
      if (read(fd, buf, sizeof buf) <= 0) _exit(0);
      if (!batch && write(fd, input, sizeof input) < 0) _exit(0);
    }
    for (int j = 0; batch && j < k; j++)
      if (write(fds[ev[j].data.u32], input, sizeof input) < 0) _exit(0);
  }
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000, ticks = argc > 2 ? atoi(argv[2]) : 200;
  int size = argc > 3 ? atoi(argv[3]) : 200, tick_ms = argc > 4 ? atoi(argv[4]) : 50;
  int write_first = argc > 5 && strcmp(argv[5], "write-first") == 0;
  if (n <= 0 || ticks < 10 || size <= 0 || size > 65536 || tick_ms <= 0 ||
      (argc > 5 && !write_first && strcmp(argv[5], "read-first") != 0)) {
    fprintf(stderr, "usage: tick_floor [PLAYERS] [TICKS>=10] [STATE_BYTES] [TICK_MS] "
                    "[read-first|write-first]\n");
    return 2;
  }
  struct rlimit rl; /* both ends of every connection live here until the fork */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 4096) != 0 ||
      getsockname(lfd, (struct sockaddr *)&a, &alen) != 0) {
    perror("tick_floor: listen");
    return 1;
  }
  int *cs = calloc((size_t)n, sizeof(int)), *ss = calloc((size_t)n, sizeof(int)), one = 1;
  for (int i = 0; i < n; i++) {
    cs[i] = socket(AF_INET, SOCK_STREAM, 0);
    if (cs[i] < 0 || connect(cs[i], (struct sockaddr *)&a, sizeof a) != 0 ||
        (ss[i] = accept(lfd, NULL, NULL)) < 0) {
      perror("tick_floor: connect");
      return 1;
    }
    setsockopt(cs[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(ss[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  close(lfd);
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    for (int i = 0; i < n; i++)
      close(ss[i]);
    peer(cs, n, getenv("TICK_FLOOR_BATCH") != NULL);
  }
  for (int i = 0; i < n; i++)
    close(cs[i]);
  pin(0);
  int ep = epoll_create1(0);
  if (ep < 0 || watch(ep, ss, n) != 0) return 1;
  char *state = calloc(1, (size_t)size), buf[4096];
  struct epoll_event ev[1024];
  double rd = 0, wr = 0, cpu = 0, next = now_ms();
  long inputs = 0, counted = 0, skip = ticks / 10;
  for (int t = 0; t < ticks; t++) {
    double x = now_ms();
    if (next > x) usleep((useconds_t)((next - x) * 1000));
    next += tick_ms;
    double c0 = cpu_ms(), tw0 = now_ms();
    if (write_first && write_all(ss, n, state, size) != 0) return 1;
    double t0 = now_ms();
    long got = 0;
    int k;
    do { /* everything that arrived, as one poll() drains it */
      k = epoll_wait(ep, ev, 1024, 0);
      for (int j = 0; j < k; j++)
        got += read(ss[ev[j].data.u32], buf, sizeof buf) > 0;
    } while (k == 1024);
    double t1 = now_ms();
    if (!write_first && write_all(ss, n, state, size) != 0) return 1;
    double t2 = now_ms(), c2 = cpu_ms();
    if (t >= skip) {
      cpu += c2 - c0;
      rd += t1 - t0;
      wr += (t0 - tw0) + (t2 - t1);
      inputs += got;
      counted++;
    }
  }
  for (int i = 0; i < n; i++)
    close(ss[i]);
  waitpid(pid, NULL, 0);
  printf("{\"order\":\"%s\",\"players\":%d,\"state_bytes\":%d,\"ticks\":%ld,\"read_ms\":%.3f,"
         "\"write_ms\":%.3f,"
         "\"tick_ms\":%.3f,\"cpu_ms\":%.3f,\"inputs_per_tick\":%.1f}\n",
         write_first ? "write-first" : "read-first", n, size, counted, rd / (double)counted,
         wr / (double)counted, (rd + wr) / (double)counted, cpu / (double)counted,
         (double)inputs / (double)counted);
  free(cs);
  free(ss);
  free(state);
  return 0;
}
