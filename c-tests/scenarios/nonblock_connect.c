/* Nonblocking connect + poll + SO_ERROR: once to an open port, once to a
 * closed one. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    int s = t_socket();
    t_nonblock(s);
    t_connect(s, PEER, 7000);
    t_poll(s, POLLOUT, 3000);
    t_so_error(s);
    t_connect(s, PEER, 7000);
    int s2 = t_socket();
    t_nonblock(s2);
    t_connect(s2, PEER, 7001);
    t_poll(s2, POLLOUT, 3000);
    t_so_error(s2);
    t_so_error(s2);
    t_close(s2);
    msleep(100);
    t_close(s);
    msleep(800);
    return 0;
}
