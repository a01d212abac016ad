/* Active close: FIN-WAIT-1, FIN-WAIT-2 (the peer acks, waits, then sends
 * its FIN), TIME-WAIT (the peer retransmits its FIN: it must be acked again). */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    int s = t_socket();
    t_connect(s, PEER, 7000);
    msleep(100);
    t_close(s);
    msleep(1500);
    return 0;
}
