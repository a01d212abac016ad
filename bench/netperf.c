/* A small netperf for comparing utcp with kernel TCP in the same run.
 *   netperf server PORT                 serve clients one at a time, forever
 *   netperf send HOST PORT SECS         bulk: client sends, server discards
 *   netperf recv HOST PORT SECS         bulk: server sends, client discards
 *   netperf rr   HOST PORT COUNT        64-byte request/response round trips
 *   netperf crr  HOST PORT SECS         connect, 1-byte echo, close, repeat
 *   netperf pipe COUNT                  1-byte write+read on a pipe (hook cost)
 * Prints one line "RESULT <mode> <value> <unit> [extra]". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int cmp_double(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
static void die(const char *m) { perror(m); exit(1); }

static int readn(int fd, char *b, size_t n) {
    size_t got = 0;
    while (got < n) { ssize_t r = read(fd, b + got, n - got); if (r <= 0) return -1; got += r; }
    return 0;
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

static void serve(int port) {
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 128) < 0) die("listen");
    printf("listening\n"); fflush(stdout);
    static char buf[1 << 17];
    for (;;) {
        int c = accept(l, NULL, NULL);
        if (c < 0) continue;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char mode;
        if (readn(c, &mode, 1) < 0) { close(c); continue; }
        if (mode == 'B') { while (read(c, buf, sizeof buf) > 0) {} }
        else if (mode == 'S') { double secs; if (readn(c, (char *)&secs, sizeof secs) == 0) { double end = now() + secs; while (now() < end) if (write(c, buf, sizeof buf) < 0) break; } }
        else if (mode == 'R') { char m[64]; while (readn(c, m, 64) == 0) if (write(c, m, 64) != 64) break; }
        else if (mode == 'C') { if (write(c, &mode, 1) != 1) {} }
        close(c);
    }
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: see the top of netperf.c\n"); return 2; }
    const char *m = argv[1];
    if (!strcmp(m, "server")) { serve(atoi(argv[2])); return 0; }
    if (!strcmp(m, "pipe")) {
        long n = atol(argv[2]); int p[2]; char c = 'x';
        if (pipe(p) < 0) die("pipe");
        double t0 = now();
        for (long i = 0; i < n; i++) { if (write(p[1], &c, 1) != 1 || read(p[0], &c, 1) != 1) die("pipe io"); }
        printf("RESULT pipe %.1f ns/op\n", (now() - t0) / n * 1e9);
        return 0;
    }
    if (argc < 5) { fprintf(stderr, "usage: see the top of netperf.c\n"); return 2; }
    const char *host = argv[2]; int port = atoi(argv[3]);
    static char buf[1 << 17];
    if (!strcmp(m, "send")) {
        double secs = atof(argv[4]); int s = dial(host, port);
        if (write(s, "B", 1) != 1) die("write");
        double t0 = now(), end = t0 + secs; long long bytes = 0;
        while (now() < end) { ssize_t w = write(s, buf, sizeof buf); if (w <= 0) die("write"); bytes += w; }
        shutdown(s, SHUT_WR); while (read(s, buf, sizeof buf) > 0) {}
        double t = now() - t0;
        printf("RESULT send %.3f Gbit/s\n", bytes * 8 / t / 1e9);
        return 0;
    }
    if (!strcmp(m, "recv")) {
        double secs = atof(argv[4]); int s = dial(host, port);
        char hdr[1 + sizeof(double)]; hdr[0] = 'S'; memcpy(hdr + 1, &secs, sizeof secs);
        if (write(s, hdr, sizeof hdr) != (ssize_t)sizeof hdr) die("write");
        double t0 = now(); long long bytes = 0; ssize_t r;
        while ((r = read(s, buf, sizeof buf)) > 0) bytes += r;
        double t = now() - t0;
        printf("RESULT recv %.3f Gbit/s\n", bytes * 8 / t / 1e9);
        return 0;
    }
    if (!strcmp(m, "rr")) {
        long n = atol(argv[4]); int s = dial(host, port);
        if (write(s, "R", 1) != 1) die("write");
        double *lat = malloc(n * sizeof *lat); char msg[64] = {0};
        for (long i = 0; i < n; i++) {
            double t0 = now();
            if (write(s, msg, 64) != 64 || readn(s, msg, 64) < 0) die("rr");
            lat[i] = now() - t0;
        }
        qsort(lat, n, sizeof *lat, cmp_double);
        printf("RESULT rr %.1f us_p50 p99=%.1f\n", lat[n / 2] * 1e6, lat[n * 99 / 100] * 1e6);
        return 0;
    }
    if (!strcmp(m, "crr")) {
        double secs = atof(argv[4]), t0 = now(), end = t0 + secs; long n = 0; char c;
        while (now() < end) {
            int s = dial(host, port);
            if (write(s, "C", 1) != 1 || read(s, &c, 1) != 1) die("crr");
            close(s); n++;
        }
        printf("RESULT crr %.0f conn/s\n", n / (now() - t0));
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", m);
    return 2;
}
