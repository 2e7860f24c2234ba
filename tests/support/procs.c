/* Child processes and ports for tests (procs.h). */
#include "procs.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || getsockname(fd, (struct sockaddr *)&a, &len))
    return 0;
  close(fd);
  return ntohs(a.sin_port);
}

int port_open(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
  close(fd);
  return ok;
}

pid_t spawn(char *const argv[], int port) {
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execvp(argv[0], argv);
    _exit(127);
  }
  for (int i = 0; i < 500 && pid > 0 && !port_open(port); i++)
    usleep(10000);
  return pid;
}

void stop(pid_t *pid, int sig) {
  if (*pid <= 0) return;
  kill(*pid, sig);
  waitpid(*pid, NULL, 0);
  *pid = 0;
}

pid_t spawn_redis(int port, char *dir, char *url, size_t cap) {
  char ps[16];
  if (!mkdtemp(dir)) return -1;
  snprintf(ps, sizeof(ps), "%d", port);
  snprintf(url, cap, "redis://127.0.0.1:%d", port);
  char *argv[] = {"redis-server", "--port", ps,      "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no",     "--dir", dir,      NULL};
  pid_t pid = spawn(argv, port);
  if (pid > 0 && port_open(port)) return pid;
  stop(&pid, SIGKILL);
  return -1;
}
