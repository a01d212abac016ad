/* 5000 bytes in five 1000-byte segments (MSS 1012 less the timestamp
 * option); the peer loses the second one and sends a duplicate ACK for
 * each of the next three: fast retransmit (RFC 5681 3.2), no RTO. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    static char buf[5000];
    memset(buf, 'x', sizeof buf);
    int s = t_socket();
    t_connect(s, PEER, 7000);
    t_write(s, buf, sizeof buf);
    t_read_all(s);
    t_close(s);
    msleep(800);
    return 0;
}
