/* Server: an old duplicate of the client's SYN, and then an in-window SYN,
 * arrive in ESTABLISHED: each gets a challenge ACK (RFC 5961 4.2), the
 * connection lives on. */
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
