/* Passive close: the peer's FIN (CLOSE-WAIT), read() = 0, close() (LAST-ACK);
 * the peer does not ack the first FIN, so it is retransmitted. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    int s = t_socket();
    t_connect(s, PEER, 7000);
    t_read(s, 100);
    t_writes(s, "bye");
    t_close(s);
    msleep(2000);
    return 0;
}
