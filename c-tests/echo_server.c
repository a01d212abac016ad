/* Blocking echo server, one connection at a time (UNP style, no fork).
 * usage: echo_server PORT [COUNT]  -- serves COUNT connections (default: forever) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 7000;
    int count = argc > 2 ? atoi(argv[2]) : -1;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0) { perror("socket"); return 1; }
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (bind(l, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 1; }
    if (listen(l, 16) < 0) { perror("listen"); return 1; }
    printf("listening on %d\n", port);
    fflush(stdout);
    while (count != 0) {
        struct sockaddr_in peer; socklen_t plen = sizeof peer;
        int c = accept(l, (struct sockaddr *)&peer, &plen);
        if (c < 0) { perror("accept"); continue; }
        char buf[65536];
        ssize_t n;
        long total = 0;
        while ((n = read(c, buf, sizeof buf)) > 0) {
            ssize_t off = 0;
            while (off < n) {
                ssize_t w = write(c, buf + off, n - off);
                if (w < 0) { perror("write"); break; }
                off += w;
            }
            total += n;
        }
        if (n < 0) perror("read");
        printf("echoed %ld bytes for %s:%d\n", total, inet_ntoa(peer.sin_addr), ntohs(peer.sin_port));
        fflush(stdout);
        close(c);
        if (count > 0) count--;
    }
    close(l);
    return 0;
}
