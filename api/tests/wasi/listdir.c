// Lists the directory argv[1] sorted by name, one entry a line: `d name`, `f name`,
// `l name` (directory, regular file, symlink), skipping `.` and `..`.
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : ".";
    DIR *d = opendir(path);
    if (!d) {
        printf("opendir %s: errno=%d (%s)\n", path, errno, strerror(errno));
        return 1;
    }
    char *names[1024];
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && count < 1024) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char kind = e->d_type == DT_DIR ? 'd' : e->d_type == DT_REG ? 'f' : e->d_type == DT_LNK ? 'l' : '?';
        char *line = malloc(strlen(e->d_name) + 3);
        sprintf(line, "%c %s", kind, e->d_name);
        names[count++] = line;
    }
    closedir(d);
    // Sort by name (after the kind letter).
    for (int i = 0; i < count; i++) {
        for (int j = i + 1; j < count; j++) {
            if (strcmp(names[i] + 2, names[j] + 2) > 0) {
                char *t = names[i];
                names[i] = names[j];
                names[j] = t;
            }
        }
    }
    for (int i = 0; i < count; i++) printf("%s\n", names[i]);
    printf("%d entries\n", count);
    return 0;
}
