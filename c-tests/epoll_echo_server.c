/* Edge-triggered epoll echo server, nginx style: nonblocking sockets,
 * accept4 until EAGAIN, connections on EPOLLIN|EPOLLRDHUP|EPOLLET, read
 * until EAGAIN, send(MSG_NOSIGNAL), and EPOLL_CTL_MOD adding EPOLLOUT when
 * a send would block. stdin (a pipe) is in the same epoll: a mixed set.
 * usage: epoll_echo_server PORT COUNT -- exits after COUNT connections closed.
 * stdin lines: "cpu" prints "cpu USEC"; others "stdin: LINE"; EOF "stdin: EOF".
 * Prints how often a send blocked (EPOLLOUT waits). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define CAP (256 * 1024) /* pending bytes per connection before reading pauses */

struct conn {
    int fd;
    char *buf;
    size_t len; /* pending, not yet sent */
    int eof, out;
};

static int ep, served, blocked;
static long echoed;

static long cpu_usec(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static void on_stdin(void) {
    static char line[4096];
    static size_t used;
    for (;;) {
        ssize_t n = read(0, line + used, sizeof line - 1 - used);
        if (n == 0) {
            printf("stdin: EOF\n");
            fflush(stdout);
            epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
            return;
        }
        if (n < 0) return; /* EAGAIN (level-triggered: called again if more) */
        used += n;
        char *nl;
        while ((nl = memchr(line, '\n', used))) {
            *nl = 0;
            if (strcmp(line, "cpu") == 0) printf("cpu %ld\n", cpu_usec());
            else printf("stdin: %s\n", line);
            fflush(stdout);
            size_t rest = used - (nl + 1 - line);
            memmove(line, nl + 1, rest);
            used = rest;
        }
        return;
    }
}

static void arm(struct conn *c, int out) {
    if (c->out == out) return;
    struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET | (out ? EPOLLOUT : 0), .data.ptr = c };
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) { perror("epoll_ctl MOD"); exit(1); }
    c->out = out;
}

static void finish(struct conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); /* close alone would do too */
    close(c->fd);
    free(c->buf);
    free(c);
    served++;
}

/* Send what is pending; 1 if all went, 0 if it would block, -1 on error. */
static int flush_out(struct conn *c) {
    size_t off = 0;
    while (off < c->len) {
        ssize_t w = send(c->fd, c->buf + off, c->len - off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN) break;
            perror("send");
            return -1;
        }
        off += w;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    return c->len == 0;
}

/* Read until EAGAIN (or until CAP bytes wait to be sent), echo. */
static void serve(struct conn *c) {
    for (;;) {
        if (!c->eof && c->len < CAP) {
            ssize_t r = recv(c->fd, c->buf + c->len, CAP - c->len, 0);
            if (r > 0) { c->len += r; echoed += r; }
            else if (r == 0) c->eof = 1;
            else if (errno != EAGAIN) { perror("recv"); finish(c); return; }
            else if (c->len == 0) return; /* drained: wait for the next edge */
            if (r > 0 && c->len < CAP) continue;
        }
        int f = flush_out(c);
        if (f < 0) { finish(c); return; }
        if (f == 0) { blocked++; arm(c, 1); return; } /* EPOLLOUT will call us */
        arm(c, 0);
        if (c->eof) { finish(c); return; }
        /* Everything sent: go on reading until EAGAIN. */
    }
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 7000;
    int count = argc > 2 ? atoi(argv[2]) : -1;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l < 0) { perror("socket"); return 1; }
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (bind(l, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 1; }
    if (listen(l, 511) < 0) { perror("listen"); return 1; }
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) { perror("epoll_create1"); return 1; }
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    if (epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) < 0) { perror("epoll_ctl listener"); return 1; }
    if (epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) == 0 || errno != EEXIST) { fprintf(stderr, "second ADD: want EEXIST\n"); return 1; }
    struct epoll_event sev = { .events = EPOLLIN, .data.ptr = &ep };
    if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev) < 0) perror("epoll_ctl stdin (not a pipe?)");
    printf("listening on %d\n", port);
    fflush(stdout);
    struct epoll_event evs[64];
    while (count < 0 || served < count) {
        int n = epoll_wait(ep, evs, 64, 5000);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &ep) { on_stdin(); continue; }
            if (p == NULL) {
                for (;;) {
                    int fd = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) {
                        if (errno != EAGAIN) perror("accept4");
                        break;
                    }
                    /* A small send buffer, so sends to slow readers block. */
                    int sb = 16384;
                    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
                    struct conn *c = calloc(1, sizeof *c);
                    c->fd = fd;
                    c->buf = malloc(CAP);
                    struct epoll_event cev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = c };
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev) < 0) { perror("epoll_ctl ADD"); return 1; }
                }
                continue;
            }
            serve(p);
        }
    }
    printf("served %d, echoed %ld bytes, %d sends blocked\n", served, echoed, blocked);
    fflush(stdout);
    close(ep);
    close(l);
    return 0;
}
