/* Server: the client connects, sends "hi" and resets before accept():
 * accept() still returns the connection (Linux keeps the reset child in
 * the accept queue); then read, read, write. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    int l = t_socket();
    t_bind_any(l, 7000);
    t_listen(l, 8);
    printf("# ready\n");
    wait_mark("peer.reset");
    int c = t_accept(l);
    t_read(c, 100);
    t_read(c, 100);
    t_read(c, 100);
    t_writes(c, "late");
    t_close(c);
    t_close(l);
    msleep(300);
    return 0;
}
