/* The peer resets the connection; then write, write, read. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    int s = t_socket();
    t_connect(s, PEER, 7000);
    msleep(400);
    t_writes(s, "x");
    t_writes(s, "y");
    t_read(s, 100);
    t_close(s);
    return 0;
}
