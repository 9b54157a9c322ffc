// The pollset core (native/pollset*.cc) without Node, on real fds: what the addon cannot show from
// JavaScript. test/native-core.test.ts compiles it for the host and with -m32 (where udata is a 32-bit
// pointer) against each compiled-in backend, and runs it. Exit status 0 when every check holds; each
// failure is printed as "FAIL <line>: <check> [<backend>]".
//   core_test            run every check on every compiled-in backend
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "kevent_udata.h"
#include "pollset.h"

using namespace pollset;

namespace {

int failures = 0;
std::string current = "-";

#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "FAIL %d: %s [%s]\n", __LINE__, #cond, current.c_str()); \
      failures++;                                                                   \
    }                                                                               \
  } while (0)

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int p[2];
    if (pipe(p) != 0) {
      std::perror("pipe");
      std::exit(2);
    }
    r = p[0];
    w = p[1];
  }
  ~Pipe() {
    if (r >= 0) close(r);
    if (w >= 0) close(w);
  }
};

double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

std::unique_ptr<Pollset> Open(const std::string& backend) {
  int err = 0;
  auto ps = Pollset::Create(backend, &err);
  if (!ps) {
    std::fprintf(stderr, "cannot create a %s pollset: errno %d\n", backend.c_str(), err);
    std::exit(2);
  }
  return ps;
}

// The generation survives udata of either type, at every width, sign boundary included.
void TestUdata() {
  current = "udata";
  for (uint32_t g : {0u, 1u, 2u, 0x7fffffffu, 0x80000000u, 0x80000001u, 0xfffffffeu, 0xffffffffu}) {
    CHECK(GenerationFromUdata(GenerationToUdata<void*>(g)) == g);
    CHECK(GenerationFromUdata(GenerationToUdata<intptr_t>(g)) == g);
  }
}

// Events reach the caller through the token path (the generation checked against the registry): the
// path that dropped every event when the token was truncated to a 32-bit udata.
void TestEvents(const std::string& backend) {
  auto ps = Open(backend);
  Ready out[8];
  Pipe a;
  CHECK(ps->insert(a.r, kRead) == 0);
  CHECK(write(a.w, "x", 1) == 1);
  int n = ps->wait(1000, out, 8);
  CHECK(n == 1);
  CHECK(n == 1 && out[0].fd == a.r && (out[0].flags & kRead));
  CHECK(ps->insert(a.w, kWrite) == 0);
  CHECK(ps->wait(1000, out, 8) == 2);

  // A closed fd whose number is reused is never reported under the old registration.
  int old = a.r;
  close(a.r);
  Pipe b;
  int reused = b.r == old ? b.r : dup2(b.r, old);
  CHECK(reused == old);
  CHECK(write(b.w, "y", 1) == 1);
  n = ps->wait(0, out, 8);
  for (int i = 0; i < n; i++) CHECK(out[i].fd != old);
  CHECK(ps->remove(old) == 0);
  CHECK(ps->insert(old, kRead) == 0);
  n = ps->wait(1000, out, 8);
  bool seen = false;
  for (int i = 0; i < n; i++) seen = seen || (out[i].fd == old && (out[i].flags & kRead));
  CHECK(seen);
  if (reused != b.r) close(reused);
  a.r = -1;
}

// One-shot: one report, then silence (the wait sleeps) until update() re-arms it.
void TestOneshot(const std::string& backend) {
  auto ps = Open(backend);
  Ready out[8];
  Pipe a;
  CHECK(write(a.w, "x", 1) == 1);
  CHECK(ps->insert(a.r, kRead | kOneshot) == 0);
  CHECK(ps->wait(1000, out, 8) == 1);
  auto start = std::chrono::steady_clock::now();
  CHECK(ps->wait(40, out, 8) == 0);
  CHECK(MsSince(start) >= 39);
  CHECK(ps->update(a.r, kRead | kOneshot) == 0);
  CHECK(ps->wait(1000, out, 8) == 1);
  CHECK(ps->wait(0, out, 8) == 0);
}

