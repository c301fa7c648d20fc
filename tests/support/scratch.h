/* Helpers the unit tests share for files and texts: a scratch directory,
 * a file's size, one byte flipped in place, the error detail's content, and
 * a text with one line replaced, removed or inserted. Each fails the
 * running cmocka test on a system error. */
#ifndef MPC_TEST_SCRATCH_H
#define MPC_TEST_SCRATCH_H

#include <stddef.h>

/* A new directory /tmp/mpc-TAG-test-XXXXXX, its name in dir (size n). */
void scratch_dir(char *dir, size_t n, const char *tag);
/* Remove dir and everything under it: 0, or -1 (a cmocka teardown's
 * answer). */
int scratch_remove(const char *dir);
/* Bytes in path, or -1 if it cannot be read. */
long scratch_size(const char *path);
/* Overwrite the byte of path at off with its complement. */
void scratch_flip(const char *path, long off);
/* Fail unless mpc_error_detail() contains what. */
void scratch_detail_has(const char *what);
/* base with line nr (from 1) replaced by line (NULL: removed); with insert,
 * line goes before line nr instead. A static buffer (base may be it). */
const char *scratch_edit(const char *base, int nr, const char *line, int insert);

#endif
