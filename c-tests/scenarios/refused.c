/* Connect to a closed port: the peer answers RST, connect fails. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    int s = t_socket();
    t_connect(s, PEER, 7001);
    t_connect(s, PEER, 7001);
    t_close(s);
    return 0;
}
