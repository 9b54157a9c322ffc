/*
 * What the bench's C programs share: key=value arguments (the harness passes a case's parameters
 * that way, see bench/lib/impl.js), a monotonic clock, and dying loudly on a failed syscall.
 */
#ifndef BENCH_H
#define BENCH_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The value of key=value among the arguments, or NULL. */
static inline const char *arg_value(int argc, char **argv, const char *key) {
  size_t len = strlen(key);
  for (int i = 1; i < argc; i++)
    if (strncmp(argv[i], key, len) == 0 && argv[i][len] == '=') return argv[i] + len + 1;
  return NULL;
}

static inline long arg_long(int argc, char **argv, const char *key, long fallback) {
  const char *value = arg_value(argc, argv, key);
  return value ? strtol(value, NULL, 10) : fallback;
}

static inline double arg_double(int argc, char **argv, const char *key, double fallback) {
  const char *value = arg_value(argc, argv, key);
  return value ? strtod(value, NULL) : fallback;
}

/* CLOCK_MONOTONIC, the clock Node's process.hrtime uses too. */
static inline int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void die(const char *what) {
  fprintf(stderr, "%s: %s\n", what, strerror(errno));
  exit(1);
}

#define CHECK(call)                   \
  do {                                \
    if ((call) < 0) die(#call);       \
  } while (0)

#endif
