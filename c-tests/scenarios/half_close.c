/* Half-close: SHUT_WR after a request, the peer keeps sending, then EOF. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    int s = t_socket();
    t_connect(s, PEER, 7000);
    t_writes(s, "request");
    t_shutdown(s, SHUT_WR);
    t_writes(s, "late");
    t_read_all(s);
    t_close(s);
    msleep(800);
    return 0;
}
