// Clocks, sleeping, poll and random bytes. Prints `ok ...` lines, and with the argument
// `show`, the actual readings (which are fixed under Kiln's deterministic defaults).
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int show = argc > 1 && strcmp(argv[1], "show") == 0;
    struct timespec real, res, m1, m2;
    if (clock_gettime(CLOCK_REALTIME, &real) != 0) { perror("realtime"); return 1; }
    if (clock_getres(CLOCK_MONOTONIC, &res) != 0) { perror("getres"); return 1; }
    if (clock_gettime(CLOCK_MONOTONIC, &m1) != 0) { perror("monotonic"); return 1; }
    struct timespec nap = {0, 2000000};
    if (nanosleep(&nap, NULL) != 0) { perror("nanosleep"); return 1; }
    if (clock_gettime(CLOCK_MONOTONIC, &m2) != 0) { perror("monotonic"); return 1; }
    long long t1 = m1.tv_sec * 1000000000LL + m1.tv_nsec;
    long long t2 = m2.tv_sec * 1000000000LL + m2.tv_nsec;
    printf("ok realtime after 2020: %d\n", real.tv_sec > 1577836800);
    printf("ok monotonic increases: %d\n", t2 > t1);
    printf("ok resolution positive: %d\n", res.tv_sec > 0 || res.tv_nsec > 0);
    if (show) {
        printf("realtime=%lld.%09ld\n", (long long)real.tv_sec, real.tv_nsec);
        printf("monotonic delta=%lld\n", t2 - t1);
    }

    struct pollfd p = {.fd = 1, .events = POLLOUT};
    int ready = poll(&p, 1, 1000);
    printf("ok poll stdout writable: %d\n", ready == 1 && (p.revents & POLLOUT));
    printf("ok sched_yield: %d\n", sched_yield() == 0);

    unsigned char a[16], b[16];
    if (getentropy(a, sizeof a) != 0 || getentropy(b, sizeof b) != 0) {
        perror("getentropy");
        return 1;
    }
    printf("ok random differs: %d\n", memcmp(a, b, sizeof a) != 0);
    if (show) {
        printf("random=");
        for (int i = 0; i < 16; i++) printf("%02x", a[i]);
        printf("\n");
    }
    return 0;
}
