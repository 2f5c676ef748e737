/*
 * tls.h - the connection's TLS layer (RFC 2595 STLS, RFC 8314 implicit TLS).
 *
 * OpenSSL does all the cryptography.  It is linked only into
 * pop3-session-tls (tls.c); pop3-session has tls_none.c instead and hands a
 * session that asks for TLS over to pop3-session-tls (handoff.c), so a
 * plaintext session never pays for OpenSSL's start-up (docs/design.md,
 * "TLS").  The context, certificate and key are loaded when a session
 * first needs them (STLS, or implicit TLS before the greeting).
 * After tls_handshake() the connection's descriptors are non-blocking and
 * every read and write waits in poll() with the caller's timeout, so a
 * client that stalls in the middle of a record cannot hold the process.
 */
#ifndef POP3_TLS_H
#define POP3_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct ssl_ctx_st;
struct ssl_st;

struct tls_files {
	char cert[CONFIG_PATH_MAX]; /* PEM: the certificate, then its chain */
	char key[CONFIG_PATH_MAX];  /* PEM private key */
};

struct tls {
	struct ssl_ctx_st *ctx;
	struct ssl_st *ssl;
	int in_fd, out_fd;
	bool active; /* the handshake completed: all I/O goes through ssl */
};

enum tls_io { TLS_IO_OK, TLS_IO_EOF, TLS_IO_TIMEOUT, TLS_IO_ERROR };

/* Whether this binary has OpenSSL linked in (pop3-session-tls). */
bool tls_linked(void);

/*
 * tlsfiles.c: where the certificate and key are: the flags, else $POP3_TLS_CERT and
 * $POP3_TLS_KEY, else tls.crt and tls.key in $CREDENTIALS_DIRECTORY
 * (systemd's LoadCredential=).  False when none names both.
 */
bool tls_files_find(struct tls_files *f, const char *cert_flag, const char *key_flag);

/* A context with the certificate and key loaded; why says what failed. */
bool tls_prepare(struct tls *t, const struct tls_files *f, char *why, size_t whycap);

/* The server side of the handshake on in_fd/out_fd, within timeout_ms. */
bool tls_handshake(struct tls *t, int in_fd, int out_fd, int timeout_ms, char *why,
		   size_t whycap);

/* Up to cap octets of plaintext; waits at most timeout_ms for a record. */
enum tls_io tls_read(struct tls *t, void *dst, size_t cap, size_t *got, int timeout_ms);

/* All n octets, or false (peer gone, or no progress within timeout_ms). */
bool tls_write(struct tls *t, const void *src, size_t n, int timeout_ms);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384" for the log; "-" before the handshake. */
void tls_describe(const struct tls *t, char *buf, size_t cap);

/* Send close_notify if possible and free everything. */
void tls_end(struct tls *t);

#endif
