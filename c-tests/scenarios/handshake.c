/* Three-way handshake as the client, then an orderly close. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    int s = t_socket();
    t_connect(s, PEER, 7000);
    msleep(200);
    t_close(s);
    msleep(800);
    return 0;
}
