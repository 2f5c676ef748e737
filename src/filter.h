/*
 * filter.h - RETR and TOP through the administrator's filter program.
 *
 * The stored message goes to the filter's stdin as it is on disk; what the
 * filter writes on stdout is what the client gets, CRLF-normalised and
 * dot-stuffed afterwards (msgconv.c).  The filter runs without a shell,
 * with a clean environment, in a process group of its own, with its three
 * standard streams on pipes to this process: it can never write onto the
 * client's connection.  docs/design.md, "Message filters", gives the why.
 */
#ifndef POP3_FILTER_H
#define POP3_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iobuf.h"
#include "stream.h"

struct filter_job {
	const char *command; /* the filter_command text (cmdline.h syntax) */
	const char *user;
	size_t msgno;        /* 1-based, as the client numbers it */
	const char *uidl;
	uint64_t size;       /* the stored message's size, as LIST gives it */
	bool top;            /* TOP: filter the whole message, then cut */
	uint64_t body_lines;
	unsigned timeout_s;  /* the filter's own time; waiting for the client is not counted */
	uint64_t max_octets; /* most octets the filter may write */
};

/*
 * Run the filter over fd (the message file; taken over and closed) and
 * send the result.  Up to POP3_STREAM_FLUSH octets of output are held
 * back, so a filter that fails on an ordinary message gets
 * STREAM_EARLY_FAIL and the caller answers -ERR; once "+OK" is out, a
 * failure is STREAM_ABORTED and the session must end without the
 * terminator.  On failure why holds "reason=<word> (<details>)".  The
 * filter and anything it started are gone when this returns.
 */
enum stream_status filter_message(struct iobuf *io, int fd, const struct filter_job *job,
				  char *why, size_t whycap);

#endif
