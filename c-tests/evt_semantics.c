/* select/pselect/epoll semantics on a utcp socket, against a kernel echo
 * server (the peer echoes what we send, so we decide when data arrives).
 * usage: evt_semantics HOST PORT  -- prints "ok: ..." lines, exits 1 on the first failure. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CHECK(cond, ...) do { if (!(cond)) { printf("FAIL line %d: ", __LINE__); printf(__VA_ARGS__); printf(" (errno %s)\n", strerror(errno)); exit(1); } } while (0)
#define OK(...) do { printf("ok: " __VA_ARGS__); printf("\n"); fflush(stdout); } while (0)

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static void on_alarm(int s) { (void)s; }

/* Send n bytes and wait until the echo is readable (poll). */
static void bounce(int s, const char *d) {
    CHECK(send(s, d, strlen(d), 0) == (ssize_t)strlen(d), "send");
    fd_set rd; FD_ZERO(&rd); FD_SET(s, &rd);
    struct timeval tv = { 5, 0 };
    CHECK(select(s + 1, &rd, NULL, NULL, &tv) == 1, "echo did not come back");
    usleep(50000); /* the whole echo */
}

static void drain(int s) {
    char b[4096];
    while (recv(s, b, sizeof b, MSG_DONTWAIT) > 0) {}
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: evt_semantics HOST PORT\n"); return 2; }
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(s, (struct sockaddr *)&a, sizeof a) == 0, "connect");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");

    /* select: timeout with nothing readable; time left written back as 0. */
    fd_set rd, wr;
    FD_ZERO(&rd); FD_SET(s, &rd); FD_SET(p[0], &rd);
    struct timeval tv = { 0, 200000 };
    double t0 = now();
    int n = select((s > p[0] ? s : p[0]) + 1, &rd, NULL, NULL, &tv);
    double dt = now() - t0;
    CHECK(n == 0 && !FD_ISSET(s, &rd) && !FD_ISSET(p[0], &rd), "select timeout: %d", n);
    CHECK(tv.tv_sec == 0 && tv.tv_usec == 0, "time left %ld.%06ld", (long)tv.tv_sec, (long)tv.tv_usec);
    CHECK(dt > 0.19 && dt < 0.5, "waited %.3f s", dt);
    OK("select timeout after %.3f s, timeval set to 0", dt);

    /* Read and write sets: writable counts once per set; time left < given. */
    FD_ZERO(&rd); FD_ZERO(&wr); FD_SET(s, &rd); FD_SET(s, &wr); FD_SET(p[1], &wr);
    tv = (struct timeval){ 3, 0 };
    n = select((s > p[1] ? s : p[1]) + 1, &rd, &wr, NULL, &tv);
    CHECK(n == 2 && FD_ISSET(s, &wr) && FD_ISSET(p[1], &wr) && !FD_ISSET(s, &rd), "select writable: %d", n);
    CHECK(tv.tv_sec <= 3 && tv.tv_sec >= 2, "time left %ld", (long)tv.tv_sec);
    bounce(s, "abc");
    FD_ZERO(&rd); FD_ZERO(&wr); FD_SET(s, &rd); FD_SET(s, &wr);
    n = select(s + 1, &rd, &wr, NULL, NULL);
    CHECK(n == 2 && FD_ISSET(s, &rd) && FD_ISSET(s, &wr), "fd in two sets counts twice: %d", n);
    drain(s);
    OK("select counts bits: kernel and utcp fds, read and write sets");

    /* EBADF for a closed fd in a set with a utcp socket. */
    int spare = dup(p[0]);
    close(spare);
    FD_ZERO(&rd); FD_SET(s, &rd); FD_SET(spare, &rd);
    tv = (struct timeval){ 0, 100000 };
    n = select((s > spare ? s : spare) + 1, &rd, NULL, NULL, &tv);
    CHECK(n == -1 && errno == EBADF, "closed fd: %d", n);
    OK("select with a closed fd: EBADF");

    /* EINTR: select is not restarted after a handler, even with SA_RESTART. */
    struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = { .it_value = { 0, 100000 } };
    setitimer(ITIMER_REAL, &it, NULL);
    FD_ZERO(&rd); FD_SET(s, &rd);
    tv = (struct timeval){ 5, 0 };
    n = select(s + 1, &rd, NULL, NULL, &tv);
    CHECK(n == -1 && errno == EINTR, "select during a signal: %d", n);
    CHECK(tv.tv_sec >= 4 && tv.tv_sec < 5, "time left after EINTR %ld.%06ld", (long)tv.tv_sec, (long)tv.tv_usec);
    OK("select EINTR with SA_RESTART, time left %ld.%06ld", (long)tv.tv_sec, (long)tv.tv_usec);

    /* pselect: the mask is applied during the wait; the timespec is not updated. */
    sigset_t block, empty;
    sigemptyset(&block); sigaddset(&block, SIGALRM); sigemptyset(&empty);
    sigprocmask(SIG_BLOCK, &block, NULL);
    setitimer(ITIMER_REAL, &it, NULL);
    usleep(200000); /* SIGALRM now pending, blocked */
    FD_ZERO(&rd); FD_SET(s, &rd);
    struct timespec ts = { 5, 0 };
    n = pselect(s + 1, &rd, NULL, NULL, &ts, &empty);
    CHECK(n == -1 && errno == EINTR && ts.tv_sec == 5, "pselect with the signal unblocked: %d", n);
    FD_ZERO(&rd); FD_SET(s, &rd);
    ts = (struct timespec){ 0, 100000000 };
    n = pselect(s + 1, &rd, NULL, NULL, &ts, NULL);
    CHECK(n == 0 && ts.tv_nsec == 100000000, "pselect timeout: %d", n);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    OK("pselect: sigmask during the wait, timespec untouched");

    /* epoll_ctl errors. */
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u64 = 42 }, out[8];
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev) == -1 && errno == ENOENT, "MOD absent");
    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL) == -1 && errno == ENOENT, "DEL absent");
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s, NULL) == -1 && errno == EFAULT, "ADD NULL");
    struct epoll_event bad = { .events = EPOLLIN | EPOLLRDHUP | EPOLLEXCLUSIVE };
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &bad) == -1 && errno == EINVAL, "EXCLUSIVE with RDHUP");
    CHECK(epoll_ctl(s, EPOLL_CTL_ADD, s, &ev) == -1 && errno == EINVAL, "epfd == fd");
    CHECK(epoll_ctl(p[0], EPOLL_CTL_ADD, s, &ev) == -1 && errno == EINVAL, "epfd not an epoll");
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) == 0, "ADD");
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) == -1 && errno == EEXIST, "ADD twice");
    OK("epoll_ctl: ENOENT, EFAULT, EINVAL, EEXIST");

    /* Edge-triggered: one report per arrival, even with data left unread. */
    CHECK(epoll_wait(ep, out, 8, 0) == 0, "ET: nothing yet");
    bounce(s, "one");
    n = epoll_wait(ep, out, 8, 1000);
    CHECK(n == 1 && out[0].data.u64 == 42 && out[0].events == EPOLLIN, "ET first: %d %x", n, n > 0 ? out[0].events : 0);
    CHECK(epoll_wait(ep, out, 8, 100) == 0, "ET reported twice without a new arrival");
    bounce(s, "two");
    CHECK(epoll_wait(ep, out, 8, 1000) == 1, "ET: a new arrival with data unread must report");
    drain(s);
    bounce(s, "three");
    CHECK(epoll_wait(ep, out, 8, 1000) == 1, "ET: after read to EAGAIN a new arrival must report");
    drain(s);
    CHECK(epoll_wait(ep, out, 8, 100) == 0, "ET: nothing after the drain");
    OK("EPOLLET: reports once per arrival; read to EAGAIN then a new arrival reports");

    /* Level-triggered via MOD; then ONESHOT. */
    ev.events = EPOLLIN;
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev) == 0, "MOD");
    bounce(s, "lt");
    CHECK(epoll_wait(ep, out, 8, 1000) == 1 && epoll_wait(ep, out, 8, 0) == 1, "LT reports while readable");
    drain(s);
    CHECK(epoll_wait(ep, out, 8, 0) == 0, "LT: nothing after the drain");
    ev.events = EPOLLIN | EPOLLONESHOT;
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev) == 0, "MOD oneshot");
    bounce(s, "os");
    CHECK(epoll_wait(ep, out, 8, 1000) == 1, "ONESHOT first");
    CHECK(epoll_wait(ep, out, 8, 100) == 0, "ONESHOT reported twice");
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev) == 0 && epoll_wait(ep, out, 8, 0) == 1, "ONESHOT re-armed by MOD");
    drain(s);
    OK("level-triggered and EPOLLONESHOT");

    /* Mixed: the pipe and the socket in one epoll; kernel fds reported too. */
    struct epoll_event pev = { .events = EPOLLIN, .data.u64 = 7 };
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &pev) == 0, "ADD pipe");
    ev.events = EPOLLIN | EPOLLOUT;
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev) == 0, "MOD");
    CHECK(write(p[1], "x", 1) == 1, "write pipe");
    n = epoll_wait(ep, out, 8, 1000);
    CHECK(n == 2, "socket writable and pipe readable: %d", n);
    n = epoll_wait(ep, out, 1, 0);
    CHECK(n == 1, "maxevents 1");
    uint64_t first = out[0].data.u64;
    n = epoll_wait(ep, out, 1, 0);
    CHECK(n == 1 && out[0].data.u64 != first, "maxevents 1 starves the other entry");
    char c;
    CHECK(read(p[0], &c, 1) == 1, "read pipe");
    OK("mixed epoll set: utcp socket and pipe");

    /* Peer closes: EPOLLIN|EPOLLRDHUP. */
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev) == 0, "MOD");
    CHECK(shutdown(s, SHUT_WR) == 0, "shutdown");
    n = epoll_wait(ep, out, 8, 2000);
    CHECK(n == 1 && (out[0].events & (EPOLLIN | EPOLLRDHUP)) == (EPOLLIN | EPOLLRDHUP), "RDHUP: %d %x", n, n > 0 ? out[0].events : 0);
    OK("peer FIN: EPOLLIN|EPOLLRDHUP (events %#x)", out[0].events);

    /* close() drops the socket from the epoll; a new epoll on the same number is clean. */
    int s2 = socket(AF_INET, SOCK_STREAM, 0); /* fresh: POLLOUT|POLLHUP */
    struct epoll_event e2 = { .events = EPOLLOUT, .data.u64 = 9 };
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s2, &e2) == 0, "ADD fresh");
    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL) == 0, "DEL pipe");
    close(s);
    n = epoll_wait(ep, out, 8, 0);
    CHECK(n == 1 && out[0].data.u64 == 9 && out[0].events == (EPOLLOUT | EPOLLHUP), "after close: %d", n);
    close(s2);
    CHECK(epoll_wait(ep, out, 8, 0) == 0, "closed sockets still reported");
    int s3 = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s3, &e2) == 0, "ADD s3");
    int old = ep;
    close(ep);
    ep = epoll_create1(0);
    CHECK(ep == old, "epoll number not reused (%d, %d)", ep, old);
    CHECK(epoll_wait(ep, out, 8, 0) == 0, "new epoll on a reused number has old entries");
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s3, &e2) == 0 && epoll_wait(ep, out, 8, 0) == 1, "new epoll works");
    OK("close drops sockets from epolls; closing an epoll drops its table");

    /* Idle epoll_wait with a timeout sleeps, and times out on time. */
    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, s3, NULL) == 0, "DEL");
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &pev) == 0, "ADD pipe");
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in la = { .sin_family = AF_INET, .sin_port = htons(7999) };
    CHECK(bind(l, (struct sockaddr *)&la, sizeof la) == 0 && listen(l, 4) == 0, "listen");
    struct epoll_event lev = { .events = EPOLLIN, .data.u64 = 11 };
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, l, &lev) == 0, "ADD listener");
    t0 = now();
    n = epoll_wait(ep, out, 8, 300);
    dt = now() - t0;
    CHECK(n == 0 && dt > 0.29 && dt < 0.6, "epoll_wait timeout %d after %.3f", n, dt);
    OK("epoll_wait timeout after %.3f s", dt);
    printf("all ok\n");
    return 0;
}
