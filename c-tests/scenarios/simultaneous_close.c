/* Simultaneous close: the peer's FIN crosses ours (FIN-WAIT-1 -> CLOSING). */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    int s = t_socket();
    t_connect(s, PEER, 7000);
    msleep(200);
    t_close(s);
    msleep(1200);
    return 0;
}
