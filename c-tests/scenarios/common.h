/* Shared helpers for the kernel-comparison scenarios (scripts/compare).
 * Every socket call prints one canonical transcript line:
 *   connect(fd1, 198.18.1.2:7000) = -1 ECONNREFUSED
 * File descriptors are named in order of creation (fd1, fd2, ...) so the
 * transcript does not depend on which kernel fd number a socket got (utcp
 * holds a TUN fd and placeholders of its own). */
#define _GNU_SOURCE
#pragma GCC diagnostic ignored "-Wunused-function"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int fdname_[4096], nfd_;
static const char *PEER = "198.18.1.2";

static const char *F(int fd) {
    static char b[8][16];
    static int k;
    k = (k + 1) % 8;
    if (fd >= 0 && fd < 4096 && fdname_[fd])
        snprintf(b[k], 16, "fd%d", fdname_[fd]);
    else
        snprintf(b[k], 16, "%d", fd);
    return b[k];
}
static void newfd(int fd) { if (fd >= 0 && fd < 4096) fdname_[fd] = ++nfd_; }
static long res(long r, int e) {
    if (r < 0) printf(" = -1 %s\n", strerrorname_np(e));
    else printf(" = %ld\n", r);
    fflush(stdout);
    return r;
}
static void init(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    if (argc > 1) PEER = argv[1];
}
static void msleep(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}
static struct sockaddr_in sin_(const char *ip, int port) {
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}
static int t_socket(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), e = errno;
    newfd(fd);
    printf("socket(AF_INET, SOCK_STREAM, 0)");
    if (fd >= 0) { printf(" = %s\n", F(fd)); return fd; }
    res(fd, e);
    return fd;
}
static int t_connect(int fd, const char *ip, int port) {
    struct sockaddr_in a = sin_(ip, port);
    int r = connect(fd, (struct sockaddr *)&a, sizeof a), e = errno;
    printf("connect(%s, %s:%d)", F(fd), strcmp(ip, PEER) ? ip : "PEER", port);
    return res(r, e);
}
static int t_bind_any(int fd, int port) {
    struct sockaddr_in a = sin_("0.0.0.0", port);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int r = bind(fd, (struct sockaddr *)&a, sizeof a), e = errno;
    printf("bind(%s, 0.0.0.0:%d)", F(fd), port);
    return res(r, e);
}
static int t_listen(int fd, int backlog) {
    int r = listen(fd, backlog), e = errno;
    printf("listen(%s, %d)", F(fd), backlog);
    return res(r, e);
}
static int t_accept(int fd) {
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    int r = accept(fd, (struct sockaddr *)&a, &l), e = errno;
    newfd(r);
    if (r >= 0) {
        char ip[32];
        inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
        printf("accept(%s) = %s from %s:%d\n", F(fd), F(r), strcmp(ip, PEER) ? ip : "PEER", ntohs(a.sin_port));
        return r;
    }
    printf("accept(%s)", F(fd));
    return res(r, e);
}
static long t_write(int fd, const void *buf, size_t n) {
    long r = write(fd, buf, n);
    int e = errno;
    printf("write(%s, %zu)", F(fd), n);
    return res(r, e);
}
static long t_writes(int fd, const char *s) { return t_write(fd, s, strlen(s)); }
static long t_read(int fd, size_t n) {
    char buf[65536];
    if (n > sizeof buf) n = sizeof buf;
    long r = read(fd, buf, n);
    int e = errno;
    printf("read(%s, %zu)", F(fd), n);
    if (r > 0 && r <= 64) {
        printf(" = %ld \"%.*s\"\n", r, (int)r, buf);
        return r;
    }
    return res(r, e);
}
/* Reads until EOF or error; prints every call. Bounded. */
static void t_read_all(int fd) {
    for (int i = 0; i < 64; i++)
        if (t_read(fd, 4096) <= 0) break;
}
static int t_close(int fd) {
    int r = close(fd), e = errno;
    printf("close(%s)", F(fd));
    return res(r, e);
}
static int t_shutdown(int fd, int how) {
    int r = shutdown(fd, how), e = errno;
    printf("shutdown(%s, %s)", F(fd), how == SHUT_WR ? "SHUT_WR" : how == SHUT_RD ? "SHUT_RD" : "SHUT_RDWR");
    return res(r, e);
}
static int t_linger0(int fd) {
    struct linger l = {1, 0};
    int r = setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l), e = errno;
    printf("setsockopt(%s, SO_LINGER, {1, 0})", F(fd));
    return res(r, e);
}
static int t_nonblock(int fd) {
    int r = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), e = errno;
    printf("fcntl(%s, F_SETFL, O_NONBLOCK)", F(fd));
    return res(r, e);
}
static const char *evs(int ev) {
    static char b[128];
    b[0] = 0;
    if (ev & POLLIN) strcat(b, "|POLLIN");
    if (ev & POLLOUT) strcat(b, "|POLLOUT");
    if (ev & POLLERR) strcat(b, "|POLLERR");
    if (ev & POLLHUP) strcat(b, "|POLLHUP");
    if (ev & POLLRDHUP) strcat(b, "|POLLRDHUP");
    return b[0] ? b + 1 : "0";
}
static int t_poll(int fd, int events, int ms) {
    struct pollfd p = {fd, (short)events, 0};
    int r = poll(&p, 1, ms), e = errno;
    printf("poll([%s %s], %d)", F(fd), evs(events), ms);
    if (r < 0) return res(r, e);
    printf(" = %d [%s]\n", r, evs(p.revents));
    return r;
}
static int t_so_error(int fd) {
    int v = -1;
    socklen_t l = sizeof v;
    int r = getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &l), e = errno;
    printf("getsockopt(%s, SO_ERROR)", F(fd));
    if (r < 0) return res(r, e);
    printf(" = 0 [%s]\n", v ? strerrorname_np(v) : "0");
    return v;
}
/* bind() without touching SO_REUSEADDR (t_bind_any sets it). */
static int t_bind(int fd, int port) {
    struct sockaddr_in a = sin_("0.0.0.0", port);
    int r = bind(fd, (struct sockaddr *)&a, sizeof a), e = errno;
    printf("bind(%s, 0.0.0.0:%d)", F(fd), port);
    return res(r, e);
}
/* setsockopt with an int value, printed by name. */
static int t_setint_(int fd, int level, int opt, const char *name, int v) {
    int r = setsockopt(fd, level, opt, &v, sizeof v), e = errno;
    printf("setsockopt(%s, %s, %d)", F(fd), name, v);
    return res(r, e);
}
#define t_setint(fd, level, opt, v) t_setint_(fd, level, opt, #opt, v)
/* Waits (bounded, 10 s) until the peer creates the file NAME in the
 * working directory (tools/compare/run-one.sh runs both there): the peer
 * says "now" without any packet. */
static void wait_mark(const char *name) {
    for (int i = 0; i < 500 && access(name, F_OK) != 0; i++) msleep(20);
    printf("# %s\n", access(name, F_OK) == 0 ? name : "no mark (timeout)");
}
