/*
 * tls_none.c - the TLS layer of pop3-session, which has no OpenSSL linked:
 * STLS and --implicit-tls hand the session to pop3-session-tls instead
 * (handoff.c).  These are never reached with an active layer.
 */
#include "tls.h"

#include <stdio.h>

bool tls_linked(void)
{
	return false;
}

bool tls_prepare(struct tls *t, const struct tls_files *f, char *why, size_t whycap)
{
	(void)t;
	(void)f;
	(void)snprintf(why, whycap, "this binary has no TLS; pop3-session-tls has");
	return false;
}

bool tls_handshake(struct tls *t, int in_fd, int out_fd, int timeout_ms, char *why,
		   size_t whycap)
{
	(void)in_fd;
	(void)out_fd;
	(void)timeout_ms;
	return tls_prepare(t, NULL, why, whycap);
}

enum tls_io tls_read(struct tls *t, void *dst, size_t cap, size_t *got, int timeout_ms)
{
	(void)t;
	(void)dst;
	(void)cap;
	(void)got;
	(void)timeout_ms;
	return TLS_IO_ERROR;
}

bool tls_write(struct tls *t, const void *src, size_t n, int timeout_ms)
{
	(void)t;
	(void)src;
	(void)n;
	(void)timeout_ms;
	return false;
}

void tls_describe(const struct tls *t, char *buf, size_t cap)
{
	(void)t;
	(void)snprintf(buf, cap, "-");
}

void tls_end(struct tls *t)
{
	t->active = false;
}
