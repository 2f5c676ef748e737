/*
 * hmac.c - the admin protocol's authentication, on OpenSSL's HMAC.
 */
#include "hmac.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool hmac_hex(const char *key, size_t keylen, const char *msg, size_t len, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, len, mac, &maclen) ||
	    maclen * 2 != HMAC_HEX_LEN)
		return false;
	for (unsigned int i = 0; i < maclen; i++) {
		hex[2 * i] = digits[mac[i] >> 4];
		hex[2 * i + 1] = digits[mac[i] & 15];
	}
	hex[HMAC_HEX_LEN] = '\0';
	return true;
}

bool hmac_equal(const char *a, const char *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

bool hmac_read_secret(const char *path, char *buf, size_t cap, size_t *len, const char **why)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	if (fd < 0) {
		*why = strerror(errno);
		return false;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		(void)close(fd);
		return false;
	}
	if (st.st_mode & 077) {
		*why = "readable or writable by group or others (chmod 600 it)";
		(void)close(fd);
		return false;
	}
	n = read(fd, buf, cap - 1);
	(void)close(fd);
	if (n < 0) {
		*why = strerror(errno);
		return false;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	buf[n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] < 0x21 || buf[i] > 0x7e) {
			explicit_bzero(buf, cap);
			*why = "holds a non-printable octet";
			return false;
		}
	if (n < 32 || (size_t)n > 256) {
		explicit_bzero(buf, cap);
		*why = "must hold 32 to 256 printable octets";
		return false;
	}
	*len = (size_t)n;
	return true;
}
