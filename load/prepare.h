/*
 * prepare.h - a known store for a load test: N messages of Mailstone's
 * sizes (or a given file) delivered into M users' maildirs with the
 * Maildir protocol (write in tmp/, link into new/, unlink), and the users
 * created in the state file by pop3-admind.
 */
#ifndef LOAD_PREPARE_H
#define LOAD_PREPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PREP_MAX_SIZES 16

struct prep {
	const char *root;         /* maildir root: <root>/<user>/{tmp,new,cur} */
	const char *state;        /* state file for pop3-admind, or NULL */
	const char *admind;       /* the pop3-admind to run, or NULL: found */
	const char *scheme;       /* hash scheme for pop3-admind */
	const char *users_file;   /* also keep "name:password" lines here, or NULL */
	const char *login_fmt, *passwd_fmt;
	uint64_t first, users;
	uint64_t messages;        /* per user */
	uint64_t sizes[PREP_MAX_SIZES]; /* 0 means the flow message (100 'Z') */
	size_t nsizes;            /* the sizes are used in turn */
	const char *file;         /* deliver this file instead of generated text */
	bool fsync;               /* fsync each message before it is linked */
	uint64_t seed;
};

/* Parse "1k,5k,17k", "mailstone" (the five sizes), "flow", "25M"... */
bool prep_parse_sizes(struct prep *p, const char *list, char *err, size_t errlen);

/* Do it; progress (users done) goes to the callback when not NULL. */
typedef void prep_progress_fn(uint64_t done, uint64_t total);
bool prep_run(const struct prep *p, prep_progress_fn *progress, char *err, size_t errlen);

/* The size on the wire (CRLF line ends, a last line ended) of n octets
 * of a stored message, by the rule pop3-session and Dovecot use. */
uint64_t prep_wire_size(const unsigned char *buf, size_t n, bool *ends_cr, bool *ends_lf);

#endif
