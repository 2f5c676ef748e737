/*
 * log.c - classify stderr once, then send each line in one write(2) or one
 * datagram.
 */
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <fcntl.h>
#include <unistd.h>

/* A message longer than this is cut and ends in "..." (one event, one line). */
#define LOG_MSG_MAX 1000
/* Room for "<N>" or "ident[pid]: " before it; a longer ident is cut. */
#define LOG_PREFIX_MAX 64
/* The longest POP3_EVENT value; longer leading text stops being an event. */
#define LOG_EVENT_MAX 48
/* key=value keys become POP3_<KEY>; journald allows 64 octets of field name. */
#define LOG_KEY_MAX 32
/*
 * One native datagram: MESSAGE plus every key=value token again as a field
 * (each at most the message's length plus its name), plus the fixed fields.
 */
#define LOG_DGRAM_MAX (3 * LOG_MSG_MAX + 512)

#define JOURNAL_SOCKET "/run/systemd/journal/socket"
#define SYSLOG_FACILITY_MAIL 2

enum log_sink {
	SINK_NONE,     /* stderr closed */
	SINK_PREFIXED, /* pipe: "<N>message" */
	SINK_PLAIN,    /* file or terminal: "ident[pid]: message" */
	SINK_SYSLOG,   /* stderr is the client's socket: never write there */
	SINK_JOURNAL,  /* stderr is journald's stream: native datagrams, else "<N>message" */
};

/*
 * Process-wide logging destination: set once by log_init() before anything
 * else runs, read by every log_msg() call.  journal_fd is opened at the first
 * line that needs it (a session that logs nothing pays nothing); -2 means
 * socket(2) failed once, so every later line goes to stderr directly.
 */
static struct {
	enum log_sink sink;
	enum log_prio max;
	const char *ident;
	bool syslog_open;
	int journal_fd;
} log_dest = { SINK_NONE, LOG_PRIO_INFO, "pop3", false, -1 };

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
		log_dest.sink = SINK_JOURNAL;
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

/* ---- journald's native protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL) ---- */

/* A bounded appender: once something does not fit, the datagram is not sent. */
struct dgram {
	char buf[LOG_DGRAM_MAX];
	size_t len;
	bool ok;
};

static void put(struct dgram *d, const char *s, size_t n)
{
	if (!d->ok || n > sizeof d->buf - d->len) {
		d->ok = false;
		return;
	}
	memcpy(d->buf + d->len, s, n);
	d->len += n;
}

static void put_str(struct dgram *d, const char *s)
{
	put(d, s, strlen(s));
}

/* NAME=value\n: values never hold a newline (scrub), so no binary form. */
static void put_field(struct dgram *d, const char *name, const char *val, size_t n)
{
	put_str(d, name);
	put(d, "=", 1);
	put(d, val, n);
	put(d, "\n", 1);
}

static bool all_letters(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
			return false;
	return n > 0;
}

/* The length of the next space-delimited token at s[0..n). */
static size_t token_len(const char *s, size_t n)
{
	const char *sp = memchr(s, ' ', n);

	return sp ? (size_t)(sp - s) : n;
}

/*
 * key=value with key [a-z][a-z0-9_]* of at most LOG_KEY_MAX octets and a
 * non-empty value: returns the key's length, else 0.
 */
static size_t kv_key(const char *t, size_t n)
{
	size_t k = 0;

	if (n == 0 || t[0] < 'a' || t[0] > 'z')
		return 0;
	while (k < n && k <= LOG_KEY_MAX &&
	       ((t[k] >= 'a' && t[k] <= 'z') || (t[k] >= '0' && t[k] <= '9') || t[k] == '_'))
		k++;
	return k <= LOG_KEY_MAX && k + 1 < n && t[k] == '=' ? k : 0;
}

/*
 * POP3_EVENT: the message's leading words made of letters only, lowercased
 * and joined by '_'.  A word ending in ',', ':' or ';' is the last one taken
 * ("state file unavailable, ..." is state_file_unavailable); the first other
 * word (a key=value token, a number, a path) ends the event before it.
 */
static void put_event(struct dgram *d, const char *msg, size_t len)
{
	char ev[LOG_EVENT_MAX];
	size_t n = 0, i = 0;

	while (i < len) {
		size_t t = token_len(msg + i, len - i), w = t;
		bool last = false;

		if (w > 0 && (msg[i + w - 1] == ',' || msg[i + w - 1] == ':' || msg[i + w - 1] == ';')) {
			w--;
			last = true;
		}
		if (!all_letters(msg + i, w) || n + (n > 0) + w > sizeof ev)
			break;
		if (n > 0)
			ev[n++] = '_';
		for (size_t k = 0; k < w; k++)
			ev[n++] = (char)tolower((unsigned char)msg[i + k]);
		if (last)
			break;
		i += t + 1;
	}
	if (n > 0)
		put_field(d, "POP3_EVENT", ev, n);
}

/*
 * One POP3_<KEY> field per key=value token.  Lines say "key=value: reason"
 * for a failure: a value ending in ':' before free text loses the ':'
 * (before another key=value token it is kept: it is the value's own).  The
 * last token of a cut line is incomplete and is left out.
 */
