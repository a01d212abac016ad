#define _GNU_SOURCE
/* Descriptor operations on a utcp socket against an echo server:
 * FIONBIO/F_GETFL, dup, F_DUPFD_CLOEXEC, dup2, FIONREAD, SIOCOUTQ,
 * sendfile, close of one alias (the connection stays), close_range.
 * usage: fdops HOST PORT   -- prints "fdops ok" and exits 0 when all hold. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "FAILED line %d: %s (errno %s)\n", __LINE__, #c, strerror(errno)); exit(1); } } while (0)

static void read_exact(int fd, char *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        CHECK(r > 0);
        got += r;
    }
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: fdops HOST PORT\n"); return 2; }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(s >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    CHECK(connect(s, (struct sockaddr *)&a, sizeof a) == 0);

    /* O_NONBLOCK by FIONBIO shows in F_GETFL; a read then fails with EAGAIN. */
    int on = 1, off = 0;
    CHECK((fcntl(s, F_GETFL) & O_NONBLOCK) == 0);
    CHECK(ioctl(s, FIONBIO, &on) == 0);
    CHECK((fcntl(s, F_GETFL) & O_NONBLOCK) != 0);
    char buf[8192];
    CHECK(read(s, buf, sizeof buf) == -1 && errno == EAGAIN);
    CHECK(ioctl(s, FIONBIO, &off) == 0);

    /* dup: same connection through another number, flags shared. */
    int d = dup(s);
    CHECK(d >= 0 && d != s);
    CHECK(write(d, "hello", 5) == 5);
    struct pollfd p = { .fd = s, .events = POLLIN };
    CHECK(poll(&p, 1, 5000) == 1);
    usleep(50000);
    int avail = -1;
    CHECK(ioctl(s, FIONREAD, &avail) == 0 && avail == 5);
    read_exact(s, buf, 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    int outq = -1;
    CHECK(ioctl(d, SIOCOUTQ, &outq) == 0 && outq == 0);

    /* F_DUPFD_CLOEXEC at or above 100, with FD_CLOEXEC; dup2 onto 50. */
    int d2 = fcntl(s, F_DUPFD_CLOEXEC, 100);
    CHECK(d2 >= 100);
    CHECK(fcntl(d2, F_GETFD) & FD_CLOEXEC);
    CHECK(dup2(s, 50) == 50);
    CHECK(write(50, "abc", 3) == 3);
    read_exact(d2, buf, 3);
    CHECK(memcmp(buf, "abc", 3) == 0);

    /* Closing one alias keeps the connection. */
    CHECK(close(s) == 0);
    CHECK(close(s) == -1 && errno == EBADF);
    CHECK(write(d, "xyz", 3) == 3);
    read_exact(d, buf, 3);
    CHECK(memcmp(buf, "xyz", 3) == 0);

    /* sendfile from a file, with and without an offset. */
    char path[] = "/tmp/utcp-fdops-XXXXXX";
    int f = mkstemp(path);
    CHECK(f >= 0);
    unlink(path);
    static char data[100000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (char)(i * 13 % 251);
    CHECK(write(f, data, sizeof data) == (ssize_t)sizeof data);
    off_t o = 1000;
    CHECK(sendfile(d, f, &o, 50000) == 50000 && o == 51000);
    static char back[100000];
    read_exact(d, back, 50000);
    CHECK(memcmp(back, data + 1000, 50000) == 0);
    CHECK(lseek(f, 0, SEEK_SET) == 0);
    CHECK(sendfile(d, f, NULL, sizeof data) == (ssize_t)sizeof data);
    CHECK(lseek(f, 0, SEEK_CUR) == (off_t)sizeof data);
    read_exact(d, back, sizeof data);
    CHECK(memcmp(back, data, sizeof data) == 0);

    /* close_range over every alias: the echo server sees EOF, we see ours. */
    CHECK(shutdown(50, SHUT_WR) == 0);
    CHECK(read(d2, buf, sizeof buf) == 0);
    CHECK(close_range(d < 50 ? d : 50, 200, 0) == 0);
    CHECK(fcntl(d2, F_GETFL) == -1 && errno == EBADF);
    CHECK(fcntl(d, F_GETFL) == -1 && errno == EBADF);
    printf("fdops ok\n");
    return 0;
}
