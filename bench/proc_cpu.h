/* CPU time of another process (and of this one), for the bench load generators' --server-pid:
 * utime and stime from /proc/PID/stat. Header-only. */
#ifndef WEFT_BENCH_PROC_CPU_H
#define WEFT_BENCH_PROC_CPU_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

/* utime and stime of process `pid` in seconds; returns 0, or -1 when
 * unknown (no such process, no /proc). */
static inline int proc_cpu(int pid, double *user, double *sys) {
  char path[64], buf[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')'); /* the command may hold spaces */
  unsigned long long ut = 0, st = 0;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return -1;
  double tck = (double)sysconf(_SC_CLK_TCK);
  *user = (double)ut / tck;
  *sys = (double)st / tck;
  return 0;
}

/* utime + stime of a process, in seconds (-1 when unknown). */
static inline double proc_cpu_seconds(int pid) {
  double u, s;
  return proc_cpu(pid, &u, &s) == 0 ? u + s : -1;
}

/* This process's own user + system CPU time, in seconds (the load
 * generator's CPU figure). */
static inline double cpu_seconds(void) {
  uv_rusage_t ru;
  if (uv_getrusage(&ru) != 0) return 0;
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

#endif
