/* Connects, writes a line and exits without close(): the kernel sends FIN
 * for an exiting process, and so must utcp. With "unread", it first waits
 * for data from the server and leaves it unread: then the exit sends RST.
 * usage: exit_noclose HOST PORT [unread] */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: exit_noclose HOST PORT [unread]\n"); return 2; }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); return 1; }
    if (write(s, "bye\n", 4) != 4) { perror("write"); return 1; }
    if (argc > 3 && strcmp(argv[3], "unread") == 0) {
        struct pollfd p = { .fd = s, .events = POLLIN };
        if (poll(&p, 1, 5000) != 1) { fprintf(stderr, "no data from the server\n"); return 1; }
    }
    printf("exiting without close\n");
    return 0;
}
