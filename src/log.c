/*
 * log.c - classify stderr once, then write each line with a single write(2).
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

enum log_sink {
	SINK_NONE,     /* stderr closed */
	SINK_PREFIXED, /* journal or pipe: "<N>message" */
	SINK_PLAIN,    /* file or terminal: "ident[pid]: message" */
	SINK_SYSLOG,   /* stderr is the client's socket: never write there */
};

/*
 * Process-wide logging destination: set once by log_init() before anything
 * else runs, read by every log_msg() call.
 */
static struct {
	enum log_sink sink;
	enum log_prio max;
	const char *ident;
	bool syslog_open;
} log_dest = { SINK_NONE, LOG_PRIO_INFO, "pop3", false };

static bool same_file(const struct stat *a, int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return false;
	return st.st_dev == a->st_dev && st.st_ino == a->st_ino;
}

static bool is_journal_stream(const struct stat *st)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return false;
	return (unsigned long long)st->st_dev == dev && (unsigned long long)st->st_ino == ino;
}

void log_init(const char *ident)
{
	struct stat st;

	log_dest.ident = ident;
	if (fstat(STDERR_FILENO, &st) != 0) {
		log_dest.sink = SINK_NONE;
		return;
	}
	if (is_journal_stream(&st))
		log_dest.sink = SINK_PREFIXED;
	else if (S_ISSOCK(st.st_mode))
		/* inetd's "nowait" services get the connection on 0, 1 and 2 */
		log_dest.sink = (same_file(&st, STDIN_FILENO) || same_file(&st, STDOUT_FILENO))
				? SINK_SYSLOG : SINK_PREFIXED;
	else if (S_ISFIFO(st.st_mode))
		log_dest.sink = SINK_PREFIXED;
	else
		log_dest.sink = SINK_PLAIN;
}

void log_set_level(enum log_prio max)
{
	log_dest.max = max;
}

bool log_parse_level(const char *s, enum log_prio *out)
{
	static const struct { const char *name; enum log_prio prio; } names[] = {
		{ "err", LOG_PRIO_ERR }, { "error", LOG_PRIO_ERR },
		{ "warning", LOG_PRIO_WARNING }, { "warn", LOG_PRIO_WARNING },
		{ "info", LOG_PRIO_INFO }, { "debug", LOG_PRIO_DEBUG },
	};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(s, names[i].name) == 0) {
			*out = names[i].prio;
			return true;
		}
	return false;
}

void log_escape(char *dst, size_t cap, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (; *src && o + 5 <= cap; src++) {
		unsigned char c = (unsigned char)*src;
		if (c > 0x20 && c < 0x7f && c != '=' && c != '\\') {
			dst[o++] = (char)c;
			continue;
		}
		dst[o++] = '\\';
		dst[o++] = 'x';
		dst[o++] = hex[c >> 4];
		dst[o++] = hex[c & 15];
	}
	if (cap > 0)
		dst[o < cap ? o : cap - 1] = '\0';
}

/* Whatever reached a line, no control octet leaves in it: one event, one line. */
static void scrub(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = '?';
}

static void write_all_stderr(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* nowhere left to report a logging failure */
		buf += n;
		len -= (size_t)n;
	}
}

void log_msg(enum log_prio prio, const char *fmt, ...)
{
	char line[1024];
	size_t off = 0;
	int n;
	va_list ap;

	if (prio > log_dest.max || log_dest.sink == SINK_NONE)
		return;

	if (log_dest.sink == SINK_SYSLOG) {
		if (!log_dest.syslog_open) {
			openlog(log_dest.ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
			log_dest.syslog_open = true;
		}
		va_start(ap, fmt);
		n = vsnprintf(line, sizeof line, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		scrub(line, strnlen(line, sizeof line));
		syslog((int)prio, "%s", line);
		return;
	}

	if (log_dest.sink == SINK_PREFIXED)
		n = snprintf(line, sizeof line, "<%d>", (int)prio);
	else
		n = snprintf(line, sizeof line, "%s[%ld]: ", log_dest.ident, (long)getpid());
	if (n < 0)
		return;
	off = (size_t)n;

	va_start(ap, fmt);
	n = vsnprintf(line + off, sizeof line - off, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line - off - 1) {
		/* truncated: mark it so nobody mistakes it for the whole line */
		off = sizeof line - 5;
		memcpy(line + off, "...", 3);
		off += 3;
	} else {
		off += (size_t)n;
	}
	scrub(line, off);
	line[off++] = '\n';
	write_all_stderr(line, off);
}
