/*
 * The relay workload's load generator in C: the same parameters and stdin/stdout protocol as
 * workloads/relay/driver.js (read its header comment), for every case but catch-up — closed loop
 * (`window`), open loop (`rate`), forwarder receivers (`listen=1`), alternating PRI (`pri=1`), and
 * one `logrelay/1` subscriber with a filter (`filter=SELECTOR`), catch-up (`catchup=N`: one plain
 * subscriber takes N messages live and leaves, "ready" comes after that; on "go" a `logrelay/1`
 * client resumes N messages behind the head and counts MSG frames until it has them all).
 *
 * Why C: one Node process decrypting every subscriber's stream costs ~0.8 CPU µs a line, as much
 * as the relay it measures; here a line costs the AES-GCM of its bytes and a memchr.
 *
 * One thread, one epoll set. UDP goes out with sendmmsg in batches (closed loop: as much as the
 * window allows; open loop: what is due, every millisecond). Subscribers are read with SSL_read
 * into one large buffer; LFs are counted with memchr and only the first and last line of each read
 * are parsed (`[LEN ][<PRI>]SEQ SENT_NS PAD`), for progress and latency. A line's head (64 bytes)
 * is all that is kept across reads, so memory is bounded whatever the peer sends.
 * Protocol: {"listening":{"tlsPort"}} (listen=1; then `target UDPPORT` on stdin), {"ready":{}} once
 * every subscriber got a probe and 200 ms passed without data, `go` on stdin starts the run,
 * {"result":{...}} ends it. It exits when stdin closes.
 */
// bench-cc: -lssl -lcrypto
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define BATCH 64              /* datagrams a sendmmsg call */
#define HEAD 64               /* bytes of a line parsed (driver.js parses as many) */
#define READ_BUF (256 * 1024) /* one subscriber's reads before its lines are counted */
#define MAX_SAMPLES 1000000
#define MAX_HANDSHAKES 50 /* client handshakes in flight: a thousand at once would time out on a loaded machine */
#define PROBE_NS 20000000LL
#define QUIET_NS 200000000LL
#define TICK_NS 20000000LL
#define MAX_EVENTS 256

enum { TAG_STDIN = -1, TAG_LISTEN = -2 };
enum state { FREE, CONNECTING, HANDSHAKE, ESTABLISHED };

struct sub {
  int fd;
  enum state state;
  SSL *ssl;
  uint32_t interest;
  long long seen; /* newest message number read */
  int probed;
  int partial;     /* a line started in an earlier read is still open */
  size_t head_len; /* bytes of that line's head kept (≤ HEAD) */
  char head[HEAD];
  struct framed *lr; /* a `logrelay/1` subscriber's frame state (`filter=`, catch-up), else NULL */
};

/*
 * A `logrelay/1` subscriber asking for `FROM live filter=…`: a MSG frame's payload (LF framing) is
 * counted and sampled like a plain subscriber's stream; SKIP frames move its progress past what it
 * was not sent, since relay seqs map to message numbers by a constant offset (one UDP source,
 * nothing lost, in order) learnt from the MSG frames. The catch-up client only adds up the MSG
 * frames' counts and skips their payloads.
 */
#define MAX_LINE 4096 /* a frame header line, as lib/relay/client.ts bounds it */
struct framed {
  int resume;            /* the catch-up client, not the filtered subscriber */
  int hello;             /* HELLO not seen yet */
  long long payload;     /* bytes of the current MSG payload still to come */
  long long last_seq;    /* relay seq of the current MSG frame's last message */
  long long seen_before; /* the subscriber's progress when that frame began */
  long long offset;      /* relay seq − message number, once known */
  int has_offset;
  size_t line_len;
  char line[MAX_LINE + 1];
};

/* Parameters. */
static long nsubs, window_, size_, stall_ms, pri, listen_mode;
static long long count, catchup;
static int filling; /* catch-up's live phase, before "ready" */
static double rate, seconds_limit;
static const char *certs, *filter;

static struct sub *subs;
static int epfd, udp_fd = -1, listen_fd = -1;
static SSL_CTX *ctx;
static long established, connecting, started_conns;
static int udp_ready;               /* the UDP target is known and connected */
static int probing = 1, ready_sent; /* probes go out until every subscriber saw one */
static int64_t last_data, next_probe, next_tick, deadline, start, cpu_at_start;
static long long sent, written_off, delivered_lines;
static int64_t last_delivery;
static long long min_seen; /* min of subs' seen (cached: recomputed when the last at the minimum moves) */
static long at_min;
static long long progress_mark = -1;
static int64_t progress_at;
static double *latencies;
static size_t nlat;
static char *pad;
static size_t pad_len;
static unsigned char *rbuf;

