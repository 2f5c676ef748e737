/*
 * msgconv.h - a stored message to its POP3 wire form.
 *
 * Line ends become CRLF whatever the file uses (a CR already before an LF is
 * kept, a bare LF gets one, a lone CR elsewhere is message data), a last line
 * without an end gets one, and, when stuffing, a line that starts with '.'
 * gets a second '.' (RFC 1939 section 3).  The octet count of a message is
 * this same conversion without the stuffing, so LIST and RETR cannot
 * disagree.  TOP stops after the blank line and the first n body lines.
 */
#ifndef POP3_MSGCONV_H
#define POP3_MSGCONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct msgconv {
	bool stuff;          /* dot-stuff (RETR/TOP) or not (counting) */
	bool top;            /* stop after body_left body lines */
	bool line_start;     /* the next octet begins a line */
	bool last_cr;        /* the last octet copied was a CR */
	bool in_body;        /* the header/body blank line has been passed */
	bool done;           /* TOP's limit reached: ignore further input */
	size_t line_octets;  /* octets of the current line so far */
	uint64_t body_left;
	uint64_t stuffed;    /* dots added: output minus this is the message's size */
};

void msgconv_init(struct msgconv *c, bool stuff, bool top, uint64_t body_lines);

/*
 * Convert in[0..n) and append to out; returns the octets appended.
 * out must have room for 2 * n octets.
 */
size_t msgconv_feed(struct msgconv *c, const char *in, size_t n, char *out);

/* End of input: close an unterminated last line.  Needs 2 octets of room. */
size_t msgconv_finish(struct msgconv *c, char *out);

#endif
