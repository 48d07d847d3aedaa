// Tries to leave the preopened directory argv[1] (its guest name, such as /sandbox).
// The host put `secret.txt` next to (outside) the sandbox, and inside it the symlinks
// `link_out -> ../secret.txt`, `abs_link -> <absolute host path of secret.txt>` and
// `up -> ..`. Every attempt prints `NAME errno=N`; the host expects ENOTCAPABLE (76).
// A final line checks that the same calls do work inside the sandbox.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>

static char buf[512];

static const char *at(const char *dir, const char *name) {
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

static void try_open(const char *name, const char *path) {
    errno = 0;
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        char data[64] = {0};
        read(fd, data, sizeof data - 1);
        printf("%s ESCAPED: read \"%s\"\n", name, data);
        close(fd);
        return;
    }
    printf("%s errno=%d\n", name, errno);
}

// The raw WASI call on the preopen's descriptor, bypassing wasi-libc's path handling.
static void raw_open(const char *name, const char *path) {
    __wasi_fd_t fd;
    __wasi_errno_t e = __wasi_path_open(3, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, path, 0,
                                        __WASI_RIGHTS_FD_READ, 0, 0, &fd);
    printf("%s errno=%d\n", name, e);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: escape DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    try_open("dotdot", at(dir, "../secret.txt"));
    try_open("dotdot_deep", at(dir, "inside/../../secret.txt"));
    try_open("symlink_relative", at(dir, "link_out"));
    try_open("symlink_absolute", at(dir, "abs_link"));
    try_open("symlink_dir", at(dir, "up/secret.txt"));
    raw_open("raw_absolute", "/etc/passwd");
    raw_open("raw_dotdot", "../secret.txt");
    raw_open("raw_symlink", "link_out");

    struct stat st;
    errno = 0;
    printf("stat_symlink errno=%d\n", stat(at(dir, "link_out"), &st) == 0 ? 0 : errno);
    errno = 0;
    printf("mkdir_outside errno=%d\n", mkdir(at(dir, "../made_by_guest"), 0755) == 0 ? 0 : errno);
    errno = 0;
    int fd = open(at(dir, "up/created_by_guest"), O_WRONLY | O_CREAT, 0644);
    printf("create_through_symlink errno=%d\n", fd >= 0 ? 0 : errno);

    // A symlink the guest makes itself obeys the same rules.
    if (symlink("../secret.txt", at(dir, "my_link")) != 0) {
        printf("symlink creation failed: errno=%d\n", errno);
        return 1;
    }
    try_open("own_symlink", at(dir, "my_link"));
    unlink(at(dir, "my_link"));

    // Inside: `inside/../inside/file.txt` and a link that stays inside both work.
    int ok = open(at(dir, "inside/../inside/file.txt"), O_RDONLY) >= 0 &&
             lstat(at(dir, "link_out"), &st) == 0 && S_ISLNK(st.st_mode);
    printf("inside ok=%d\n", ok);
    return 0;
}
