/*
 * hmac.h - HMAC-SHA256 of the admin protocol (OpenSSL's libcrypto).
 */
#ifndef POP3_HMAC_H
#define POP3_HMAC_H

#include <stdbool.h>
#include <stddef.h>

#define HMAC_HEX_LEN 64

/* Lowercase hex of HMAC-SHA256(key, msg) into hex[HMAC_HEX_LEN + 1]. */
bool hmac_hex(const char *key, size_t keylen, const char *msg, size_t len, char *hex);

/* Compare two strings of length n without an early exit. */
bool hmac_equal(const char *a, const char *b, size_t n);

/* Read a secret file: 32-256 printable octets, not readable by group or others. */
bool hmac_read_secret(const char *path, char *buf, size_t cap, size_t *len, const char **why);

#endif
