/* MSS: ours from the MTU (1460), clamped by the peer's 536. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    char big[2000];
    memset(big, 'm', sizeof big);
    int s = t_socket();
    t_connect(s, PEER, 7000);
    int mss = 0;
    socklen_t l = sizeof mss;
    int r = getsockopt(s, IPPROTO_TCP, TCP_MAXSEG, &mss, &l);
    printf("getsockopt(%s, TCP_MAXSEG) = %d [%d]\n", F(s), r, mss);
    t_write(s, big, sizeof big);
    t_read_all(s);
    t_close(s);
    msleep(800);
    return 0;
}
