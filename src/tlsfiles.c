/*
 * tlsfiles.c - where the certificate and key are (both builds: see tls.h).
 */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

static bool pick(char *dst, size_t cap, const char *a, const char *b)
{
	const char *v = a && *a ? a : b;
	size_t n = v ? strlen(v) : 0;

	if (n == 0 || n >= cap)
		return false;
	memcpy(dst, v, n + 1);
	return true;
}

/*
 * pop3@.service falls back to SetCredential=tls.crt:unset when the
 * administrator has no certificate: a file that says just "unset" (or is
 * empty or missing) is no certificate.  Anything else counts, so a broken
 * file gets its loud -ERR and log line rather than silence.
 */
static bool given(const char *path)
{
	char buf[8];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	/*
	 * Only a missing file is no certificate.  One we may not read (a
	 * credential left root-only) is a broken one: it must reach
	 * tls_prepare(), whose log line names it, not switch TLS off silently.
	 */
	if (fd < 0)
		return errno != ENOENT;
	n = read(fd, buf, sizeof buf);
	(void)close(fd);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	return n > 0 && !(n == 5 && memcmp(buf, "unset", 5) == 0);
}

bool tls_files_find(struct tls_files *f, const char *cert_flag, const char *key_flag)
{
	const char *creds = getenv("CREDENTIALS_DIRECTORY");

	if (pick(f->cert, sizeof f->cert, cert_flag, getenv("POP3_TLS_CERT")) &&
	    pick(f->key, sizeof f->key, key_flag, getenv("POP3_TLS_KEY")))
		return true;
	if (!creds || creds[0] != '/')
		return false;
	int a = snprintf(f->cert, sizeof f->cert, "%s/tls.crt", creds);
	int b = snprintf(f->key, sizeof f->key, "%s/tls.key", creds);
	if (a < 0 || (size_t)a >= sizeof f->cert || b < 0 || (size_t)b >= sizeof f->key)
		return false;
	/*
	 * A credentials directory without our two files, or with the "unset"
	 * fallbacks of pop3@.service's SetCredential=, means: no TLS.
	 */
	return given(f->cert) && given(f->key);
}
