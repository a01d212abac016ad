/* Keepalive on an idle connection: TCP_KEEPIDLE 1, TCP_KEEPINTVL 1,
 * TCP_KEEPCNT 2. The peer answers the first probe (the idle time starts
 * again), then none: after two unanswered probes the connection is reset
 * and the blocked read() fails with ETIMEDOUT. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    int s = t_socket();
    t_connect(s, PEER, 7000);
    t_setint(s, IPPROTO_TCP, TCP_KEEPIDLE, 1);
    t_setint(s, IPPROTO_TCP, TCP_KEEPINTVL, 1);
    t_setint(s, IPPROTO_TCP, TCP_KEEPCNT, 2);
    t_setint(s, SOL_SOCKET, SO_KEEPALIVE, 1);
    t_read(s, 100);
    t_read(s, 100);
    t_close(s);
    msleep(300);
    return 0;
}
