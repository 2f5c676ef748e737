/*
 * reply.h - checks one POP3 reply as its octets arrive: the status line
 * ("+OK" or "-ERR", CRLF, at most 512 octets as RFC 2449 allows), and for
 * a multi-line reply every line's CRLF, the dot-stuffing and the
 * terminator, counting the message octets a client gets after
 * unstuffing.  It never stores a message body, so a 100 MB RETR costs no
 * memory; LIST's lines are handed to a callback one at a time.
 */
#ifndef LOAD_REPLY_H
#define LOAD_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPLY_LINE_MAX 512 /* RFC 2449: a response line is at most 512 octets with its CRLF */

enum reply_state { RS_MORE, RS_DONE, RS_BAD };

enum reply_phase { RP_STATUS, RP_BODY };

/* Body line states: at the start of a line, after a leading '.', after
 * ".\r", inside a line (the previous octet is remembered for CR). */
enum body_state { B_BOL, B_DOT, B_DOTCR, B_MID };

typedef bool reply_line_fn(void *ctx, const char *line, size_t len);

struct reply {
	bool multi_if_ok;    /* the command's +OK starts a multi-line reply */
	enum reply_phase phase;
	bool ok;             /* status was +OK */
	char status[REPLY_LINE_MAX + 1]; /* the status line without CRLF, NUL ended */
	size_t status_len;
	enum body_state bstate;
	unsigned char last;  /* the previous octet inside a line */
	uint64_t body_octets; /* message octets after unstuffing, with each line's CRLF */
	uint64_t body_lines;
	reply_line_fn *on_line; /* NULL: body lines are only counted */
	void *ctx;
	char line[REPLY_LINE_MAX + 1]; /* the body line being collected for on_line */
	size_t line_len;
	const char *why;     /* RS_BAD: what was wrong, for the error log */
	bool why_size;       /* RS_BAD came from on_line's own check */
};

/* Start on a new reply; multi: +OK is followed by lines and a terminator. */
void reply_start(struct reply *r, bool multi, reply_line_fn *on_line, void *ctx);

/* Feed octets; *used says how many belong to this reply (the rest belong
 * to the next one when commands were pipelined).  RS_BAD sets r->why. */
enum reply_state reply_feed(struct reply *r, const char *buf, size_t len, size_t *used);

/* The connection ended: true if that was inside a multi-line body (the
 * terminator never came), false if before the status line was complete. */
bool reply_in_body(const struct reply *r);

/* "+OK 1234 octets" (RETR, both servers): the number, if the line says it. */
bool reply_status_octets(const struct reply *r, uint64_t *octets);

#endif
