/* AF_INET6 dual-stack sockets, as iperf3 and curl use them.
 *
 * usage: dualstack server PORT
 *   socket(AF_INET6), IPV6_V6ONLY=0, bind [::]:PORT, listen, accept one
 *   client, print its address ("peer ::ffff:a.b.c.d port N"), echo until
 *   EOF ("echoed N bytes"). Checks the families and the V6ONLY rules.
 * usage: dualstack client IPV4 PORT LOCAL_IPV4 [LOOP_PORT]
 *   connect (blocking, then nonblocking) to [::ffff:IPV4]:PORT, an echo
 *   server, and check that the local address is [::ffff:LOCAL_IPV4] (the
 *   stack's own), the peer [::ffff:IPV4]:PORT, the family AF_INET6, and
 *   that O_NONBLOCK and FD_CLOEXEC survive; then, with LOOP_PORT, connect
 *   to [::1]:LOOP_PORT and [::ffff:127.0.0.1]:LOOP_PORT (the kernel's).
 * Prints "ok ..." lines; exits 1 with "FAIL: ..." on the first problem. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHECK(c, ...)                                                                                                  \
    do {                                                                                                               \
        if (!(c)) {                                                                                                    \
            printf("FAIL: " __VA_ARGS__);                                                                              \
            printf(" (errno %s)\n", strerror(errno));                                                                  \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

static const char *fmt6(const struct sockaddr_in6 *a, char *buf) {
    char ip[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    sprintf(buf, "[%s]:%d", ip, ntohs(a->sin6_port));
    return buf;
}

static void mapped(struct sockaddr_in6 *a, const char *v4, int port) {
    char s[64];
    memset(a, 0, sizeof *a);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    snprintf(s, sizeof s, "::ffff:%s", v4);
    CHECK(inet_pton(AF_INET6, s, &a->sin6_addr) == 1, "bad address %s", v4);
}

static int intopt(int fd, int level, int name) {
    int v = -1;
    socklen_t l = sizeof v;
    CHECK(getsockopt(fd, level, name, &v, &l) == 0, "getsockopt(%d, %d)", level, name);
    return v;
}

/* getsockname/getpeername: an AF_INET6 address equal to `want`. */
static void check_name(int fd, int peer, const struct sockaddr_in6 *want, int check_port) {
    struct sockaddr_in6 a;
    socklen_t l = sizeof a;
    char b1[80], b2[80];
    memset(&a, 0, sizeof a);
    CHECK((peer ? getpeername(fd, (struct sockaddr *)&a, &l) : getsockname(fd, (struct sockaddr *)&a, &l)) == 0,
          "get%sname", peer ? "peer" : "sock");
    CHECK(l == sizeof a && a.sin6_family == AF_INET6, "get%sname: family %d length %u", peer ? "peer" : "sock",
          a.sin6_family, l);
    CHECK(memcmp(&a.sin6_addr, &want->sin6_addr, 16) == 0 && (!check_port || a.sin6_port == want->sin6_port),
          "get%sname: %s, expected %s", peer ? "peer" : "sock", fmt6(&a, b1), fmt6(want, b2));
    printf("ok get%sname %s\n", peer ? "peer" : "sock", fmt6(&a, b1));
}

static void echo_round(int fd, int n) {
    char out[4096], in[4096];
    for (int i = 0; i < n; i++) out[i] = (char)('a' + i % 26);
    CHECK(write(fd, out, n) == n, "write");
    int got = 0;
    while (got < n) {
        ssize_t r = read(fd, in + got, n - got);
        CHECK(r > 0, "read after %d of %d bytes", got, n);
        got += r;
    }
    CHECK(memcmp(in, out, n) == 0, "echo differs");
}

