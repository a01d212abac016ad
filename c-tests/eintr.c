/* A blocking accept() interrupted by a signal: EINTR when the handler was
 * installed without SA_RESTART, transparently restarted with it (the accept
 * then returns the connection that arrives later).
 * usage: eintr PORT restart|norestart
 * Prints "accept: EINTR" or "accept: ok" and exits 0 on the expected outcome. */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t fired;
static void on_alarm(int sig) { (void)sig; fired = 1; }

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: eintr PORT restart|norestart\n"); return 2; }
    int restart = strcmp(argv[2], "restart") == 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGALRM, &sa, NULL);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
    if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 4) < 0) { perror("listen"); return 1; }
    printf("listening\n");
    fflush(stdout);
    alarm(1);
    int c = accept(l, NULL, NULL);
    if (c < 0 && errno == EINTR) {
        printf("accept: EINTR (signal %s)\n", fired ? "delivered" : "missing");
        return restart ? 1 : 0;
    }
    if (c < 0) { perror("accept"); return 1; }
    printf("accept: ok (signal %s)\n", fired ? "delivered" : "missing");
    close(c);
    return restart && fired ? 0 : 1;
}
