/*
 * log.h - the one place diagnostics leave the process.
 *
 * stderr is classified once by log_init().  When it is journald's stream
 * (JOURNAL_STREAM names it) each line goes to journald's native socket as
 * one datagram: MESSAGE (the line), PRIORITY, SYSLOG_FACILITY (mail),
 * SYSLOG_IDENTIFIER, SYSLOG_PID, POP3_EVENT (the leading words) and one
 * POP3_<KEY> field per key=value word (docs/super-servers.md has the rules);
 * a line that cannot leave so goes to stderr as below.  A pipe gets
 * sd-daemon(3) "<N>" priority prefixes, a file or terminal plain lines, and
 * a stderr that is the client's own socket (classic inetd) is never
 * written: those lines go to syslog(3) instead.
 *
 * So that the fields stay meaningful, a message starts with fixed words
 * ("auth failed"), carries its variable parts as key=value words whose
 * values have no spaces (client-chosen ones through log_escape()), and puts
 * free text (strerror) last, after "key=value: ".
 */
#ifndef POP3_LOG_H
#define POP3_LOG_H

#include <stdbool.h>
#include <stddef.h>

/* syslog(3) priorities, the same numbers sd-daemon(3) prefixes use. */
enum log_prio { LOG_PRIO_ERR = 3, LOG_PRIO_WARNING = 4, LOG_PRIO_INFO = 6, LOG_PRIO_DEBUG = 7 };

void log_init(const char *ident);
void log_set_level(enum log_prio max);
bool log_parse_level(const char *s, enum log_prio *out);

/*
 * Copy src into dst (NUL-terminated, truncated to cap) with every octet
 * outside 0x21..0x7e, and '=' and '\\', written as \xNN: a client-chosen
 * string can then never add a field or a line to a log.
 */
void log_escape(char *dst, size_t cap, const char *src);

void log_msg(enum log_prio prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)  log_msg(LOG_PRIO_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_PRIO_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_PRIO_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_PRIO_DEBUG, __VA_ARGS__)

#endif
