/* Benchmark driver: an SQL workload against an in-memory SQLite database (bulk insert in a
 * transaction, indexes, joins with grouping, sorting, LIKE, updates and deletes, a
 * recursive CTE, a window function). The checksum is an FNV-1a hash of every result row's
 * text, so any difference in a result changes it.
 *
 * SQLite is built with SQLITE_OS_OTHER: this file supplies the operating-system layer, a
 * VFS that opens no files (the database and temporary storage live in memory) and whose
 * clock and randomness are fixed, so runs are reproducible.
 *
 * Wasm: a WASI reactor exporting `run: [i32] -> [i64]` (call `_initialize` first).
 * Native (-DNATIVE_MAIN): `./sqlite-bench SIZE` prints the checksum. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite3.h"

#ifdef __wasm__
#define EXPORT(name) __attribute__((export_name(name)))
#else
#define EXPORT(name)
#endif

/* ---- A VFS without files -------------------------------------------------------------- */

static int vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
                    int *out_flags) {
  (void)vfs, (void)name, (void)flags, (void)out_flags;
  file->pMethods = NULL;
  return SQLITE_CANTOPEN;
}
static int vfs_delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
  (void)vfs, (void)name, (void)sync_dir;
  return SQLITE_IOERR_DELETE;
}
static int vfs_access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
  (void)vfs, (void)name, (void)flags;
  *out = 0;
  return SQLITE_OK;
}
static int vfs_full_pathname(sqlite3_vfs *vfs, const char *name, int size, char *out) {
  (void)vfs;
  sqlite3_snprintf(size, out, "%s", name);
  return SQLITE_OK;
}
static int vfs_randomness(sqlite3_vfs *vfs, int size, char *out) {
  (void)vfs;
  for (int i = 0; i < size; i++) out[i] = (char)(i * 131 + 7);
  return size;
}
static int vfs_sleep(sqlite3_vfs *vfs, int microseconds) {
  (void)vfs;
  return microseconds;
}
static int vfs_current_time(sqlite3_vfs *vfs, double *julian_day) {
  (void)vfs;
  *julian_day = 2461380.5; /* 2026-12-06 */
  return SQLITE_OK;
}
static int vfs_get_last_error(sqlite3_vfs *vfs, int size, char *out) {
  (void)vfs, (void)size, (void)out;
  return 0;
}

static sqlite3_vfs memory_vfs = {
    1, sizeof(sqlite3_file), 512, NULL, "kiln-memory", NULL, vfs_open, vfs_delete,
    vfs_access, vfs_full_pathname, NULL, NULL, NULL, NULL, vfs_randomness, vfs_sleep,
    vfs_current_time, vfs_get_last_error,
};

int sqlite3_os_init(void) { return sqlite3_vfs_register(&memory_vfs, 1); }
int sqlite3_os_end(void) { return SQLITE_OK; }

/* ---- The workload ----------------------------------------------------------------------- */

static unsigned long long hash;

static void hash_text(const char *s) {
  for (; *s; s++) hash = (hash ^ (unsigned char)*s) * 1099511628211ULL;
  hash = (hash ^ '|') * 1099511628211ULL;
}

static int hash_row(void *unused, int columns, char **values, char **names) {
  (void)unused, (void)names;
  for (int i = 0; i < columns; i++) hash_text(values[i] ? values[i] : "NULL");
  return 0;
}

/* Runs `sql`, hashing its rows; a failure poisons the checksum with the error message. */
static void exec_hashed(sqlite3 *db, const char *sql) {
  char *error = NULL;
  if (sqlite3_exec(db, sql, hash_row, NULL, &error) != SQLITE_OK) {
#ifdef NATIVE_MAIN
    fprintf(stderr, "SQL error: %s\n", error ? error : "?");
#endif
    hash_text("error");
    hash_text(error ? error : "?");
    sqlite3_free(error);
  }
}

EXPORT("run") long long run(int size) {
  sqlite3 *db;
  hash = 14695981039346656037ULL;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) return -1;
  int rows = size * 250;
  char sql[512];
  exec_hashed(db,
              "CREATE TABLE category(id INTEGER PRIMARY KEY, label TEXT NOT NULL);"
              "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, category INTEGER,"
              " price REAL, qty INTEGER);"
              "WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x < 49)"
              " INSERT INTO category SELECT x, printf('cat-%03d', (x * 37) % 50) FROM c;");
  sqlite3_stmt *insert;
  if (sqlite3_prepare_v2(db, "INSERT INTO item VALUES(?1, ?2, ?3, ?4, ?5)", -1, &insert,
                         NULL) != SQLITE_OK)
    return -2;
  exec_hashed(db, "BEGIN");
  unsigned int lcg = 12345;
  for (int i = 0; i < rows; i++) {
    lcg = lcg * 1103515245u + 12345u;
    char name[48];
    snprintf(name, sizeof name, "item-%d-%x", i, (lcg >> 8) & 0xffff);
    sqlite3_bind_int(insert, 1, i);
    sqlite3_bind_text(insert, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(insert, 3, (int)((lcg >> 16) % 50));
    sqlite3_bind_double(insert, 4, (double)((lcg >> 4) % 100000) / 100.0);
    sqlite3_bind_int(insert, 5, (int)(lcg % 1000));
    sqlite3_step(insert);
    sqlite3_reset(insert);
  }
  sqlite3_finalize(insert);
  exec_hashed(db, "COMMIT");
  exec_hashed(db,
              "CREATE INDEX item_category ON item(category);"
              "CREATE INDEX item_price ON item(price);"
              "SELECT c.label, count(*), sum(i.qty), printf('%.2f', avg(i.price))"
              " FROM item i JOIN category c ON c.id = i.category"
              " GROUP BY c.label ORDER BY c.label;"
              "SELECT name, price FROM item WHERE price BETWEEN 100 AND 200"
              " ORDER BY price DESC, id LIMIT 40;"
              "SELECT count(*), max(length(name)), length(group_concat(substr(name, 6, 3), ''))"
              " FROM item WHERE name LIKE '%7%a%';"
              "UPDATE item SET qty = qty + 1 WHERE id % 3 = 0;"
              "DELETE FROM item WHERE id % 7 = 0;"
              "SELECT category, qty % 10 AS q, count(*) FROM item GROUP BY category, q"
              " HAVING count(*) > 1 ORDER BY 3 DESC, 1, 2 LIMIT 25;"
              "SELECT upper(name), replace(name, 'item', 'x'), instr(name, 'f')"
              " FROM item ORDER BY name DESC LIMIT 30;");
  snprintf(sql, sizeof sql,
           "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < %d)"
           " SELECT sum(x * x %% 97), count(*) FROM c;"
           "SELECT id, sum(qty) OVER (PARTITION BY category ORDER BY id ROWS 3 PRECEDING)"
           " FROM item WHERE id %% 11 = 0 ORDER BY id;",
           rows);
  exec_hashed(db, sql);
  sqlite3_close(db);
  return (long long)(hash >> 1);
}

#ifdef NATIVE_MAIN
int main(int argc, char **argv) {
  printf("%lld\n", run(argc > 1 ? atoi(argv[1]) : 1));
  return 0;
}
#endif
