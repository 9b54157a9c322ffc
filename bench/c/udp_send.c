/*
 * udp-ingest's load generator: sends count datagrams of size bytes to 127.0.0.1:port with
 * sendmmsg, as fast as the kernel takes them, stopping at count or after seconds, whichever
 * comes first. Prints {"result":{"sent":N,"seconds":S}}. Loopback only, by construction.
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define BATCH 64

int main(int argc, char **argv) {
  long port = arg_long(argc, argv, "port", 0);
  long size = arg_long(argc, argv, "size", 256);
  long long count = arg_long(argc, argv, "count", 100000);
  double seconds = arg_double(argc, argv, "seconds", 2);
  if (port <= 0 || port > 65535 || size < 1 || size > 65507) {
    fprintf(stderr, "udp_send: need port=1..65535 and size=1..65507\n");
    return 2;
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  CHECK(fd);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK(connect(fd, (struct sockaddr *)&to, sizeof to));

  char *payload = malloc(size);
  if (!payload) die("malloc");
  memset(payload, 'x', size);
  struct iovec iov = {.iov_base = payload, .iov_len = size};
  struct mmsghdr msgs[BATCH];
  for (int i = 0; i < BATCH; i++) msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov, .msg_iovlen = 1}};

  int64_t start = now_ns(), deadline = start + (int64_t)(seconds * 1e9);
  long long sent = 0;
  while (sent < count && now_ns() < deadline) {
    unsigned batch = count - sent < BATCH ? (unsigned)(count - sent) : BATCH;
    int n = sendmmsg(fd, msgs, batch, 0);
    if (n < 0 && (errno == EINTR || errno == ENOBUFS || errno == EAGAIN)) continue;
    /* The receiver's buffer overflowing is the measurement, not an error; a refused port is. */
    CHECK(n);
    sent += n;
  }
  printf("{\"result\":{\"sent\":%lld,\"seconds\":%.6f}}\n", sent, (now_ns() - start) / 1e9);
  free(payload);
  close(fd);
  return 0;
}
