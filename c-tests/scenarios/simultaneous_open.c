/* Simultaneous open (RFC 9293 Figure 8): the peer answers our SYN with a
 * SYN of its own (the two SYNs crossed), then with its SYN-ACK; connect()
 * goes SYN-SENT -> SYN-RECEIVED -> ESTABLISHED. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    int s = t_socket();
    t_connect(s, PEER, 7000);
    t_writes(s, "hello");
    t_read_all(s);
    t_close(s);
    msleep(800);
    return 0;
}
