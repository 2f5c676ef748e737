/*
 * admserve.h - pop3-admind's long-lived UDP service.
 */
#ifndef POP3_ADMSERVE_H
#define POP3_ADMSERVE_H

#include <stddef.h>

#define ADMSERVE_LISTEN_MAX 8
#define ADMSERVE_SECRET_DEFAULT "/etc/pop3/admin.secret"

struct admserve_opts {
	const char *state_path;
	const char *secret_path;
	const char *listen[ADMSERVE_LISTEN_MAX]; /* "ADDR:PORT", "[V6]:PORT"; none: sockets from systemd or the defaults */
	size_t nlisten;
};

/* Serve until SIGTERM/SIGINT; returns an exit status. */
int admserve_run(const struct admserve_opts *o);

#endif
