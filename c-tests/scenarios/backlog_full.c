/* listen(fd, 1) and no accept() while the peer opens four connections:
 * Linux queues backlog + 1 = 2 (sk_acceptq_is_full is len > backlog) and
 * drops the further SYNs. Once the queue is drained, the peer's
 * retransmitted SYN gets through. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    int l = t_socket(), fds[8], n = 0;
    t_bind_any(l, 7000);
    t_listen(l, 1);
    t_nonblock(l);
    printf("# ready\n");
    wait_mark("peer.opened");
    for (int i = 0; i < 4; i++) {
        int c = t_accept(l);
        if (c < 0) break;
        fds[n++] = c;
    }
    printf("# drained\n");
    t_poll(l, POLLIN, 3000);
    int c = t_accept(l);
    if (c >= 0) fds[n++] = c;
    for (int i = 0; i < n; i++) t_close(fds[i]);
    t_close(l);
    msleep(800);
    return 0;
}
