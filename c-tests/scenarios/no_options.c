/* The peer's SYN-ACK carries only MSS: no window scale, no timestamps, no
 * SACK may appear afterwards. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    int s = t_socket();
    t_connect(s, PEER, 7000);
    t_writes(s, "ping");
    t_read(s, 100);
    t_read_all(s);
    t_close(s);
    msleep(800);
    return 0;
}
