/*
 * tls.c - OpenSSL 3 on the session's connection, with timeouts.
 *
 * Policy (docs/design.md, "TLS"): TLS 1.2 and 1.3 only; for 1.2, ECDHE
 * with AES-GCM or ChaCha20-Poly1305 (OpenSSL's TLS 1.3 suites are all
 * fine); no renegotiation, no compression; no session resumption, since
 * every connection is a new process and a ticket key shared between them
 * would be a long-lived secret on disk; ALPN "pop3" accepted, and a client
 * that offers ALPN without "pop3" refused, so a TLS connection meant for
 * another protocol cannot be redirected here (the ALPACA attack).
 */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define TLS12_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

bool tls_linked(void)
{
	return true;
}

/* OpenSSL's first queued error, for a log line; the queue is emptied. */
static void why_ssl(char *why, size_t cap, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";

	if (e)
		ERR_error_string_n(e, buf, sizeof buf);
	(void)snprintf(why, cap, "%s: %s", what, e ? buf : strerror(errno));
	ERR_clear_error();
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char pop3[] = { 4, 'p', 'o', 'p', '3' };
	unsigned char *sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, pop3, sizeof pop3, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

bool tls_prepare(struct tls *t, const struct tls_files *f, char *why, size_t whycap)
{
	SSL_CTX *ctx;

	if (t->ctx)
		return true;
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		why_ssl(why, whycap, "SSL_CTX_new");
		return false;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
		why_ssl(why, whycap, "TLS policy");
		SSL_CTX_free(ctx);
		return false;
	}
	(void)SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
					       SSL_OP_NO_TICKET);
	(void)SSL_CTX_set_num_tickets(ctx, 0);
	(void)SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	if (SSL_CTX_use_certificate_chain_file(ctx, f->cert) != 1) {
		why_ssl(why, whycap, f->cert);
		SSL_CTX_free(ctx);
		return false;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, f->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		why_ssl(why, whycap, f->key);
		SSL_CTX_free(ctx);
		return false;
	}
	t->ctx = ctx;
	return true;
}

static int ms_left(const struct timespec *deadline)
{
	struct timespec now;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	long long ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
		       (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms <= 0 ? 0 : ms > 3600000 ? 3600000 : (int)ms;
}

static struct timespec deadline_in(int timeout_ms)
{
	struct timespec d;

	(void)clock_gettime(CLOCK_MONOTONIC, &d);
	d.tv_sec += timeout_ms / 1000;
	d.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (d.tv_nsec >= 1000000000) {
		d.tv_sec++;
		d.tv_nsec -= 1000000000;
	}
	return d;
}

/*
 * After SSL_ERROR_WANT_READ or _WRITE: wait for the descriptor, at most
 * until the deadline.  False on timeout or a poll failure.
 */
static bool wait_for(const struct tls *t, int err, const struct timespec *deadline)
{
	struct pollfd pfd = {
		.fd = err == SSL_ERROR_WANT_WRITE ? t->out_fd : t->in_fd,
		.events = err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN,
	};

	for (;;) {
		int left = ms_left(deadline);
		if (left == 0)
			return false;
		int r = poll(&pfd, 1, left);
		if (r > 0)
			return true;
		if (r == 0 || errno != EINTR)
			return false;
	}
}

static bool nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_NONBLOCK || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0);
}

bool tls_handshake(struct tls *t, int in_fd, int out_fd, int timeout_ms, char *why,
		   size_t whycap)
{
	struct timespec deadline = deadline_in(timeout_ms);

	t->in_fd = in_fd;
	t->out_fd = out_fd;
	if (!nonblock(in_fd) || !nonblock(out_fd)) {
		(void)snprintf(why, whycap, "fcntl: %s", strerror(errno));
		return false;
	}
	t->ssl = SSL_new(t->ctx);
	if (!t->ssl || SSL_set_rfd(t->ssl, in_fd) != 1 || SSL_set_wfd(t->ssl, out_fd) != 1) {
		why_ssl(why, whycap, "SSL_new");
		return false;
	}
	for (;;) {
		int r = SSL_accept(t->ssl);
		if (r == 1)
			break;
		int err = SSL_get_error(t->ssl, r);
		if ((err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) &&
		    wait_for(t, err, &deadline))
			continue;
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
			(void)snprintf(why, whycap, "handshake timed out");
		else
			why_ssl(why, whycap, "handshake");
		return false;
	}
	t->active = true;
	return true;
}

enum tls_io tls_read(struct tls *t, void *dst, size_t cap, size_t *got, int timeout_ms)
{
	struct timespec deadline = deadline_in(timeout_ms);

	for (;;) {
		if (SSL_read_ex(t->ssl, dst, cap, got) == 1)
			return TLS_IO_OK;
		int err = SSL_get_error(t->ssl, 0);
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
			if (wait_for(t, err, &deadline))
				continue;
			return TLS_IO_TIMEOUT;
		}
		ERR_clear_error();
		/* close_notify, or a plain TCP close: either way the client left */
		if (err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL || err == SSL_ERROR_SSL)
			return err == SSL_ERROR_ZERO_RETURN ? TLS_IO_EOF : TLS_IO_ERROR;
		return TLS_IO_ERROR;
	}
}

bool tls_write(struct tls *t, const void *src, size_t n, int timeout_ms)
{
	struct timespec deadline = deadline_in(timeout_ms);
	const char *p = src;

	while (n > 0) {
		size_t done = 0;
		if (SSL_write_ex(t->ssl, p, n, &done) == 1) {
			p += done;
			n -= done;
			/* progress: the timeout bounds a stall, not the whole message */
			deadline = deadline_in(timeout_ms);
			continue;
		}
		int err = SSL_get_error(t->ssl, 0);
		if (err == SSL_ERROR_WANT_WRITE && wait_for(t, err, &deadline)) {
			/*
			 * Room again: the client is reading.  Under back-pressure
			 * SSL_write_ex() never returns 1 (each call finishes the
			 * pending record, starts the next and meets EAGAIN), so this
			 * is where progress shows: a steady slow reader must not be
			 * cut off in the middle of a 384 KiB write, as plaintext's
			 * SO_SNDTIMEO would not cut it off either.
			 */
			deadline = deadline_in(timeout_ms);
			continue;
		}
		if (err == SSL_ERROR_WANT_READ && wait_for(t, err, &deadline))
			continue;
		ERR_clear_error();
		return false;
	}
	return true;
}

void tls_describe(const struct tls *t, char *buf, size_t cap)
{
	if (!t->active) {
		(void)snprintf(buf, cap, "-");
		return;
	}
	(void)snprintf(buf, cap, "%s/%s", SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl));
}

void tls_end(struct tls *t)
{
	if (t->ssl) {
		/* one try, no waiting: the client may already be gone */
		if (t->active)
			(void)SSL_shutdown(t->ssl);
		SSL_free(t->ssl);
	}
	SSL_CTX_free(t->ctx);
	ERR_clear_error();
	t->ssl = NULL;
	t->ctx = NULL;
	t->active = false;
}