static void ssl_die(const char *what) {
  fprintf(stderr, "relay_driver: %s:", what);
  unsigned long e;
  int any = 0;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    fprintf(stderr, " %s", buf);
    any = 1;
  }
  fprintf(stderr, "%s\n", any ? "" : " (no OpenSSL error queued)");
  exit(1);
}

static void fail_str(const char *what, const char *text) {
  fprintf(stderr, "relay_driver: %s: %.200s\n", what, text);
  exit(1);
}

static void fail(const char *fmt, long a) {
  fprintf(stderr, "relay_driver: ");
  fprintf(stderr, fmt, a);
  fputc('\n', stderr);
  exit(1);
}

static int64_t cpu_ns(void) {
  struct timespec ts;
  CHECK(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts));
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void watch(int fd, int64_t tag, uint32_t events, int op) {
  struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)tag};
  if (epoll_ctl(epfd, op, fd, &ev) < 0) {
    fprintf(stderr, "relay_driver: epoll_ctl(fd %d): %s\n", fd, strerror(errno));
    exit(1);
  }
}

static void interest(struct sub *s, uint32_t events) {
  if (s->interest == events) return;
  watch(s->fd, s - subs, events, EPOLL_CTL_MOD);
  s->interest = events;
}

/* ---- progress ---- */

static long long min_delivered(void) {
  if (at_min == 0) {
    min_seen = LLONG_MAX;
    for (long i = 0; i < nsubs; i++) {
      if (subs[i].seen < min_seen) min_seen = subs[i].seen, at_min = 0;
      if (subs[i].seen == min_seen) at_min++;
    }
  }
  return min_seen > written_off ? min_seen : written_off;
}

static void advance(struct sub *s, long long seq) {
  if (seq <= s->seen) return;
  if (at_min > 0 && s->seen == min_seen) at_min--; /* 0 means "recompute" already */
  s->seen = seq;
}

/* ---- UDP ---- */

static char *utoa(char *p, unsigned long long v) {
  char tmp[24];
  int n = 0;
  do tmp[n++] = (char)('0' + v % 10), v /= 10;
  while (v);
  while (n) *p++ = tmp[--n];
  return p;
}

static struct mmsghdr msgs[BATCH];
static struct iovec iovs[2 * BATCH]; /* message i: its head, then the shared pad */
static char heads[BATCH][48];
static int seq_width; /* digits of `count`: every message of a run has the same length */
static int gso = 1;   /* UDP_SEGMENT works here (cleared the first time the kernel refuses it) */

/* One sendmsg for the whole batch, cut into datagrams of `len` bytes by the kernel (UDP GSO). */
static int send_segmented(int n, size_t len) {
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } control = {0};
  struct msghdr msg = {.msg_iov = iovs, .msg_iovlen = (size_t)(2 * n)};
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_UDP;
  cm->cmsg_type = UDP_SEGMENT;
  cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  uint16_t segment = (uint16_t)len;
  memcpy(CMSG_DATA(cm), &segment, sizeof segment);
  for (;;) {
    if (sendmsg(udp_fd, &msg, 0) >= 0) return 1;
    if (errno == EINTR) continue;
    if (errno == EINVAL || errno == EIO || errno == ENOPROTOOPT || errno == EOPNOTSUPP) {
      fprintf(stderr, "relay_driver: UDP_SEGMENT refused (%s): one datagram per message from now on\n",
              strerror(errno));
      gso = 0;
      return 0;
    }
    die("relay_driver: sendmsg (UDP_SEGMENT) to the relay's UDP port");
  }
}

/*
 * Sends messages sent+1 … sent+n as `[<PRI>]SEQ SENT_NS PAD`, n ≤ BATCH. SEQ is zero-padded so
 * that the batch's datagrams are of one length and go out as one segmented send: on loopback the
 * sender pays the kernel's whole delivery path, and per datagram that would cost this process more
 * than the relay spends on a message.
 */
