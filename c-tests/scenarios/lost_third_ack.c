/* Server: the peer's third ACK is lost, the SYN-ACK is retransmitted. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    int l = t_socket();
    t_bind_any(l, 7000);
    t_listen(l, 8);
    printf("# ready\n");
    int c = t_accept(l);
    t_read_all(c);
    t_close(c);
    t_close(l);
    msleep(800);
    return 0;
}
