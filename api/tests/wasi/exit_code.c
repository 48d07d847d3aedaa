// `exit_code N` exits with N through exit(); `exit_code trap` traps;
// `exit_code return N` returns N from main.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: exit_code N | trap | return N\n");
        return 2;
    }
    if (strcmp(argv[1], "trap") == 0) {
        printf("about to trap\n");
        fflush(stdout);
        __builtin_trap();
    }
    if (strcmp(argv[1], "return") == 0 && argc > 2) {
        printf("returning %s\n", argv[2]);
        return atoi(argv[2]);
    }
    printf("exiting with %s\n", argv[1]);
    exit(atoi(argv[1]));
}
