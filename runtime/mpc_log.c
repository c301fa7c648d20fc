/* Logger: one line per call, written with a single fputs and flushed, so that
 * lines from several processes sharing a stream do not interleave. */
#include "runtime/mpc_log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define WHO_MAX        64
#define LINE_MAX_STACK 1024

static char log_who[WHO_MAX] = "mpc";
static mpc_log_level log_min = MPC_LOG_INFO;
static FILE *log_out; /* NULL: stderr, looked up at each call */

static const char *const level_names[] = {
    [MPC_LOG_DEBUG] = "DEBUG", [MPC_LOG_INFO] = "INFO", [MPC_LOG_WARN] = "WARN",
    [MPC_LOG_ERROR] = "ERROR", [MPC_LOG_OFF] = "OFF",
};

void mpc_log_init(const char *who, mpc_log_level min, FILE *out) {
	snprintf(log_who, sizeof(log_who), "%s", who ? who : "mpc");
	log_min = min;
	log_out = out;
}

mpc_err mpc_log_level_parse(const char *s, mpc_log_level *out) {
	static const char *const words[] = {"debug", "info", "warn", "error", "off"};

	if (!s || !out)
		return mpc_error(MPC_EINVAL, "log level: missing argument");
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strcasecmp(s, words[i]) == 0) {
			*out = (mpc_log_level)i;
			return MPC_OK;
		}
	}
	return mpc_error(MPC_EINVAL, "log level: expected debug, info, warn, error or off");
}

/* Keep one entry on one line: a trailing newline is dropped and embedded line
 * breaks become spaces, so a message cannot forge further log lines. */
static void flatten(char *s) {
	size_t len = strlen(s);

	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		s[--len] = '\0';
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\n' || s[i] == '\r')
			s[i] = ' ';
}

void mpc_log(mpc_log_level lvl, const char *fmt, ...) {
	char stack[LINE_MAX_STACK];
	char *line = stack;
	char stamp[32];
	struct tm tm;
	time_t now;
	va_list ap;

	if ((unsigned)lvl >= MPC_LOG_OFF || lvl < log_min || !fmt)
		return;

	now = time(NULL);
	if (!gmtime_r(&now, &tm) || strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(stamp, sizeof(stamp), "0000-00-00T00:00:00Z");

	int pre = snprintf(stack, sizeof(stack), "%s [%s] %s: ", stamp, log_who, level_names[lvl]);
	if (pre < 0 || (size_t)pre >= sizeof(stack))
		return;

	va_start(ap, fmt);
	int len = vsnprintf(stack + pre, sizeof(stack) - (size_t)pre, fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	if ((size_t)pre + (size_t)len >= sizeof(stack)) {
		/* Long message: format again into a buffer of the right size; if that
		 * allocation fails, log the truncated text rather than nothing. */
		size_t need = (size_t)pre + (size_t)len + 1;
		char *big = malloc(need);

		if (big) {
			memcpy(big, stack, (size_t)pre);
			va_start(ap, fmt);
			vsnprintf(big + pre, need - (size_t)pre, fmt, ap);
			va_end(ap);
			line = big;
		}
	}
	flatten(line);

	FILE *out = log_out ? log_out : stderr;
	size_t body = strlen(line);
	/* Append the newline in place when there is room, so one fputs writes the
	 * whole line; otherwise fall back to fprintf, still one call. */
	if (line == stack && body + 1 < sizeof(stack)) {
		line[body] = '\n';
		line[body + 1] = '\0';
		fputs(line, out);
	} else {
		fprintf(out, "%s\n", line);
	}
	fflush(out);
	if (line != stack)
		free(line);
}
