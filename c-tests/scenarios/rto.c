/* The first copy of the data is lost: retransmission after the RTO. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    int s = t_socket();
    t_connect(s, PEER, 7000);
    t_writes(s, "abc");
    t_read_all(s);
    t_close(s);
    msleep(800);
    return 0;
}
