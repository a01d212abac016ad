/* close() with unread received data: RST instead of FIN. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    int s = t_socket();
    t_connect(s, PEER, 7000);
    msleep(400);
    t_close(s);
    msleep(500);
    return 0;
}