static void put_kv_fields(struct dgram *d, const char *msg, size_t len, bool cut)
{
	size_t i = 0;

	while (i < len) {
		size_t t = token_len(msg + i, len - i), k = kv_key(msg + i, t);

		if (k > 0 && !(cut && i + t == len)) {
			char name[sizeof "POP3_" + LOG_KEY_MAX];
			const char *val = msg + i + k + 1;
			size_t vlen = t - k - 1;

			if (vlen > 1 && val[vlen - 1] == ':' && i + t < len) {
				size_t next = i + t + 1;
				if (kv_key(msg + next, token_len(msg + next, len - next)) == 0)
					vlen--;
			}
			memcpy(name, "POP3_", 5);
			for (size_t j = 0; j < k; j++)
				name[5 + j] = (char)toupper((unsigned char)msg[i + j]);
			name[5 + k] = '\0';
			put_field(d, name, val, vlen);
		}
		i += t + 1;
	}
}

/* journald's socket, opened once and kept out of descriptors 0-2. */
static int journal_socket(void)
{
	int fd;

	if (log_dest.journal_fd != -1)
		return log_dest.journal_fd;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0 && fd <= STDERR_FILENO) {
		/* 0-2 closed at start: never let a log socket pose as stdio */
		int moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
		(void)close(fd);
		fd = moved;
	}
	log_dest.journal_fd = fd >= 0 ? fd : -2;
	return log_dest.journal_fd;
}

/*
 * Send one entry; false if it did not leave whole (no socket, journald gone
 * or its queue full: MSG_DONTWAIT, so a busy journald never stalls a
 * session), and the caller writes the line to stderr instead.
 */
static bool journal_send(enum log_prio prio, const char *msg, size_t len, bool cut)
{
	static struct dgram d; /* 3.5 KiB: off the stack; logging is single-threaded */
	static const struct sockaddr_un addr = { .sun_family = AF_UNIX, .sun_path = JOURNAL_SOCKET };
	char num[24];
	int fd = journal_socket(), n;
	ssize_t sent;

	if (fd < 0)
		return false;
	d.len = 0;
	d.ok = true;
	put_field(&d, "MESSAGE", msg, len);
	n = snprintf(num, sizeof num, "%d", (int)prio);
	put_field(&d, "PRIORITY", num, n > 0 ? (size_t)n : 0);
	n = snprintf(num, sizeof num, "%d", SYSLOG_FACILITY_MAIL);
	put_field(&d, "SYSLOG_FACILITY", num, n > 0 ? (size_t)n : 0);
	put_field(&d, "SYSLOG_IDENTIFIER", log_dest.ident, strlen(log_dest.ident));
	n = snprintf(num, sizeof num, "%ld", (long)getpid());
	put_field(&d, "SYSLOG_PID", num, n > 0 ? (size_t)n : 0);
	put_event(&d, msg, len);
	put_kv_fields(&d, msg, len, cut);
	if (!d.ok)
		return false;
	do
		sent = sendto(fd, d.buf, d.len, MSG_DONTWAIT | MSG_NOSIGNAL,
			      (const struct sockaddr *)&addr, (socklen_t)sizeof addr);
	while (sent < 0 && errno == EINTR);
	return sent >= 0 && (size_t)sent == d.len;
}

void log_msg(enum log_prio prio, const char *fmt, ...)
{
	char line[LOG_PREFIX_MAX + LOG_MSG_MAX + 2];
	char *msg;
	size_t off, len;
	bool cut = false;
	int n;
	va_list ap;

	if (prio > log_dest.max || log_dest.sink == SINK_NONE)
		return;

	/* the prefix first, so the stderr forms leave in one write(2) */
	if (log_dest.sink == SINK_PLAIN)
		n = snprintf(line, LOG_PREFIX_MAX, "%s[%ld]: ", log_dest.ident, (long)getpid());
	else
		n = snprintf(line, LOG_PREFIX_MAX, "<%d>", (int)prio);
	if (n < 0)
		n = 0;
	off = (size_t)n < LOG_PREFIX_MAX ? (size_t)n : LOG_PREFIX_MAX - 1;
	msg = line + off;

	va_start(ap, fmt);
	n = vsnprintf(msg, LOG_MSG_MAX + 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > LOG_MSG_MAX) {
		/* cut: mark it so nobody mistakes it for the whole line */
		len = LOG_MSG_MAX;
		memcpy(msg + len - 3, "...", 3);
		cut = true;
	} else {
		len = (size_t)n;
	}
	scrub(msg, len);
	msg[len] = '\0';

	if (log_dest.sink == SINK_SYSLOG) {
		if (!log_dest.syslog_open) {
			openlog(log_dest.ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
			log_dest.syslog_open = true;
		}
		syslog((int)prio, "%s", msg);
		return;
	}
	if (log_dest.sink == SINK_JOURNAL && journal_send(prio, msg, len, cut))
		return;
	msg[len] = '\n';
	write_all_stderr(line, off + len + 1);
}
