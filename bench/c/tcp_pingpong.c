/*
 * tcp-echo's load client: conns connections to 127.0.0.1:port, each sending size bytes and waiting
 * for them to come back before sending again (ping-pong), for seconds or until count round trips.
 * One thread, epoll, so the client is cheap next to the server under test. Prints
 * {"result":{"roundTrips":N,"seconds":S,"p50us":..,"p99us":..}}.
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

struct conn {
  int fd;
  long got;        /* bytes of the current echo received so far */
  int64_t sent_at; /* when the current ping went out */
};

static int by_value(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static void ping(struct conn *c, const char *buf, long size) {
  c->got = 0;
  c->sent_at = now_ns();
  /* 64 bytes into an empty socket buffer: a short write would be a broken premise, so die. */
  if (write(c->fd, buf, size) != size) die("write");
}

int main(int argc, char **argv) {
  long port = arg_long(argc, argv, "port", 0);
  long nconns = arg_long(argc, argv, "conns", 100);
  long size = arg_long(argc, argv, "size", 64);
  long long count = arg_long(argc, argv, "count", 1000000);
  double seconds = arg_double(argc, argv, "seconds", 2);
  if (port <= 0 || port > 65535 || nconns < 1 || size < 1 || size > 4096 || count < 1) {
    fprintf(stderr, "tcp_pingpong: need port=1..65535 conns>=1 size=1..4096 count>=1\n");
    return 2;
  }
  struct conn *conns = calloc(nconns, sizeof *conns);
  int64_t *rtts = malloc(count * sizeof *rtts);
  char out[4096], in[4096];
  if (!conns || !rtts) die("malloc");
  memset(out, 'p', sizeof out);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  CHECK(ep);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  for (long i = 0; i < nconns; i++) {
    /* Blocking connect keeps setup simple; the measured loop below never blocks. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd);
    CHECK(connect(fd, (struct sockaddr *)&to, sizeof to));
    int one = 1;
    CHECK(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
    conns[i].fd = fd;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
  }
  int64_t start = now_ns(), deadline = start + (int64_t)(seconds * 1e9);
  for (long i = 0; i < nconns; i++) ping(&conns[i], out, size);
  long long done = 0;
  while (done < count && now_ns() < deadline) {
    struct epoll_event events[256];
    int n = epoll_wait(ep, events, 256, 100);
    if (n < 0 && errno == EINTR) continue;
    CHECK(n);
    for (int i = 0; i < n && done < count; i++) {
      struct conn *c = events[i].data.ptr;
      ssize_t got = read(c->fd, in, sizeof in);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (got <= 0) die("read (server closed or failed)");
      c->got += got;
      if (c->got < size) continue;
      rtts[done++] = now_ns() - c->sent_at;
      ping(c, out, size);
    }
  }
  double elapsed = (now_ns() - start) / 1e9;
  qsort(rtts, done, sizeof *rtts, by_value);
  double p50 = done ? rtts[(done - 1) / 2] / 1e3 : 0, p99 = done ? rtts[(done * 99 - 1) / 100] / 1e3 : 0;
  printf("{\"result\":{\"roundTrips\":%lld,\"seconds\":%.6f,\"p50us\":%.1f,\"p99us\":%.1f}}\n", done, elapsed, p50, p99);
  for (long i = 0; i < nconns; i++) close(conns[i].fd);
  free(conns);
  free(rtts);
  return 0;
}
