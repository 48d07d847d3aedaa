// Reads stdin to the end; prints the byte and line counts and the text upper-cased.
#include <ctype.h>
#include <stdio.h>

int main(void) {
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, stdin);
    size_t lines = 0;
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n') lines++;
        buf[i] = (char)toupper((unsigned char)buf[i]);
    }
    printf("bytes=%zu lines=%zu\n", n, lines);
    fwrite(buf, 1, n, stdout);
    fprintf(stderr, "done reading\n");
    return 0;
}