static void send_batch(int n) {
  int64_t now = now_ns();
  size_t len = 0;
  int same = 1;
  for (int i = 0; i < n; i++) {
    long long seq = sent + 1 + i;
    char *p = heads[i];
    if (pri) p = stpcpy(p, seq % 2 ? "<38>" : "<13>");
    char digits[24];
    char *d = utoa(digits, (unsigned long long)seq);
    for (int pad0 = seq_width - (int)(d - digits); pad0 > 0; pad0--) *p++ = '0';
    memcpy(p, digits, (size_t)(d - digits));
    p += d - digits;
    *p++ = ' ';
    p = utoa(p, (unsigned long long)now);
    *p++ = ' ';
    iovs[2 * i] = (struct iovec){.iov_base = heads[i], .iov_len = (size_t)(p - heads[i])};
    iovs[2 * i + 1] = (struct iovec){.iov_base = pad, .iov_len = pad_len};
    size_t this_len = (size_t)(p - heads[i]) + pad_len;
    if (i == 0)
      len = this_len;
    else if (this_len != len)
      same = 0;
  }
  if (!(gso && n > 1 && same && send_segmented(n, len))) {
    for (int i = 0; i < n; i++) msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iovs[2 * i], .msg_iovlen = 2}};
    for (int done = 0; done < n;) {
      int k = sendmmsg(udp_fd, msgs + done, (unsigned)(n - done), 0);
      if (k < 0 && errno == EINTR) continue;
      if (k < 0) die("relay_driver: sendmmsg to the relay's UDP port");
      done += k;
    }
  }
  sent += n;
}

static void send_probe(void) {
  const char *probe = pri ? "<38>probe" : "probe";
  if (send(udp_fd, probe, strlen(probe), 0) < 0) die("relay_driver: send (probe)");
}

static void udp_target(long port) {
  if (port <= 0 || port > 65535) fail("bad UDP port %ld", port);
  udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (udp_fd < 0) die("relay_driver: socket (UDP)");
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK(connect(udp_fd, (struct sockaddr *)&to, sizeof to));
  udp_ready = 1;
  next_probe = now_ns();
}

static void finish(void);
static void filled(void);

/* Closed loop: keep `window` messages in flight. */
static void pump(void) {
  if (probing || (start == 0 && !filling)) return;
  if (catchup && !filling) {
    if (delivered_lines >= count) finish();
    return;
  }
  if (rate == 0) {
    while (sent < count) {
      long long room = window_ - (sent - min_delivered());
      if (room <= 0) break;
      long long n = count - sent < room ? count - sent : room;
      send_batch(n < BATCH ? (int)n : BATCH);
    }
  }
  if (min_delivered() >= count) (filling ? filled : finish)();
}

/* Open loop: everything due by now at `rate` a second. */
static void paced(int64_t now) {
  long long due = (long long)((double)(now - start) / 1e9 * rate); /* ≥ 0: truncation is floor */
  if (due > count) due = count;
  while (sent < due) send_batch(due - sent < BATCH ? (int)(due - sent) : BATCH);
}

/* ---- results ---- */

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Nearest rank, as bench/lib/stats.js's percentile. */
static void print_percentile(const char *key, double p) {
  if (nlat == 0) {
    printf("\"%s\":null", key);
    return;
  }
  double rank = p / 100 * (double)nlat;
  long i = (long)rank - ((double)(long)rank == rank ? 1 : 0); /* ceil(rank) - 1 */
  if (i < 0) i = 0;
  if (i > (long)nlat - 1) i = (long)nlat - 1;
  printf("\"%s\":%.17g", key, latencies[i]);
}

static void finish(void) {
  double cpu = (double)(cpu_ns() - cpu_at_start) / 1e9;
  double secs = (double)(last_delivery - start) / 1e9;
  /* A filtered subscriber (auth.* of alternating user.notice / auth.info) is sent half of them. */
  double expected = catchup ? (double)count : (double)sent * ((double)nsubs - (filter ? 0.5 : 0));
  qsort(latencies, nlat, sizeof *latencies, by_value);
  printf("{\"result\":{\"sent\":%lld,\"deliveredLines\":%lld,\"seconds\":%.17g,", sent, delivered_lines, secs);
  if (secs > 0)
    printf("\"deliveredPerSec\":%.17g,", (double)delivered_lines / secs);
  else
    printf("\"deliveredPerSec\":null,");
  if (expected > 0)
    printf("\"lossPercent\":%.17g,", 100 * (expected - (double)delivered_lines) / expected);
  else
    printf("\"lossPercent\":null,");
  print_percentile("p50us", 50);
  putchar(',');
  print_percentile("p99us", 99);
  printf(",\"cpuSeconds\":%.17g,\"writtenOff\":%lld}}\n", cpu, written_off);
  if (fflush(stdout) != 0) die("relay_driver: stdout");
  exit(0);
}

/* ---- subscribers ---- */

static void check_probed(void) {
  if (!probing || established < nsubs) return;
  for (long i = 0; i < nsubs; i++)
    if (!subs[i].probed) return;
  probing = 0;
  if (filling) pump();
}