static int server(int port) {
    int l = socket(AF_INET6, SOCK_STREAM, 0);
    CHECK(l >= 0, "socket");
    int zero = 0, one = 1;
    CHECK(setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0, "SO_REUSEADDR");
    CHECK(setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) == 0, "IPV6_V6ONLY");
    struct sockaddr_in6 any = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_ANY_INIT};
    CHECK(bind(l, (struct sockaddr *)&any, sizeof any) == 0, "bind [::]:%d", port);
    CHECK(intopt(l, SOL_SOCKET, SO_DOMAIN) == AF_INET6, "SO_DOMAIN is not AF_INET6");
    CHECK(intopt(l, IPPROTO_IPV6, IPV6_V6ONLY) == 0, "IPV6_V6ONLY is not 0");
    CHECK(intopt(l, SOL_SOCKET, SO_REUSEADDR) == 1, "SO_REUSEADDR was not carried over");
    errno = 0;
    CHECK(setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0 && errno == EINVAL,
          "IPV6_V6ONLY after bind: expected EINVAL");
    check_name(l, 0, &any, 1);
    CHECK(listen(l, 8) == 0, "listen");
    printf("listening on %d\n", port);
    fflush(stdout);

    struct sockaddr_in6 peer;
    socklen_t plen = sizeof peer;
    int c = accept(l, (struct sockaddr *)&peer, &plen);
    CHECK(c >= 0, "accept");
    CHECK(plen == sizeof peer && peer.sin6_family == AF_INET6, "accept: family %d length %u", peer.sin6_family, plen);
    CHECK(IN6_IS_ADDR_V4MAPPED(&peer.sin6_addr), "accept: peer is not v4-mapped");
    char ip[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &peer.sin6_addr, ip, sizeof ip);
    printf("peer %s port %d\n", ip, ntohs(peer.sin6_port));
    check_name(c, 1, &peer, 1);
    CHECK(intopt(c, SOL_SOCKET, SO_DOMAIN) == AF_INET6, "accepted: SO_DOMAIN is not AF_INET6");
    struct sockaddr_in6 local;
    socklen_t llen = sizeof local;
    CHECK(getsockname(c, (struct sockaddr *)&local, &llen) == 0 && local.sin6_family == AF_INET6 &&
              IN6_IS_ADDR_V4MAPPED(&local.sin6_addr) && ntohs(local.sin6_port) == port,
          "accepted: getsockname is not v4-mapped with port %d", port);
    /* A short buffer is truncated and told the full length, as the kernel does. */
    struct sockaddr_in small;
    socklen_t slen = sizeof small;
    CHECK(getpeername(c, (struct sockaddr *)&small, &slen) == 0 && slen == sizeof(struct sockaddr_in6) &&
              small.sin_family == AF_INET6,
          "getpeername into a sockaddr_in: length %u", slen);
    long total = 0;
    char buf[65536];
    for (;;) {
        ssize_t r = read(c, buf, sizeof buf);
        CHECK(r >= 0, "read");
        if (r == 0) break;
        for (ssize_t o = 0; o < r;) {
            ssize_t w = write(c, buf + o, r - o);
            CHECK(w > 0, "write");
            o += w;
        }
        total += r;
    }
    close(c);
    close(l);
    printf("echoed %ld bytes for %s\n", total, ip);
    return 0;
}

static int client(const char *v4, int port, const char *local_v4, int loop_port) {
    struct sockaddr_in6 dst, me;
    mapped(&dst, v4, port);
    mapped(&me, local_v4, 0);

    /* Blocking. */
    int s = socket(AF_INET6, SOCK_STREAM, 0);
    CHECK(s >= 0, "socket");
    int one = 1;
    CHECK(setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0, "TCP_NODELAY");
    CHECK(connect(s, (struct sockaddr *)&dst, sizeof dst) == 0, "connect to [::ffff:%s]:%d", v4, port);
    check_name(s, 0, &me, 0);
    check_name(s, 1, &dst, 1);
    CHECK(intopt(s, SOL_SOCKET, SO_DOMAIN) == AF_INET6, "SO_DOMAIN is not AF_INET6");
    CHECK(intopt(s, IPPROTO_TCP, TCP_NODELAY) == 1, "TCP_NODELAY was not carried over");
    errno = 0;
    CHECK(setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0 && errno == EINVAL,
          "IPV6_V6ONLY after connect: expected EINVAL");
    echo_round(s, 3000);
    close(s);
    printf("ok blocking v4-mapped connection\n");

    /* Nonblocking, close-on-exec: the flags survive the conversion. */
    s = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK(s >= 0, "socket");
    int r = connect(s, (struct sockaddr *)&dst, sizeof dst);
    CHECK(r == 0 || errno == EINPROGRESS, "nonblocking connect");
    CHECK(fcntl(s, F_GETFL) & O_NONBLOCK, "O_NONBLOCK lost");
    CHECK(fcntl(s, F_GETFD) & FD_CLOEXEC, "FD_CLOEXEC lost");
    struct pollfd p = {.fd = s, .events = POLLOUT};
    CHECK(poll(&p, 1, 10000) == 1 && (p.revents & POLLOUT), "poll POLLOUT");
    CHECK(intopt(s, SOL_SOCKET, SO_ERROR) == 0, "SO_ERROR");
    check_name(s, 0, &me, 0);
    int fl = fcntl(s, F_GETFL);
    CHECK(fcntl(s, F_SETFL, fl & ~O_NONBLOCK) == 0, "F_SETFL");
    echo_round(s, 2000);
    close(s);
    printf("ok nonblocking v4-mapped connection\n");

    if (loop_port > 0) {
        /* Loopback: the kernel's, over IPv6 and v4-mapped IPv4. */
        const char *loops[] = {"::1", "::ffff:127.0.0.1"};
        for (int i = 0; i < 2; i++) {
            struct sockaddr_in6 d = {.sin6_family = AF_INET6, .sin6_port = htons(loop_port)};
            CHECK(inet_pton(AF_INET6, loops[i], &d.sin6_addr) == 1, "pton");
            s = socket(AF_INET6, SOCK_STREAM, 0);
            CHECK(s >= 0, "socket");
            CHECK(connect(s, (struct sockaddr *)&d, sizeof d) == 0, "connect to [%s]:%d", loops[i], loop_port);
            check_name(s, 1, &d, 1);
            check_name(s, 0, &d, 0);
            echo_round(s, 1000);
            close(s);
            printf("ok [%s] passes through\n", loops[i]);
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && strcmp(argv[1], "server") == 0) return server(atoi(argv[2]));
    if (argc >= 5 && strcmp(argv[1], "client") == 0)
        return client(argv[2], atoi(argv[3]), argv[4], argc > 5 ? atoi(argv[5]) : 0);
    fprintf(stderr, "usage: dualstack server PORT | dualstack client IPV4 PORT LOCAL_IPV4 [LOOP_PORT]\n");
    return 2;
}
