// Reads and writes files in the directory given as argv[1] (a preopened directory),
// going through most of WASI's fd_* and path_* functions. Prints one line per step and
// `all ok` at the end; on a failure it prints the errno and exits with 1.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>

static char path_buf[4][512];

static const char *at(int slot, const char *dir, const char *name) {
    snprintf(path_buf[slot], sizeof path_buf[slot], "%s/%s", dir, name);
    return path_buf[slot];
}

#define CHECK(what, cond)                                                        \
    do {                                                                         \
        if (!(cond)) {                                                           \
            printf("fail: %s: errno=%d (%s)\n", what, errno, strerror(errno));   \
            exit(1);                                                             \
        }                                                                        \
        printf("ok %s\n", what);                                                 \
    } while (0)

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: files DIR\n");
        return 2;
    }
    const char *dir = argv[1];

    // Read a file the host put there.
    FILE *in = fopen(at(0, dir, "input.txt"), "r");
    CHECK("open input.txt", in != NULL);
    char line[256] = {0};
    CHECK("read input.txt", fgets(line, sizeof line, in) != NULL);
    printf("input: %s", line);
    fclose(in);

    // Write, append, read back.
    FILE *out = fopen(at(0, dir, "out.txt"), "w");
    CHECK("create out.txt", out != NULL);
    fprintf(out, "first line\n");
    CHECK("close out.txt", fclose(out) == 0);
    out = fopen(at(0, dir, "out.txt"), "a");
    CHECK("append out.txt", out != NULL);
    fprintf(out, "second line\n");
    fclose(out);
    in = fopen(at(0, dir, "out.txt"), "r");
    char all[256] = {0};
    size_t n = fread(all, 1, sizeof all - 1, in);
    fclose(in);
    CHECK("read back", n == 23 && strcmp(all, "first line\nsecond line\n") == 0);

    // Low-level descriptors: seek, tell, pread, pwrite, truncate, sync, advise, allocate.
    int fd = open(at(0, dir, "out.txt"), O_RDWR);
    CHECK("open O_RDWR", fd >= 0);
    CHECK("lseek end", lseek(fd, 0, SEEK_END) == 23);
    CHECK("lseek cur (tell)", lseek(fd, 0, SEEK_CUR) == 23);
    char six[7] = {0};
    CHECK("pread", pread(fd, six, 6, 11) == 6 && strcmp(six, "second") == 0);
    CHECK("pwrite", pwrite(fd, "SECOND", 6, 11) == 6);
    CHECK("tell unchanged by pread/pwrite", lseek(fd, 0, SEEK_CUR) == 23);
    CHECK("fsync", fsync(fd) == 0);
    CHECK("fdatasync", fdatasync(fd) == 0);
    CHECK("posix_fadvise", posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) == 0);
    CHECK("posix_fallocate", posix_fallocate(fd, 0, 100) == 0);
    struct stat st;
    CHECK("fstat size after allocate", fstat(fd, &st) == 0 && st.st_size == 100);
    CHECK("ftruncate", ftruncate(fd, 17) == 0);
    CHECK("fstat regular", fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 17);
    char head[18] = {0};
    CHECK("read after pwrite", pread(fd, head, 17, 0) == 17 &&
                                   strcmp(head, "first line\nSECOND") == 0);
    CHECK("fcntl O_APPEND", fcntl(fd, F_SETFL, O_APPEND) == 0 &&
                                (fcntl(fd, F_GETFL) & O_APPEND));
    struct timespec times[2] = {{1000000000, 0}, {1234567890, 500}};
    CHECK("futimens", futimens(fd, times) == 0);
    CHECK("mtime set", fstat(fd, &st) == 0 && st.st_mtim.tv_sec == 1234567890);

    // Renumber the descriptor onto another one.
    int other = open(at(0, dir, "input.txt"), O_RDONLY);
    CHECK("open second fd", other >= 0);
    CHECK("fd_renumber", __wasi_fd_renumber(fd, other) == 0);
    CHECK("renumbered fd works", fstat(other, &st) == 0 && st.st_size == 17);
    CHECK("old fd is closed", close(fd) == -1 && errno == EBADF);
    CHECK("close", close(other) == 0);

    // Directories, stat, rename, links, unlink, rmdir.
    CHECK("mkdir", mkdir(at(0, dir, "sub"), 0755) == 0);
    CHECK("mkdir again fails with EEXIST", mkdir(at(0, dir, "sub"), 0755) == -1 && errno == EEXIST);
    CHECK("stat dir", stat(at(0, dir, "sub"), &st) == 0 && S_ISDIR(st.st_mode));
    CHECK("rename into sub", rename(at(0, dir, "out.txt"), at(1, dir, "sub/moved.txt")) == 0);
    CHECK("old name gone", access(at(0, dir, "out.txt"), F_OK) == -1 && errno == ENOENT);
    CHECK("link", link(at(0, dir, "sub/moved.txt"), at(1, dir, "hard.txt")) == 0);
    CHECK("nlink is 2", stat(at(0, dir, "hard.txt"), &st) == 0 && st.st_nlink == 2);
    CHECK("symlink", symlink("sub/moved.txt", at(0, dir, "soft.txt")) == 0);
    char target[64] = {0};
    CHECK("readlink", readlink(at(0, dir, "soft.txt"), target, sizeof target) == 13 &&
                          strcmp(target, "sub/moved.txt") == 0);
    CHECK("lstat symlink", lstat(at(0, dir, "soft.txt"), &st) == 0 && S_ISLNK(st.st_mode));
    CHECK("stat follows symlink", stat(at(0, dir, "soft.txt"), &st) == 0 && S_ISREG(st.st_mode) &&
                                      st.st_size == 17);
    struct timespec mtime[2] = {{0, UTIME_OMIT}, {987654321, 0}};
    CHECK("utimensat", utimensat(AT_FDCWD, at(0, dir, "hard.txt"), mtime, 0) == 0);
    CHECK("utimensat visible", stat(at(0, dir, "sub/moved.txt"), &st) == 0 &&
                                   st.st_mtim.tv_sec == 987654321);
    CHECK("open missing fails with ENOENT", open(at(0, dir, "missing"), O_RDONLY) == -1 &&
                                                errno == ENOENT);
    CHECK("O_EXCL on existing fails with EEXIST",
          open(at(0, dir, "hard.txt"), O_WRONLY | O_CREAT | O_EXCL, 0644) == -1 && errno == EEXIST);
    CHECK("rmdir non-empty fails with ENOTEMPTY", rmdir(at(0, dir, "sub")) == -1 && errno == ENOTEMPTY);
    CHECK("open dir for writing fails with EISDIR", open(at(0, dir, "sub"), O_WRONLY) == -1 &&
                                                        errno == EISDIR);
    CHECK("unlink", unlink(at(0, dir, "sub/moved.txt")) == 0);
    CHECK("unlink symlink", unlink(at(0, dir, "soft.txt")) == 0);
    CHECK("unlink hard link", unlink(at(0, dir, "hard.txt")) == 0);
    CHECK("rmdir", rmdir(at(0, dir, "sub")) == 0);

    // A file written for the host to check.
    out = fopen(at(0, dir, "result.txt"), "w");
    CHECK("create result.txt", out != NULL);
    fprintf(out, "written by the guest\n");
    fclose(out);
    printf("all ok\n");
    return 0;
}