/* One complete line's head: a probe (returns 1) or `SEQ SENT_NS PAD` (returns 0). */
static int sample(struct sub *s, const char *line, size_t len, int64_t now) {
  const char *p = line, *end = line + len;
  if (listen_mode) { /* an octet-counted frame: `LEN ` first */
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    p = sp ? sp + 1 : end;
  }
  if (pri) {
    const char *gt = memchr(p, '>', (size_t)(end - p));
    p = gt ? gt + 1 : end;
  }
  if ((size_t)(end - p) >= 5 && memcmp(p, "probe", 5) == 0) {
    s->probed = 1;
    check_probed();
    return 1;
  }
  long long seq = 0, ns = 0;
  const char *q = p;
  while (q < end && *q >= '0' && *q <= '9') seq = seq * 10 + (*q++ - '0');
  if (q == p || q >= end || *q != ' ')
    fail("a line that is neither a probe nor SEQ SENT_NS (subscriber %ld)", s - subs);
  const char *r = ++q;
  while (q < end && *q >= '0' && *q <= '9') ns = ns * 10 + (*q++ - '0');
  if (q == r) fail("a line without its send time (subscriber %ld)", s - subs);
  if (nlat < MAX_SAMPLES && !filling) latencies[nlat++] = (double)(now - ns) / 1e3;
  advance(s, seq);
  return 0;
}

static void keep_head(struct sub *s, const unsigned char *p, size_t n) {
  size_t take = HEAD - s->head_len < n ? HEAD - s->head_len : n;
  memcpy(s->head + s->head_len, p, take);
  s->head_len += take;
  s->partial = 1;
}

/* Counts the lines of one read and samples its first and last. */
static void lines_of(struct sub *s, const unsigned char *buf, size_t n, int64_t now) {
  const unsigned char *first = memchr(buf, '\n', n);
  if (!first) {
    keep_head(s, buf, n);
    return;
  }
  long long lines = 1;
  const unsigned char *last = first, *end = buf + n;
  for (const unsigned char *p = first + 1; p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++) {
    lines++;
    last = p;
  }
  /* A late probe (sent before "go", only ever ahead of the data) is not a delivered message. */
  if (s->partial) {
    keep_head(s, buf, (size_t)(first - buf));
    lines -= sample(s, s->head, s->head_len, now);
  } else {
    lines -= sample(s, (const char *)buf, (size_t)(first - buf) < HEAD ? (size_t)(first - buf) : HEAD, now);
  }
  if (last > first) {
    const unsigned char *from = memrchr(buf, '\n', (size_t)(last - buf));
    from = from ? from + 1 : buf;
    size_t len = (size_t)(last - from);
    lines -= sample(s, (const char *)from, len < HEAD ? len : HEAD, now);
  }
  s->partial = 0;
  s->head_len = 0;
  if (last + 1 < end) keep_head(s, last + 1, (size_t)(end - last - 1));
  if (start != 0) {
    delivered_lines += lines;
    last_delivery = now;
  }
}

static void ssl_failed(struct sub *s, int ret, const char *what) {
  int err = SSL_get_error(s->ssl, ret);
  if (err == SSL_ERROR_ZERO_RETURN) fail("subscriber %ld: the relay closed the TLS session", s - subs);
  if (err == SSL_ERROR_SYSCALL) {
    if (ERR_peek_error() == 0) {
      if (errno == 0) fail("subscriber %ld: the relay closed the connection", s - subs);
      fprintf(stderr, "relay_driver: subscriber %ld: %s: %s\n", (long)(s - subs), what, strerror(errno));
      exit(1);
    }
  }
  char msg[96];
  snprintf(msg, sizeof msg, "subscriber %ld: %s (SSL_get_error %d)", (long)(s - subs), what, err);
  ssl_die(msg);
}

static void start_connect(void);

static void handshake(struct sub *s) {
  ERR_clear_error();
  int ret = SSL_do_handshake(s->ssl);
  if (ret == 1) {
    s->state = ESTABLISHED;
    established++;
    interest(s, EPOLLIN);
    if (!listen_mode) {
      connecting--;
      start_connect();
    }
    return;
  }
  int err = SSL_get_error(s->ssl, ret);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    interest(s, err == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
    return;
  }
  if (listen_mode) {
    /* A forwarder whose handshake fails may retry: free its slot, say why, go on. */
    fprintf(stderr, "relay_driver: a forwarder's TLS handshake failed (SSL_get_error %d)\n", err);
    ERR_print_errors_fp(stderr);
    SSL_free(s->ssl);
    CHECK(close(s->fd));
    *s = (struct sub){.fd = -1, .state = FREE};
    return;
  }
  errno = 0;
  ssl_failed(s, ret, "TLS handshake");
}

