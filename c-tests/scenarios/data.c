/* Data both ways: a small request, a reply, then 3000 bytes (two full
 * segments and a tail), then EOF from the peer. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    char big[3000];
    for (int i = 0; i < 3000; i++) big[i] = 'a' + i % 26;
    int s = t_socket();
    t_connect(s, PEER, 7000);
    t_writes(s, "hello");
    t_read(s, 100);
    t_write(s, big, sizeof big);
    t_read_all(s);
    t_close(s);
    msleep(800);
    return 0;
}
