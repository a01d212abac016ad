/* SYNs unanswered, one retry (tcp_syn_retries / UTCP_SYN_RETRIES = 1):
 * connect fails with ETIMEDOUT. */
#include "common.h"
int main(int argc, char **argv) {
    init(argc, argv);
    struct timespec a, b;
    int s = t_socket();
    clock_gettime(CLOCK_MONOTONIC, &a);
    t_connect(s, PEER, 7000);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double t = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    printf("# connect took %s\n", t < 2 ? "< 2 s" : t < 5 ? "2..5 s" : ">= 5 s");
    t_close(s);
    return 0;
}