/* One header line of a `logrelay/1` stream (LF removed, NUL-terminated). */
static void frame_line(struct sub *s, const char *line) {
  struct framed *f = s->lr;
  if (f->hello) {
    const unsigned char *alpn;
    unsigned alpn_len;
    SSL_get0_alpn_selected(s->ssl, &alpn, &alpn_len);
    if (strncmp(line, "HELLO 1 ", 8) != 0 || alpn_len != 10 || memcmp(alpn, "logrelay/1", 10) != 0)
      fail_str("no logrelay/1 opening (ALPN and HELLO)", line);
    f->hello = 0;
    char request[300];
    int len;
    if (f->resume) {
      const char *next = strstr(line, " next="), *log = strstr(line, " log=");
      long long head;
      char id[17];
      if (!next || !log || sscanf(next, " next=%lld", &head) != 1 || sscanf(log, " log=%16[0-9a-f]", id) != 1 ||
          strlen(id) != 16)
        fail_str("a HELLO without next= and log=", line);
      if (head - 1 - count < 0) fail_str("the history holds fewer messages than catchup=", line);
      len = snprintf(request, sizeof request, "FROM %lld log=%s\n", head - 1 - count, id);
    } else {
      len = snprintf(request, sizeof request, "FROM live filter=%s\n", filter);
    }
    ERR_clear_error();
    /* A fresh connection's send buffer takes 300 bytes whole; anything else is an error here. */
    if (SSL_write(s->ssl, request, len) != len) ssl_failed(s, -1, "SSL_write (request)");
    return;
  }
  long long first, n, bytes;
  char tail;
  if (sscanf(line, "MSG %lld %lld %lld%c", &first, &n, &bytes, &tail) == 3 && first > 0 && n > 0 && bytes > 0) {
    f->last_seq = first + n - 1;
    f->payload = bytes;
    f->seen_before = s->seen;
    if (f->resume) {
      delivered_lines += n;
      last_delivery = now_ns();
    }
  } else if (sscanf(line, "SKIP %lld %lld%c", &first, &n, &tail) == 2 && first > 0 && n > 0) {
    if (f->has_offset) advance(s, first + n - 1 - f->offset);
  } else {
    fail_str("unexpected logrelay/1 frame", line);
  }
}

static void frames_of(struct sub *s, const unsigned char *p, size_t n, int64_t now) {
  struct framed *f = s->lr;
  const unsigned char *end = p + n;
  while (p < end) {
    if (f->payload > 0) {
      size_t take = (size_t)(end - p) < (size_t)f->payload ? (size_t)(end - p) : (size_t)f->payload;
      if (!f->resume) lines_of(s, p, take, now);
      f->payload -= (long long)take;
      p += take;
      if (f->payload == 0 && s->seen > f->seen_before) {
        f->offset = f->last_seq - s->seen;
        f->has_offset = 1;
      }
      continue;
    }
    const unsigned char *lf = memchr(p, '\n', (size_t)(end - p));
    size_t len = (size_t)((lf ? lf : end) - p);
    if (f->line_len + len > MAX_LINE) fail("a logrelay/1 line longer than %ld bytes", MAX_LINE);
    memcpy(f->line + f->line_len, p, len);
    f->line_len += len;
    if (!lf) return;
    p = lf + 1;
    f->line[f->line_len] = 0;
    f->line_len = 0;
    frame_line(s, f->line);
  }
}

/*
 * Reads what the socket holds into rbuf, then counts its lines. OpenSSL reads ahead (a record's
 * worth or more per read(2)); once its buffer is empty we stop rather than read until EAGAIN: epoll is
 * level-triggered, so bytes still in the socket bring us back, and no wake-up ends in a read that
 * finds nothing.
 */
static void readable(struct sub *s) {
  size_t have = 0;
  int more = 1;
  while (more && have < READ_BUF) {
    ERR_clear_error();
    errno = 0;
    int k = SSL_read(s->ssl, rbuf + have, (int)(READ_BUF - have));
    if (k > 0) {
      have += (size_t)k;
      more = SSL_has_pending(s->ssl);
      interest(s, EPOLLIN);
      continue;
    }
    int err = SSL_get_error(s->ssl, k);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) { /* WANT_WRITE: a key update to answer */
      interest(s, err == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
      break;
    }
    ssl_failed(s, k, "SSL_read");
  }
  if (have) {
    int64_t now = now_ns();
    last_data = now;
    if (s->lr)
      frames_of(s, rbuf, have, now);
    else
      lines_of(s, rbuf, have, now);
  }
}

