/* The peer closes its window; zero-window probes; a window update. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    int s = t_socket();
    t_connect(s, PEER, 7000);
    msleep(200);
    t_writes(s, "0123456789");
    t_read_all(s);
    t_close(s);
    msleep(800);
    return 0;
}
