/* A server closes first, so its connection on port 7000 is in TIME-WAIT;
 * the listener is closed too. A new socket: bind(7000) without
 * SO_REUSEADDR is EADDRINUSE, with SO_REUSEADDR it succeeds (both the old
 * listener and the new socket set it), and listen() works. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    int l = t_socket();
    t_setint(l, SOL_SOCKET, SO_REUSEADDR, 1);
    t_bind(l, 7000);
    t_listen(l, 8);
    printf("# ready\n");
    int c = t_accept(l);
    t_shutdown(c, SHUT_WR);
    t_read(c, 100); /* the peer's FIN: TIME-WAIT from here */
    t_close(c);
    t_close(l);
    int s = t_socket();
    t_bind(s, 7000);
    t_setint(s, SOL_SOCKET, SO_REUSEADDR, 1);
    t_bind(s, 7000);
    t_listen(s, 8);
    t_close(s);
    int s2 = t_socket();
    t_bind(s2, 7000);
    t_close(s2);
    msleep(300);
    return 0;
}
