/* Fork-per-connection echo server, UNP style (Stevens, tcpserv04): a
 * blocking accept interrupted by SIGCHLD (handler without SA_RESTART)
 * is restarted by hand; each connection is served by a forked child; the
 * parent closes its copy right after fork (that close must not send FIN:
 * the child still holds the connection).
 *
 * usage: fork_echo_server PORT COUNT [daemon]
 *   Serves COUNT connections, waits for its children, prints
 *   "served N, accept EINTR M, child failures F" and exits 0 if all went well.
 *   With "daemon", the process forks right after listen() and the parent
 *   exits at once (after printing "listening"); the child (setsid) serves. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t reaped, failures;

static void sig_chld(int signo) {
    (void)signo;
    int saved = errno, status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        reaped++;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failures++;
    }
    errno = saved;
}

static int echo(int c) {
    char buf[16384];
    ssize_t n;
    for (;;) {
        n = read(c, buf, sizeof buf);
        if (n == 0) return 0;
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("child read");
            return 1;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(c, buf + off, n - off);
            if (w < 0) {
                if (errno == EINTR) continue;
                perror("child write");
                return 1;
            }
            off += w;
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: fork_echo_server PORT COUNT [daemon]\n"); return 2; }
    int port = atoi(argv[1]), count = atoi(argv[2]);
    int daemonise = argc > 3 && strcmp(argv[3], "daemon") == 0;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0) { perror("socket"); return 1; }
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (bind(l, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 1; }
    /* LISTENQ as in UNP: a short backlog overflows under 100 simultaneous
     * connects, SYN cookies take over, and (as on Linux) a client whose
     * cookie ACK met a full accept queue is reset by its next segment. */
    if (listen(l, 1024) < 0) { perror("listen"); return 1; }
    if (daemonise) {
        pid_t p = fork();
        if (p < 0) { perror("fork"); return 1; }
        if (p > 0) {
            printf("listening on %d (daemon pid %d; parent exits)\n", port, (int)p);
            fflush(stdout);
            exit(0); /* releases only the parent's holds: the listener stays */
        }
        setsid();
    } else {
        printf("listening on %d\n", port);
        fflush(stdout);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = sig_chld;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: accept fails with EINTR */
    sigaction(SIGCHLD, &sa, NULL);

    int served = 0, eintr = 0, forked = 0;
    while (served < count) {
        struct sockaddr_in peer;
        socklen_t plen = sizeof peer;
        int c = accept(l, (struct sockaddr *)&peer, &plen);
        if (c < 0) {
            if (errno == EINTR) { eintr++; continue; }
            perror("accept");
            return 1;
        }
        pid_t p = fork();
        if (p < 0) { perror("fork"); return 1; }
        if (p == 0) {
            close(l);
            int r = echo(c);
            close(c);
            /* Linger a little, so that most SIGCHLDs reach a parent asleep in accept. */
            usleep(100000);
            exit(r);
        }
        forked++;
        close(c); /* the parent's copy: no FIN, the child serves on */
        served++;
    }
    close(l);
    /* Wait for the children (the handler reaps them; block SIGCHLD while checking). */
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    for (int i = 0; i < 600; i++) {
        sigprocmask(SIG_BLOCK, &chld, &old);
        int done = reaped >= forked;
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (done) break;
        usleep(50000);
    }
    printf("served %d, accept EINTR %d, child failures %d, reaped %d\n", served, eintr, (int)failures, (int)reaped);
    fflush(stdout);
    return (failures == 0 && reaped == forked) ? 0 : 1;
}