static void subscriber_event(struct sub *s, uint32_t events) {
  if (s->state == FREE) return; /* its connection was closed earlier in the same batch of events */
  if (s->state == CONNECTING) {
    int soerr = 0;
    socklen_t len = sizeof soerr;
    CHECK(getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &len));
    if (soerr) {
      errno = soerr;
      die("relay_driver: connect to the relay's TLS port");
    }
    s->state = HANDSHAKE;
  }
  if (s->state == HANDSHAKE)
    handshake(s);
  else if (events & (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP))
    readable(s);
}

static long tls_port;

static SSL *new_ssl(int fd) {
  SSL *ssl = SSL_new(ctx);
  if (!ssl) ssl_die("SSL_new");
  if (SSL_set_fd(ssl, fd) != 1) ssl_die("SSL_set_fd");
  return ssl;
}

/* A non-blocking connect to the relay's TLS port for `s`; `alpn` asks for logrelay/1 (and its frame state). */
static void connect_sub(struct sub *s, int resume, int alpn) {
  s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->fd < 0) die("relay_driver: socket (a subscriber; ulimit -n?)");
  struct sockaddr_in to = {
      .sin_family = AF_INET, .sin_port = htons(tls_port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (connect(s->fd, (struct sockaddr *)&to, sizeof to) < 0 && errno != EINPROGRESS)
    die("relay_driver: connect to the relay's TLS port");
  s->ssl = new_ssl(s->fd);
  SSL_set_connect_state(s->ssl);
  if (SSL_set_tlsext_host_name(s->ssl, "localhost") != 1) ssl_die("SSL_set_tlsext_host_name");
  if (SSL_set1_host(s->ssl, "localhost") != 1) ssl_die("SSL_set1_host");
  if (alpn) {
    static const unsigned char protos[] = "\x0alogrelay/1";
    if (SSL_set_alpn_protos(s->ssl, protos, sizeof protos - 1) != 0) ssl_die("SSL_set_alpn_protos");
    s->lr = calloc(1, sizeof *s->lr);
    if (!s->lr) die("relay_driver: calloc");
    s->lr->hello = 1;
    s->lr->resume = resume;
  }
  s->state = CONNECTING;
  s->interest = EPOLLOUT;
  watch(s->fd, s - subs, EPOLLOUT, EPOLL_CTL_ADD);
  connecting++;
}

/* Starts the next subscribers' connects while fewer than MAX_HANDSHAKES are under way. */
static void start_connect(void) {
  while (started_conns < nsubs && connecting < MAX_HANDSHAKES) {
    started_conns++;
    /* With `filter`, the last subscriber asks for it over logrelay/1. */
    connect_sub(&subs[started_conns - 1], 0, filter && started_conns == nsubs);
  }
}

/* Catch-up's live phase is over: the plain subscriber leaves; the history holds it all. */
static void filled(void) {
  filling = 0;
  struct sub *s = &subs[0];
  SSL_free(s->ssl);
  CHECK(close(s->fd)); /* also leaves the epoll set */
  *s = (struct sub){.fd = -1, .state = FREE, .seen = s->seen};
  printf("{\"ready\":{\"filled\":%lld}}\n", sent);
  if (fflush(stdout) != 0) die("relay_driver: stdout");
  ready_sent = 1;
}

static void accept_all(void) {
  for (;;) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      die("relay_driver: accept4 (TLS listener; ulimit -n?)");
    }
    struct sub *s = NULL;
    for (long i = 0; i < nsubs && !s; i++)
      if (subs[i].state == FREE) s = &subs[i];
    if (!s) { /* a forwarder's extra connection is not a subscriber */
      CHECK(close(fd));
      continue;
    }
    *s = (struct sub){.fd = fd, .state = HANDSHAKE, .interest = EPOLLIN};
    s->ssl = new_ssl(fd);
    SSL_set_accept_state(s->ssl);
    watch(fd, s - subs, EPOLLIN, EPOLL_CTL_ADD);
  }
}

