/* RFC 5961: an in-window RST gets a challenge ACK, an out-of-window RST is
 * ignored, the exact RST resets the connection. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    int s = t_socket();
    t_connect(s, PEER, 7000);
    t_read(s, 100);
    t_read(s, 100);
    t_close(s);
    return 0;
}
