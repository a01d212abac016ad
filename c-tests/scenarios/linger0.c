/* SO_LINGER {1, 0}: close aborts with RST. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    int s = t_socket();
    t_connect(s, PEER, 7000);
    t_linger0(s);
    msleep(100);
    t_close(s);
    msleep(500);
    return 0;
}