static SSL_CTX *make_ctx(void) {
  char path[4096];
  const char *who = listen_mode ? "server" : "client";
  SSL_CTX *c = SSL_CTX_new(listen_mode ? TLS_server_method() : TLS_client_method());
  if (!c) ssl_die("SSL_CTX_new");
  snprintf(path, sizeof path, "%s/%s.crt", certs, who);
  if (SSL_CTX_use_certificate_chain_file(c, path) != 1) ssl_die(path);
  snprintf(path, sizeof path, "%s/%s.key", certs, who);
  if (SSL_CTX_use_PrivateKey_file(c, path, SSL_FILETYPE_PEM) != 1) ssl_die(path);
  if (SSL_CTX_check_private_key(c) != 1) ssl_die("SSL_CTX_check_private_key");
  snprintf(path, sizeof path, "%s/ca.crt", certs);
  if (SSL_CTX_load_verify_locations(c, path, NULL) != 1) ssl_die(path);
  /*
   * Several records a read(2), not a 5-byte header and a body. The read buffer stays at its default
   * (one maximal record): OpenSSL 3.0 moves what is left in it to the front before each record it
   * decrypts, so a larger buffer full of small records costs that copy again and again.
   */
  SSL_CTX_set_read_ahead(c, 1);
  if (listen_mode) {
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(path);
    if (!names) ssl_die(path);
    SSL_CTX_set_client_CA_list(c, names);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  } else {
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
  }
  return c;
}

static void start_listening(void) {
  listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd < 0) die("relay_driver: socket (TLS listener)");
  int one = 1;
  CHECK(setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
  struct sockaddr_in at = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK(bind(listen_fd, (struct sockaddr *)&at, sizeof at));
  CHECK(listen(listen_fd, 1024));
  socklen_t len = sizeof at;
  CHECK(getsockname(listen_fd, (struct sockaddr *)&at, &len));
  watch(listen_fd, TAG_LISTEN, EPOLLIN, EPOLL_CTL_ADD);
  printf("{\"listening\":{\"tlsPort\":%d}}\n", ntohs(at.sin_port));
  if (fflush(stdout) != 0) die("relay_driver: stdout");
}

/* ---- stdin: `target PORT`, `go`; its end stops us ---- */

static char line_buf[256];
static size_t line_len;

static void go(void) {
  if (start != 0) return;
  if (!ready_sent) fail("`go` before `ready` (%ld subscribers still to probe)", nsubs - established);
  start = now_ns();
  cpu_at_start = cpu_ns();
  deadline = start + (int64_t)(seconds_limit * 1e9);
  progress_at = start;
  next_tick = start + TICK_NS;
  if (rate > 0) paced(start);
  if (catchup) connect_sub(&subs[0], 1, 1);
  pump();
}

static void command(const char *line) {
  if (strncmp(line, "target ", 7) == 0) {
    if (!listen_mode || udp_ready) fail("unexpected `target` (listen=%ld)", listen_mode);
    udp_target(strtol(line + 7, NULL, 10));
  } else if (strcmp(line, "go") == 0) {
    go();
  }
}

