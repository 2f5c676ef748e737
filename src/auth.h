/*
 * auth.h - password checks against crypt(3) hashes, and SASL PLAIN decoding.
 */
#ifndef POP3_AUTH_H
#define POP3_AUTH_H

#include <stdbool.h>
#include <stddef.h>

/* Letters, digits and ._@+- ; not starting with '.'; 1..POP3_USER_MAX. */
bool auth_valid_username(const char *name);

/*
 * True when password matches hash.  With hash NULL (unknown or refused
 * user) the password is checked against dummy_hash instead and the answer
 * is false, so that a wrong name costs what a wrong password costs.
 */
bool auth_verify(const char *hash, const char *dummy_hash, const char *password);

/*
 * Decode an RFC 4616 PLAIN response (base64 of authzid NUL authcid NUL
 * passwd) into buf; *user and *pass point into buf.  An authzid other than
 * empty or the authcid itself is refused (no proxy logins).
 */
bool auth_plain_decode(const char *b64, char *buf, size_t cap, const char **user, const char **pass);

/* The crypt(3) prefix of a scheme name (yescrypt, sha512crypt, sha256crypt, bcrypt), or NULL. */
const char *auth_scheme_prefix(const char *name);

/* Hash password with a fresh salt of the given prefix ("$y$", "$6$", ...). */
bool auth_hash(const char *prefix, const char *password, char *out, size_t cap);

/* True when s looks like a hash crypt(3) can check against. */
bool auth_is_hash(const char *s);

#endif
