/* INI reader: see mpc_ini.h. The rules for comments, separators and headers
 * are those of libinih (ini.c, default build), which read job files before,
 * so that every file it read means the same now; what it did quietly (cut long
 * lines, join indented lines to the previous value) is an error or gone. */
#include "jobs/mpc_ini.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "runtime/mpc_wipe.h"

static int is_blank(char c) {
	return c == ' ' || c == '\t' || c == '\r';
}

/* libinih's ini_find_chars_or_comment: the first of chars (NULL: none), or a
 * ';' after a blank (an inline comment), or the end. */
static char *find_chars_or_comment(char *s, const char *chars) {
	int was_space = 0;
	while (*s && !(chars && strchr(chars, *s)) && !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

static char *lskip(char *s) {
	while (*s && isspace((unsigned char)*s))
		s++;
	return s;
}

/* Cuts trailing blanks of s..e and terminates there; returns s. */
static char *rstrip(char *s, char *e) {
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	*e = '\0';
	return s;
}

/* One trimmed, NUL-free line. */
static mpc_err one_line(const char *name, int line, char *s, const mpc_ini_reader *r) {
	if (*s == '\0' || *s == ';' || *s == '#')
		return MPC_OK;
	if (*s == '[') {
		char *close = find_chars_or_comment(s + 1, "]");
		if (*close != ']')
			return mpc_error(
			    MPC_ECONFIG,
			    "%s:%d: syntax error: expected ] to close the section name", name,
			    line);
		char *t = lskip(close + 1);
		if (*t && *t != ';' && *t != '#')
			return mpc_error(MPC_ECONFIG,
			                 "%s:%d: syntax error: text after [section] (only a ; "
			                 "comment may follow)",
			                 name, line);
		return r->section ? r->section(r->user, line, rstrip(lskip(s + 1), close)) : MPC_OK;
	}
	char *sep = find_chars_or_comment(s, "=:");
	if (*sep != '=' && *sep != ':')
		return mpc_error(MPC_ECONFIG, "%s:%d: syntax error: expected key = value", name,
		                 line);
	char *key = rstrip(s, sep);
	char *value = sep + 1;
	char *end = find_chars_or_comment(value, NULL);
	value = lskip(value);
	if (end < value)
		end = value;
	rstrip(value, end);
	return r->pair ? r->pair(r->user, line, key, value) : MPC_OK;
}

mpc_err mpc_ini_parse(const char *name, const char *text, size_t len, const mpc_ini_reader *r) {
	char buf[MPC_INI_MAX_LINE + 1];
	const char *what;
	size_t max;
	int line = 0;

	if (r == NULL || (text == NULL && len > 0))
		return mpc_error(MPC_EINVAL, "mpc_ini_parse: no text or no reader");
	name = name ? name : "ini";
	what = r->what ? r->what : "INI file";
	max = r->max_line == 0 || r->max_line > MPC_INI_MAX_LINE ? MPC_INI_MAX_LINE : r->max_line;
	for (size_t pos = 0; pos < len;) {
		const char *p = text + pos, *end = text + len;
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		mpc_err err;

		pos = nl ? (size_t)(nl + 1 - text) : len;
		if (line == INT_MAX)
			return mpc_error(MPC_ECONFIG, "%s: more than %d lines", name, INT_MAX);
		line++;
		if (line == 1 && e - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
			p += 3; /* a UTF-8 byte order mark */
		for (const char *q = p; q < e; q++) {
			unsigned char c = (unsigned char)*q;
			if ((c < 0x20 && c != '\t' && !(c == '\r' && q + 1 == e)) || c == 0x7f)
				return c == 0 ? mpc_error(MPC_ECONFIG,
				                          "%s:%d: a NUL byte: a %s is text", name,
				                          line, what)
				              : mpc_error(
				                    MPC_ECONFIG,
				                    "%s:%d: control character 0x%02x: a %s is text",
				                    name, line, c, what);
		}
		while (p < e && is_blank(*p))
			p++;
		while (e > p && is_blank(e[-1]))
			e--;
		if ((size_t)(e - p) > max)
			return mpc_error(MPC_ECONFIG,
			                 "%s:%d: line too long (at most %zu characters)", name,
			                 line, max);
		memcpy(buf, p, (size_t)(e - p));
		buf[e - p] = '\0';
		err = one_line(name, line, buf, r);
		mpc_wipe(buf, (size_t)(e - p) + 1); /* a value may be a password */
		if (err != MPC_OK)
			return err;
	}
	return MPC_OK;
}

mpc_err mpc_ini_verror(const char *name, int line, const char *sec, const char *key,
                       const char *fmt, va_list ap) {
	char what[512], where[MPC_INI_MAX_LINE * 2 + 16] = "";

	vsnprintf(what, sizeof(what), fmt, ap);
	if (sec && key)
		snprintf(where, sizeof(where), "[%s] %s: ", sec, key);
	else if (sec)
		snprintf(where, sizeof(where), "[%s]: ", sec);
	else if (key)
		snprintf(where, sizeof(where), "%s: ", key);
	if (line > 0)
		return mpc_error(MPC_ECONFIG, "%s:%d: %s%s", name, line, where, what);
	return mpc_error(MPC_ECONFIG, "%s: %s%s", name, where, what);
}

void mpc_ini_join(char *out, size_t size, const char *const *list, size_t n) {
	size_t k = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && k < size; i++)
		k += (size_t)snprintf(out + k, size - k, "%s%s",
		                      i == 0       ? ""
		                      : i + 1 == n ? " or "
		                                   : ", ",
		                      list[i]);
}
