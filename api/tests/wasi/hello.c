// Prints a greeting: the smallest WASI command.
#include <stdio.h>

int main(void) {
    printf("hello, world\n");
    return 0;
}
