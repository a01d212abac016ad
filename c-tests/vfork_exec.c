/* exec paths that must leave the process's utcp sockets working: a failed
 * execl in the process itself (its stack threads are parked for the exec
 * and must carry on), and vfork + exec of a program (the vfork child runs
 * in this process's memory and must not park our threads).
 * usage: vfork_exec ADDR PORT   (an echo server there) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int echo_once(int s, const char *msg) {
    size_t n = strlen(msg);
    char buf[64];
    if (write(s, msg, n) != (ssize_t)n) { perror("write"); return 1; }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(s, buf + got, n - got);
        if (r <= 0) { perror("read"); return 1; }
        got += r;
    }
    if (memcmp(buf, msg, n) != 0) { fprintf(stderr, "echo differs\n"); return 1; }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: vfork_exec ADDR PORT\n"); return 2; }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); return 1; }
    if (echo_once(s, "before")) return 1;

    errno = 0;
    int r = execl("/nonexistent/program", "program", (char *)NULL);
    printf("execl(/nonexistent/program) = %d %s\n", r, strerror(errno));
    if (echo_once(s, "after a failed exec")) return 1;

    for (int i = 0; i < 20; i++) {
        pid_t p = vfork();
        if (p < 0) { perror("vfork"); return 1; }
        if (p == 0) {
            execl("/bin/true", "true", (char *)NULL);
            _exit(127);
        }
        int st;
        if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0) { fprintf(stderr, "child failed\n"); return 1; }
        if (echo_once(s, "after vfork + exec")) return 1;
    }
    close(s);
    printf("ok: echo after a failed exec and 20 vfork + exec\n");
    return 0;
}