static void read_stdin(void) {
  char buf[1024];
  ssize_t n = read(0, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  CHECK(n);
  if (n == 0) exit(0); /* the harness is gone or done with us */
  for (ssize_t i = 0; i < n; i++) {
    if (buf[i] == '\n') {
      while (line_len && (line_buf[line_len - 1] == '\r' || line_buf[line_len - 1] == ' ')) line_len--;
      line_buf[line_len] = 0;
      command(line_buf);
      line_len = 0;
    } else if (line_len < sizeof line_buf - 1) {
      line_buf[line_len++] = buf[i];
    } else {
      fail("a stdin line longer than %ld bytes", (long)sizeof line_buf - 1);
    }
  }
}

/* ---- timers: probes, quiet period, stall write-off, open-loop pacing, run limit ---- */

static int64_t timers(int64_t now) {
  int64_t next = now + 1000000000LL;
  if (udp_ready && probing) {
    if (now >= next_probe) {
      send_probe();
      next_probe = now + PROBE_NS;
    }
    if (next_probe < next) next = next_probe;
  }
  if (!probing && !ready_sent && !catchup) {
    if (now - last_data >= QUIET_NS) {
      ready_sent = 1;
      printf("{\"ready\":{}}\n");
      if (fflush(stdout) != 0) die("relay_driver: stdout");
    } else if (last_data + QUIET_NS < next) {
      next = last_data + QUIET_NS;
    }
  }
  if (start != 0) {
    if (now >= deadline) finish();
    if (deadline < next) next = deadline;
    if (rate > 0 && sent < count) {
      paced(now);
      /* The next message is due at start + (sent + 1) / rate; wake at most every millisecond. */
      int64_t due = start + (int64_t)((double)(sent + 1) * 1e9 / rate) + 1;
      if (due < now + 1000000) due = now + 1000000;
      if (due < next) next = due;
    }
    if (now >= next_tick && !catchup) {
      next_tick = now + TICK_NS;
      long long mark = min_delivered();
      if (mark != progress_mark) {
        progress_mark = mark;
        progress_at = now;
      } else if (now - progress_at > stall_ms * 1000000LL && (rate == 0 || sent >= count)) {
        written_off = sent; /* lost in the relay's UDP buffer or dropped from a queue: count it, move on */
        if (rate > 0) finish();
        pump();
      }
    }
    if (next_tick < next) next = next_tick;
  }
  return next;
}

int main(int argc, char **argv) {
  nsubs = arg_long(argc, argv, "subs", 1);
  count = arg_long(argc, argv, "count", 1000);
  window_ = arg_long(argc, argv, "window", 1000);
  size_ = arg_long(argc, argv, "size", 300);
  stall_ms = arg_long(argc, argv, "stallMs", 300);
  seconds_limit = arg_double(argc, argv, "seconds", 60);
  rate = arg_double(argc, argv, "rate", 0);
  pri = arg_long(argc, argv, "pri", 0);
  listen_mode = arg_long(argc, argv, "listen", 0);
  certs = arg_value(argc, argv, "certs");
  tls_port = arg_long(argc, argv, "tlsPort", 0);
  long udp_port = arg_long(argc, argv, "udpPort", 0);
  filter = arg_value(argc, argv, "filter");
  catchup = arg_long(argc, argv, "catchup", 0);
  if (catchup < 0 || (catchup && (filter || listen_mode || rate > 0))) {
    fprintf(stderr, "relay_driver: catchup=N is N ≥ 1, without filter=, listen=1 or rate=\n");
    return 2;
  }
  if (catchup) { /* one plain subscriber fills the history with N messages, then a client resumes them */
    count = catchup;
    nsubs = 1;
    filling = 1;
  }
  if (filter && (strlen(filter) < 1 || strlen(filter) > 200 || strpbrk(filter, " \t\r\n") || listen_mode)) {
    fprintf(stderr, "relay_driver: filter= is a selector of 1..200 characters without spaces, not with listen=1\n");
    return 2;
  }
  if (!certs || nsubs < 1 || nsubs > 100000 || count < 1 || window_ < 1 || size_ < 1 || size_ > 65000 || stall_ms < 1 ||
      !(seconds_limit > 0) || rate < 0 || (!listen_mode && (tls_port <= 0 || tls_port > 65535))) {
    fprintf(stderr,
            "relay_driver: need certs=DIR subs=1..100000 count≥1 window≥1 size=1..65000 stallMs≥1 seconds>0 "
            "rate≥0 and, without listen=1, tlsPort=1..65535 udpPort=1..65535\n");
    return 2;
  }
  /* A dead reader of our stdout is an error on write, not a signal. */
  signal(SIGPIPE, SIG_IGN);
  pad_len = size_ > 40 ? (size_t)size_ - 40 : 0;
  for (long long c = count; c > 0; c /= 10) seq_width++;
  pad = malloc(pad_len + 1);
  rbuf = malloc(READ_BUF);
  latencies = malloc(MAX_SAMPLES * sizeof *latencies);
  subs = calloc((size_t)nsubs, sizeof *subs);
  if (!pad || !rbuf || !latencies || !subs) die("relay_driver: malloc");
  memset(pad, 'x', pad_len);
  for (long i = 0; i < nsubs; i++) subs[i].fd = -1;
  at_min = 0;

  ctx = make_ctx();
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("relay_driver: epoll_create1");
  struct epoll_event in = {.events = EPOLLIN, .data.u64 = (uint64_t)(int64_t)TAG_STDIN};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &in) < 0) {
    /* A regular file or /dev/null: always readable, so its commands and its end come at once. */
    if (errno != EPERM) die("relay_driver: epoll_ctl (stdin)");
    for (;;) read_stdin();
  }
  if (listen_mode) {
    start_listening();
  } else {
    udp_target(udp_port);
    start_connect();
  }

  struct epoll_event events[MAX_EVENTS];
  for (;;) {
    int64_t now = now_ns();
    int64_t next = timers(now);
    now = now_ns();
    int timeout = next <= now ? 0 : (int)((next - now + 999999) / 1000000);
    int n = epoll_wait(epfd, events, MAX_EVENTS, timeout);
    if (n < 0 && errno == EINTR) continue;
    CHECK(n);
    for (int i = 0; i < n; i++) {
      int64_t tag = (int64_t)events[i].data.u64;
      if (tag == TAG_STDIN)
        read_stdin();
      else if (tag == TAG_LISTEN)
        accept_all();
      else
        subscriber_event(&subs[tag], events[i].events);
    }
    if (n > 0) pump();
  }
}
