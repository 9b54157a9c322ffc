/*
 * udp-ingest's limit: what one thread can take off a UDP socket with epoll + recvmmsg into
 * preallocated buffers, doing nothing with the data. Speaks the bench child protocol: prints
 * {"ready":{"port":P}}, counts until its stdin closes, prints {"result":{...}}.
 * Arguments: rcvbuf=<bytes> (SO_RCVBUF asked for; the kernel caps it at rmem_max).
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define BATCH 64
#define MAX_DATAGRAM 65536

static char buffers[BATCH][MAX_DATAGRAM];

int main(int argc, char **argv) {
  int rcvbuf = (int)arg_long(argc, argv, "rcvbuf", 4 << 20);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  CHECK(fd);
  CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf));
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK(bind(fd, (struct sockaddr *)&addr, sizeof addr));
  socklen_t len = sizeof addr;
  CHECK(getsockname(fd, (struct sockaddr *)&addr, &len));

  int ep = epoll_create1(EPOLL_CLOEXEC);
  CHECK(ep);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
  ev.data.fd = STDIN_FILENO; /* the harness closes it to say "stop" */
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev));

  struct mmsghdr msgs[BATCH];
  struct iovec iovs[BATCH];
  for (int i = 0; i < BATCH; i++) {
    iovs[i] = (struct iovec){.iov_base = buffers[i], .iov_len = MAX_DATAGRAM};
    msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iovs[i], .msg_iovlen = 1}};
  }
  printf("{\"ready\":{\"port\":%d}}\n", ntohs(addr.sin_port));
  fflush(stdout);

  long long received = 0, bytes = 0;
  int64_t first = 0, last = 0;
  for (int stop = 0; !stop;) {
    struct epoll_event events[2];
    int n = epoll_wait(ep, events, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    CHECK(n);
    for (int i = 0; i < n; i++) {
      if (events[i].data.fd == STDIN_FILENO) {
        stop = 1;
        continue;
      }
      for (;;) {
        int got = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 && errno == EAGAIN) break;
        CHECK(got);
        last = now_ns();
        if (received == 0) first = last;
        received += got;
        for (int j = 0; j < got; j++) bytes += msgs[j].msg_len;
      }
    }
  }
  double seconds = (last - first) / 1e9;
  printf("{\"result\":{\"received\":%lld,\"bytes\":%lld,\"seconds\":%.6f}}\n", received, bytes, seconds);
  return 0;
}
