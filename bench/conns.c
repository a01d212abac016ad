/* Many concurrent connections in one process, for scripts/bench-conns.
 *   conns server PORT N          kernel side: accept N connections and
 *                                echo whatever arrives on any of them
 *                                (epoll), until every client hung up
 *   conns client HOST PORT N     open N connections (run under utcp), and
 *                                report memory and the cost of one busy
 *                                connection among N idle ones
 * The client prints "RESULT <name> <value> <unit>" lines:
 *   rss_base     KiB of VmRSS with one connection open (stack started)
 *   per_conn     bytes of VmRSS growth per idle connection, 1 -> N
 *   per_conn_io  bytes per connection after each echoed 1 byte (buffers)
 *   rr_1, rr_n   64-byte round trip p50 on one connection, with 1 and
 *                with N connections open (demux and timers at scale)
 *   epoll_n      µs from a 1-byte write on one connection to epoll_wait
 *                reporting its echo, all N connections in the epoll
 *   setup_rate   connections opened per second (blocking connect)
 * Both sides raise RLIMIT_NOFILE to its hard limit. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int cmp_double(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
static void die(const char *m) { perror(m); exit(1); }

static void raise_nofile(long need) {
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) < 0) die("getrlimit");
    r.rlim_cur = r.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &r) < 0) die("setrlimit");
    if ((long)r.rlim_cur < need) { fprintf(stderr, "RLIMIT_NOFILE hard limit %ld < %ld\n", (long)r.rlim_cur, need); exit(1); }
}

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256]; long v = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) if (sscanf(line, "VmRSS: %ld", &v) == 1) break;
    fclose(f);
    return v;
}

static int readn(int fd, char *b, size_t n) {
    size_t got = 0;
    while (got < n) { ssize_t r = read(fd, b + got, n - got); if (r <= 0) return -1; got += r; }
    return 0;
}

static void serve(int port, long n) {
    raise_nofile(n + 64);
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 4096) < 0) die("listen");
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = l };
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    printf("listening\n"); fflush(stdout);
    long open = 0, accepted = 0;
    static struct epoll_event out[256];
    static char buf[1 << 16];
    while (accepted < n || open > 0) {
        int k = epoll_wait(ep, out, 256, -1);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) die("epoll_wait");
        for (int i = 0; i < k; i++) {
            int fd = out[i].data.fd;
            if (fd == l) {
                int c = accept(l, NULL, NULL);
                if (c < 0) continue;
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                struct epoll_event e = { .events = EPOLLIN, .data.fd = c };
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
                accepted++; open++;
                continue;
            }
            ssize_t r = read(fd, buf, sizeof buf);
            if (r <= 0) { close(fd); open--; continue; }
            if (write(fd, buf, r) != r) { close(fd); open--; }
        }
    }
}

static int dial(const char *host, int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) die("socket");
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return s;
}

static double rr_p50(int s, int rounds) {
    static double lat[4096]; char msg[64] = {0};
    if (rounds > 4096) rounds = 4096;
    for (int i = 0; i < rounds; i++) {
        double t0 = now();
        if (write(s, msg, 64) != 64 || readn(s, msg, 64) < 0) die("rr");
        lat[i] = now() - t0;
    }
    qsort(lat, rounds, sizeof *lat, cmp_double);
    return lat[rounds / 2] * 1e6;
}

static void client(const char *host, int port, long n) {
    raise_nofile(n + 64);
    int *fds = calloc(n, sizeof *fds);
    if (!fds) die("calloc");
    fds[0] = dial(host, port);
    double rr1 = rr_p50(fds[0], 2000);
    long base = rss_kib();
    double t0 = now();
    for (long i = 1; i < n; i++) fds[i] = dial(host, port);
    double t1 = now();
    /* The server accepts in order: once the last connection echoes, it
     * has accepted every one and is idle again. */
    char c = 'x';
    if (write(fds[n - 1], &c, 1) != 1 || readn(fds[n - 1], &c, 1) < 0) die("sync");
    long full = rss_kib();
    double rrn = rr_p50(fds[0], 2000);
    /* epoll over every connection; only fds[0] becomes ready. */
    int ep = epoll_create1(0);
    for (long i = 0; i < n; i++) {
        struct epoll_event e = { .events = EPOLLIN, .data.u64 = i };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e) < 0) die("epoll_ctl");
    }
    struct epoll_event out[16];
    int waits = 200; double tw = 0;
    for (int i = 0; i < waits; i++) {
        if (write(fds[0], &c, 1) != 1) die("write");
        double a = now();
        int k;
        do k = epoll_wait(ep, out, 16, 1000); while (k < 0 && errno == EINTR);
        tw += now() - a;
        if (k < 1 || readn(fds[0], &c, 1) < 0) die("epoll echo");
    }
    close(ep);
    /* One byte each way on every connection: the buffers it leaves. */
    for (long i = 0; i < n; i++) if (write(fds[i], &c, 1) != 1 || readn(fds[i], &c, 1) < 0) die("echo");
    long io = rss_kib();
    printf("RESULT conns %ld connections\n", n);
    printf("RESULT setup_rate %.0f conn/s\n", (n - 1) / (t1 - t0));
    printf("RESULT rss_base %ld KiB\n", base);
    printf("RESULT per_conn %.0f bytes\n", (full - base) * 1024.0 / (n - 1));
    printf("RESULT per_conn_io %.0f bytes\n", (io - base) * 1024.0 / (n - 1));
    printf("RESULT rr_1 %.1f us_p50\n", rr1);
    printf("RESULT rr_n %.1f us_p50\n", rrn);
    printf("RESULT epoll_n %.1f us\n", tw / waits * 1e6);
    fflush(stdout);
    for (long i = 0; i < n; i++) close(fds[i]);
}

int main(int argc, char **argv) {
    if (argc >= 4 && !strcmp(argv[1], "server")) { serve(atoi(argv[2]), atol(argv[3])); return 0; }
    if (argc >= 5 && !strcmp(argv[1], "client")) { long n = atol(argv[4]); if (n < 2) n = 2; client(argv[2], atoi(argv[3]), n); return 0; }
    fprintf(stderr, "usage: see the top of conns.c\n");
    return 2;
}