// A forked child gets ECHILD from every call, cannot take the parent's events, and closes nothing
// when it destroys the set, even when the set's fd number now names one of the child's own files.
void TestFork(const std::string& backend) {
  auto ps = Open(backend);
  Ready out[8];
  Pipe a;
  CHECK(write(a.w, "x", 1) == 1);
  // One-shot, so an event taken by the child would be gone for the parent.
  CHECK(ps->insert(a.r, kRead | kOneshot) == 0);
  int kernel_fd = ps->pollable_fd();
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("fork");
    std::exit(2);
  }
  if (pid == 0) {
    int code = 0;
    Ready got[8];
    if (ps->wait(0, got, 8) != -kForkedChild) code |= 1;
    if (ps->insert(a.w, kWrite) != kForkedChild) code |= 2;
    if (ps->update(a.r, kRead) != kForkedChild) code |= 4;
    if (ps->remove(a.r) != kForkedChild) code |= 8;
    if (kernel_fd >= 0) {
      // The child's own file now holds the number.
      int mine = open("/dev/null", O_RDONLY);
      if (mine < 0 || dup2(mine, kernel_fd) != kernel_fd) code |= 64;
      close(mine);
    }
    ps.reset();
    if (kernel_fd >= 0 && fcntl(kernel_fd, F_GETFD) < 0) code |= 16;
    _exit(code);
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    std::fprintf(stderr, "child status bits %d\n", WEXITSTATUS(status));
  // The parent still gets its event, and its set still works.
  CHECK(ps->wait(1000, out, 8) == 1);
  CHECK(ps->update(a.r, kRead) == 0);
  CHECK(ps->wait(1000, out, 8) == 1);
}

#ifdef POLLSET_LIBKQUEUE
// A registration refused half-way is undone. libkqueue watches a regular file through one surrogate
// eventfd per filter, so with room for exactly one more descriptor the read filter is accepted and the
// write filter refused (EMFILE): the read filter must not stay live (its events would belong to no
// registration, and a wait would return at once with nothing), and its eventfd must be closed again.
// (The Pollset refuses regular files before any backend sees them; the backend is driven directly.)
void TestUndo() {
  current = "kqueue undo";
  int err = 0;
  auto backend = CreateKqueueBackend(&err);
  CHECK(backend != nullptr);
  if (!backend) return;
  char path[] = "/tmp/pollset-core-XXXXXX";
  int file = mkstemp(path);
  CHECK(file >= 0);
  unlink(path);
  int free1 = -1, free2 = -1;
  for (int fd = 0; free2 < 0; fd++) {
    if (fcntl(fd, F_GETFD) >= 0) continue;
    (free1 < 0 ? free1 : free2) = fd;
  }
  struct rlimit saved;
  CHECK(getrlimit(RLIMIT_NOFILE, &saved) == 0);
  struct rlimit tight = saved;
  tight.rlim_cur = rlim_t(free2);  // free1 is the one number left
  CHECK(setrlimit(RLIMIT_NOFILE, &tight) == 0);
  int e = backend->add(file, kRead | kWrite, 7);
  CHECK(setrlimit(RLIMIT_NOFILE, &saved) == 0);
  CHECK(e == EMFILE);
  CHECK(fcntl(free1, F_GETFD) < 0);  // the accepted filter's eventfd was released by the undo
  Raw raw[4];
  auto start = std::chrono::steady_clock::now();
  CHECK(backend->wait(40, raw, 4) == 0);
  CHECK(MsSince(start) >= 39);
  // With room, the filters are accepted and the doorbell (an epoll set, see pollset_kqueue.cc) refuses
  // the regular file as epoll does: that half is undone too.
  CHECK(backend->add(file, kRead | kWrite, 8) == EPERM);
  start = std::chrono::steady_clock::now();
  CHECK(backend->wait(40, raw, 4) == 0);
  CHECK(MsSince(start) >= 39);
  close(file);
}
#endif

}  // namespace

int main() {
  TestUdata();
  for (const std::string& backend : CompiledBackends()) {
    current = backend;
    TestEvents(backend);
    TestOneshot(backend);
    TestFork(backend);
  }
#ifdef POLLSET_LIBKQUEUE
  TestUndo();
#endif
  std::string names;
  for (const std::string& backend : CompiledBackends()) names += (names.empty() ? "" : ",") + backend;
  std::printf("backends %s pointer-bits %d failures %d\n", names.c_str(), int(sizeof(void*) * 8), failures);
  return failures == 0 ? 0 : 1;
}
