/*
 * stream.h - send one message (RETR) or its head (TOP) to the client.
 */
#ifndef POP3_STREAM_H
#define POP3_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "iobuf.h"

enum stream_status {
	STREAM_OK,
	STREAM_EARLY_FAIL, /* nothing sent: the caller may still answer -ERR */
	STREAM_ABORTED,    /* failed after "+OK": the session must end */
};

/*
 * Read fd (the message file) and send status, the converted message and
 * the terminating ".".  The first chunk is read before status goes out, so
 * a file that cannot be read at all still gets a clean -ERR.  top: stop
 * after body_lines lines of body.  Takes ownership of fd.
 */
enum stream_status stream_message(struct iobuf *io, int fd, const char *status, bool top,
				  uint64_t body_lines);

#endif
