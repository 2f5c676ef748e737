/*
 * iobuf.h - line input and gathered output for one client connection.
 *
 * Every read carries the idle timeout and every write its error check, so
 * no call site can forget either (the qmail-pop3d "timeoutread" idea).
 * Output gathers in a fixed buffer and leaves only when the client has no
 * further complete command queued: pipelined replies share one write.
 * All transport access goes through iobuf_read_some() and iobuf_writev()
 * in iobuf.c: once tls is set and active, they go through it (tls.c).
 */
#ifndef POP3_IOBUF_H
#define POP3_IOBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "params.h"

struct tls;

enum io_status {
	IO_OK,      /* a complete line */
	IO_TOOLONG, /* the line exceeded the limit; its tail will be discarded */
	IO_EOF,     /* the client closed the connection */
	IO_TIMEOUT, /* nothing arrived within the idle timeout */
	IO_ERROR,   /* read or write failed */
};

struct iobuf {
	struct tls *tls;     /* NULL, or the connection's TLS layer */
	int in_fd;
	int out_fd;
	int timeout_ms;
	bool discarding;     /* skipping the tail of an over-long line */
	bool out_failed;     /* a write failed: the client is gone */
	bool out_nonblock;   /* out_fd is O_NONBLOCK: writes wait in poll() with the timeout */
	size_t in_off;       /* first unconsumed octet in in[] */
	size_t in_len;       /* unconsumed octets from in_off */
	size_t out_len;
	uint64_t octets_out; /* everything written to the client */
	char in[POP3_INBUF];
	char out[POP3_OUTBUF];
};

void iobuf_init(struct iobuf *b, int in_fd, int out_fd, int timeout_ms);

/*
 * Next line, without its LF or CRLF, NUL-terminated in place; *line stays
 * valid until the next call.  max counts the whole line with its ending.
 */
enum io_status iobuf_getline(struct iobuf *b, size_t max, char **line, size_t *len);

bool iobuf_put(struct iobuf *b, const void *p, size_t n);
bool iobuf_puts(struct iobuf *b, const char *s);
bool iobuf_put_u64(struct iobuf *b, uint64_t v);
bool iobuf_flush(struct iobuf *b);
/* Write what is buffered followed by extra[0..n) with as few writes as possible. */
bool iobuf_flush_with(struct iobuf *b, const void *extra, size_t n);

/*
 * Drop input that arrived but was not read as a command yet; returns how
 * many octets.  After STLS, plaintext the client pipelined behind it must
 * never be taken for commands sent inside TLS.
 */
size_t iobuf_discard_input(struct iobuf *b);

/* Decimal digits of v into buf (at least 21 octets); returns the length. */
size_t fmt_u64(char *buf, uint64_t v);

#endif
