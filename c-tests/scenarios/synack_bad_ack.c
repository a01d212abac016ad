/* A SYN-ACK with a wrong ack in SYN-SENT: RST, stay in SYN-SENT, retry. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    int s = t_socket();
    t_connect(s, PEER, 7000);
    t_close(s);
    msleep(800);
    return 0;
}
