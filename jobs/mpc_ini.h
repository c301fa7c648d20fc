/* A small INI reader of our own (the job file's syntax; no library).
 *
 * The text is read line by line, LF or CRLF, lines numbered from 1; a UTF-8
 * byte order mark at the very start is skipped. Blanks (space, tab) around a
 * line are ignored, so indentation means nothing (no continuation lines). A
 * line is then one of:
 *   empty, or a comment: its first character is ';' or '#'
 *   [name words]         a section header; the name is what is between the
 *                        brackets, blanks around it trimmed (may be empty);
 *                        only a ';' or '#' comment may follow the ']'
 *   key = value          the first '=' or ':' separates; key and value are
 *                        trimmed, either may be empty
 * A ';' that follows a blank starts an inline comment: it ends a value, and
 * in a key or a header it comes before any '=' or ']' (so "[a ;]" lacks its
 * ']'). '#' is a comment only at the start of a line. Errors, each naming its
 * line: a NUL or other control character (tab and the CR of a CRLF aside), a
 * line longer than the limit (never cut silently), a header without its ']',
 * text after a header, a line with neither '=' nor ':'. */
#ifndef MPC_INI_H
#define MPC_INI_H

#include "runtime/mpc_err.h"
#include <stdarg.h>
#include <stddef.h>

#define MPC_INI_MAX_LINE 1024 /* the longest limit a caller may set */

typedef struct {
	/* A header: name as described above. Anything but MPC_OK stops the
	 * reading, and mpc_ini_parse returns it (the callback sets the detail). */
	mpc_err (*section)(void *user, int line, const char *name);
	/* A "key = value" line, its inline comment removed. As for section. */
	mpc_err (*pair)(void *user, int line, const char *key, const char *value);
	void *user;
	/* characters a line may hold once trimmed; 0 or more than
	 * MPC_INI_MAX_LINE means MPC_INI_MAX_LINE */
	size_t max_line;
	/* what the text is, for messages ("job file"); NULL: "INI file" */
	const char *what;
} mpc_ini_reader;

/* Read text[0..len) (no NUL needed), calling the reader's callbacks in file
 * order; stops at the first error. MPC_ECONFIG with "NAME:LINE: what" for a
 * mistake in the text (name is used only in messages), a callback's code as
 * it returned it, MPC_EINVAL for NULL arguments. Borrows everything. */
mpc_err mpc_ini_parse(const char *name, const char *text, size_t len,
                      const mpc_ini_reader *r) MPC_MUST_CHECK;

/* The message of a reader built on this one, for a mistake in the text:
 * records and returns MPC_ECONFIG with "NAME:LINE: [sec] key: what" (the
 * line left out when it is 0, the section or key when NULL); what is fmt
 * with ap. */
mpc_err mpc_ini_verror(const char *name, int line, const char *sec, const char *key,
                       const char *fmt, va_list ap);
/* list[0..n) as "a, b or c" in out (size bytes, cut at the end), for the
 * readers' "expected one of" messages. */
void mpc_ini_join(char *out, size_t size, const char *const *list, size_t n);

#endif
