/* reply.c - see reply.h. */
#include "reply.h"

#include <string.h>

void reply_start(struct reply *r, bool multi, reply_line_fn *on_line, void *ctx)
{
	r->multi_if_ok = multi;
	r->phase = RP_STATUS;
	r->ok = false;
	r->status_len = 0;
	r->status[0] = '\0';
	r->bstate = B_BOL;
	r->last = 0;
	r->body_octets = 0;
	r->body_lines = 0;
	r->on_line = on_line;
	r->ctx = ctx;
	r->line_len = 0;
	r->why = NULL;
	r->why_size = false;
}

static enum reply_state bad(struct reply *r, const char *why)
{
	r->why = why;
	return RS_BAD;
}

/* The status line is complete (without CRLF) in r->status. */
static enum reply_state status_done(struct reply *r)
{
	if (strncmp(r->status, "+OK", 3) == 0 && (r->status[3] == '\0' || r->status[3] == ' ')) {
		r->ok = true;
	} else if (strncmp(r->status, "-ERR", 4) == 0 && (r->status[4] == '\0' || r->status[4] == ' ')) {
		r->ok = false;
	} else {
		return bad(r, "status line is neither +OK nor -ERR");
	}
	if (r->ok && r->multi_if_ok) {
		r->phase = RP_BODY;
		return RS_MORE;
	}
	return RS_DONE;
}

/* Collect a body line for on_line (LIST); the octets also went through
 * the counting below, so only the copy happens here. */
static bool collect(struct reply *r, const char *p, size_t n)
{
	if (r->on_line == NULL)
		return true;
	if (r->line_len + n > REPLY_LINE_MAX) {
		r->why = "a listing line longer than 512 octets";
		return false;
	}
	memcpy(r->line + r->line_len, p, n);
	r->line_len += n;
	return true;
}

static bool line_end(struct reply *r)
{
	r->body_lines++;
	if (r->on_line == NULL)
		return true;
	/* the collected line ends in CRLF: hand it over without them */
	size_t len = r->line_len >= 2 ? r->line_len - 2 : 0;
	r->line[len] = '\0';
	r->line_len = 0;
	if (!r->on_line(r->ctx, r->line, len)) {
		r->why = "bad listing line";
		r->why_size = true;
		return false;
	}
	return true;
}

enum reply_state reply_feed(struct reply *r, const char *buf, size_t len, size_t *used)
{
	size_t i = 0;
	enum reply_state st = RS_MORE;

	while (i < len) {
		if (r->phase == RP_STATUS) {
			const char *nl = memchr(buf + i, '\n', len - i);
			size_t n = nl ? (size_t)(nl - (buf + i)) + 1 : len - i;
			if (r->status_len + n > REPLY_LINE_MAX) {
				st = bad(r, "status line longer than 512 octets");
				i += n;
				break;
			}
			memcpy(r->status + r->status_len, buf + i, n);
			r->status_len += n;
			i += n;
			if (nl == NULL)
				continue;
			if (r->status_len < 2 || r->status[r->status_len - 2] != '\r') {
				st = bad(r, "status line ends in a bare LF");
				break;
			}
			r->status_len -= 2;
			r->status[r->status_len] = '\0';
			st = status_done(r);
			if (st != RS_MORE)
				break;
			continue;
		}
		/* the body */
		unsigned char c = (unsigned char)buf[i];
		switch (r->bstate) {
		case B_BOL:
			if (c == '.') {
				r->bstate = B_DOT;
				i++;
				continue;
			}
			r->bstate = B_MID;
			r->last = 0;
			continue; /* the octet is counted as part of the line below */
		case B_DOT:
			if (c == '\r') {
				r->bstate = B_DOTCR;
				i++;
				continue;
			}
			if (c != '.') {
				st = bad(r, "a line starts with a single '.' (not dot-stuffed)");
				break;
			}
			/* "..": the first dot was stuffing, the second is data */
			r->bstate = B_MID;
			r->last = 0;
			continue;
		case B_DOTCR:
			if (c != '\n') {
				st = bad(r, "'.' CR not followed by LF");
				break;
			}
			i++;
			st = RS_DONE;
			break;
		case B_MID: {
			/* the fast path: whole stretches up to the next LF at once */
			const char *nl = memchr(buf + i, '\n', len - i);
			size_t n = nl ? (size_t)(nl - (buf + i)) + 1 : len - i;
			unsigned char before = n >= 2 ? (unsigned char)buf[i + n - 2] : r->last;
			if (!collect(r, buf + i, n)) {
				st = RS_BAD;
				break;
			}
			r->body_octets += n;
			i += n;
			if (nl == NULL) {
				r->last = (unsigned char)buf[i - 1];
				continue;
			}
			if (before != '\r') {
				st = bad(r, "a message line ends in a bare LF");
				break;
			}
			r->bstate = B_BOL;
			if (!line_end(r))
				st = RS_BAD;
			break;
		}
		}
		if (st != RS_MORE)
			break;
	}
	*used = i;
	return st;
}

bool reply_in_body(const struct reply *r)
{
	return r->phase == RP_BODY;
}

bool reply_status_octets(const struct reply *r, uint64_t *octets)
{
	const char *p = r->status + 3;
	uint64_t v = 0;
	int digits = 0;

	if (!r->ok || *p != ' ')
		return false;
	for (p++; *p >= '0' && *p <= '9'; p++) {
		if (++digits > 18)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (digits == 0 || strncmp(p, " octets", 7) != 0)
		return false;
	*octets = v;
	return true;
}
