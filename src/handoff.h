/*
 * handoff.h - continue this session in pop3-session-tls.
 *
 * pop3-session has no OpenSSL linked in: its start-up would cost every
 * plaintext connection about half a millisecond (docs/design.md, "TLS").
 * When a client sends STLS, or the session was started with
 * --implicit-tls, the process execs pop3-session-tls from the same
 * directory: the same pid, descriptors and environment, the original
 * arguments, and for STLS the counters a login limit depends on, so the
 * new program carries on the very same session.
 */
#ifndef POP3_HANDOFF_H
#define POP3_HANDOFF_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define HANDOFF_TLS_PROGRAM "pop3-session-tls"

/* What an STLS hand-off carries over (--resume-stls=<text>). */
struct handoff {
	unsigned attempts;      /* login attempts so far */
	unsigned failures;      /* failed logins so far */
	uint64_t logins_failed; /* for the metrics at the end */
	bool counted_start;     /* the state file counted this session already */
	struct timespec t0;     /* when the session started (CLOCK_MONOTONIC) */
};

/*
 * exec pop3-session-tls with argv[1..argc) and, when h is given, the STLS
 * counters.  Returns only on failure, with errno set.
 */
void handoff_exec(int argc, char *const argv[], const struct handoff *h);

/* The --resume-stls value; false if it is malformed. */
bool handoff_parse(const char *text, struct handoff *h);

#endif
