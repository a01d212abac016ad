/* inetd style: accept, fork, dup2 the connection onto fds 0 and 1, exec a
 * program that reads stdin and writes stdout (the socket is inherited
 * across execve, no FD_CLOEXEC). The listener is FD_CLOEXEC, as inetd and
 * socat make theirs, so the exec'd image holds only the connection.
 *
 * usage: inetd PORT COUNT PROG [ARGS...]
 * Serves COUNT connections, reaps the children, prints a summary line:
 *   served N, exec failures F, reaped R
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s PORT COUNT PROG [ARGS...]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]), count = atoi(argv[2]);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1024) < 0) { /* LISTENQ, as fork_echo_server.c */
        perror("listen");
        return 1;
    }
    printf("listening on %d\n", port);
    fflush(stdout);
    int served = 0, failures = 0, reaped = 0;
    while (served < count) {
        int c = accept(l, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            perror("accept");
            return 1;
        }
        served++;
        pid_t p = fork();
        if (p < 0) {
            perror("fork");
            return 1;
        }
        if (p == 0) {
            if (dup2(c, 0) < 0 || dup2(c, 1) < 0) {
                perror("dup2");
                _exit(126);
            }
            close(c);
            execvp(argv[3], argv + 3);
            perror("execvp");
            _exit(127);
        }
        close(c);
        int st;
        while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
            reaped++;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                failures++;
                fprintf(stderr, "inetd: child %d: status 0x%x\n", (int)p, st);
            }
        }
    }
    int st;
    pid_t p;
    while ((p = wait(&st)) > 0) {
        reaped++;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            failures++;
            fprintf(stderr, "inetd: child %d: status 0x%x\n", (int)p, st);
        }
    }
    printf("served %d, exec failures %d, reaped %d\n", served, failures, reaped);
    return 0;
}
