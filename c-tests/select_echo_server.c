/* select-based echo server over many clients, also watching stdin (a pipe):
 * a mixed set of utcp sockets and a kernel fd in one select.
 * usage: select_echo_server PORT COUNT -- exits after COUNT connections closed.
 * stdin lines: "cpu" prints "cpu USEC" (process user+system time, all
 * threads); anything else prints "stdin: LINE"; EOF prints "stdin: EOF".
 * Built with _FORTIFY_SOURCE=2, so FD_SET goes through __fdelt_chk. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

static long cpu_usec(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static void on_stdin(int *watch) {
    static char line[4096];
    static size_t used;
    ssize_t n = read(0, line + used, sizeof line - 1 - used);
    if (n <= 0) {
        printf("stdin: EOF\n");
        fflush(stdout);
        *watch = 0;
        return;
    }
    used += n;
    char *nl;
    while ((nl = memchr(line, '\n', used))) {
        *nl = 0;
        if (strcmp(line, "cpu") == 0)
            printf("cpu %ld\n", cpu_usec());
        else
            printf("stdin: %s\n", line);
        fflush(stdout);
        size_t rest = used - (nl + 1 - line);
        memmove(line, nl + 1, rest);
        used = rest;
    }
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 7000;
    int count = argc > 2 ? atoi(argv[2]) : -1;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0) { perror("socket"); return 1; }
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (bind(l, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 1; }
    if (listen(l, 128) < 0) { perror("listen"); return 1; }
    printf("listening on %d\n", port);
    fflush(stdout);
    int clients[FD_SETSIZE];
    int nclients = 0, watch_stdin = 1, served = 0, timeouts = 0;
    long echoed = 0;
    while (count < 0 || served < count) {
        fd_set rd, ex;
        FD_ZERO(&rd);
        FD_ZERO(&ex);
        int maxfd = l;
        FD_SET(l, &rd);
        if (watch_stdin) FD_SET(0, &rd);
        for (int i = 0; i < nclients; i++) {
            FD_SET(clients[i], &rd);
            FD_SET(clients[i], &ex);
            if (clients[i] > maxfd) maxfd = clients[i];
        }
        struct timeval tv = { .tv_sec = 2, .tv_usec = 500000 };
        int n = select(maxfd + 1, &rd, NULL, &ex, &tv);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("select");
            return 1;
        }
        if (tv.tv_sec > 2 || (tv.tv_sec == 2 && tv.tv_usec > 500000)) {
            fprintf(stderr, "select did not update the timeout: %ld.%06ld\n", (long)tv.tv_sec, (long)tv.tv_usec);
            return 1;
        }
        if (n == 0) {
            if (tv.tv_sec != 0 || tv.tv_usec != 0) { fprintf(stderr, "timeout left %ld.%06ld\n", (long)tv.tv_sec, (long)tv.tv_usec); return 1; }
            timeouts++;
            continue;
        }
        int seen = 0;
        if (watch_stdin && FD_ISSET(0, &rd)) { seen++; on_stdin(&watch_stdin); }
        if (FD_ISSET(l, &rd)) {
            seen++;
            int c = accept(l, NULL, NULL);
            if (c < 0) perror("accept");
            else if (c >= FD_SETSIZE || nclients == FD_SETSIZE) { close(c); }
            else clients[nclients++] = c;
        }
        for (int i = 0; i < nclients; i++) {
            int c = clients[i];
            if (FD_ISSET(c, &ex)) { fprintf(stderr, "exceptional condition on %d\n", c); return 1; }
            if (!FD_ISSET(c, &rd)) continue;
            seen++;
            char buf[16384];
            ssize_t r = read(c, buf, sizeof buf);
            if (r > 0) {
                ssize_t off = 0;
                while (off < r) {
                    ssize_t w = write(c, buf + off, r - off);
                    if (w < 0) { perror("write"); break; }
                    off += w;
                }
                echoed += r;
                continue;
            }
            if (r < 0) perror("read");
            close(c);
            clients[i--] = clients[--nclients];
            served++;
        }
        if (seen != n) { fprintf(stderr, "select returned %d but %d fds were set\n", n, seen); return 1; }
    }
    printf("served %d, echoed %ld bytes, %d timeouts\n", served, echoed, timeouts);
    fflush(stdout);
    close(l);
    return 0;
}
