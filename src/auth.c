/*
 * auth.c - crypt_r(3) verification with wiped scratch memory.
 */
#include "auth.h"

#include <crypt.h>
#include <string.h>
#include <sys/mman.h>

#include "params.h"

bool auth_valid_username(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > POP3_USER_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' ||
			  c == '+' || c == '-';
		if (!ok)
			return false;
	}
	return true;
}

/*
 * struct crypt_data is 32 KiB and holds password-derived state: map it for
 * the one call and wipe it, so it neither lingers nor stays in the heap
 * (an idle session's memory is a design target).
 */
static struct crypt_data *scratch_get(void)
{
	void *p = mmap(NULL, sizeof(struct crypt_data), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void scratch_put(struct crypt_data *cd)
{
	explicit_bzero(cd, sizeof *cd);
	(void)munmap(cd, sizeof *cd);
}

/* Compare without an early exit, so timing says nothing about where they differ. */
static bool equal_ct(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = (unsigned char)(la != lb);

	for (size_t i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

bool auth_verify(const char *hash, const char *dummy_hash, const char *password)
{
	struct crypt_data *cd = scratch_get();
	bool real = hash != NULL && hash[0] != '\0';
	const char *setting = real ? hash : dummy_hash;
	bool ok = false;

	if (!cd)
		return false;
	if (strlen(password) <= POP3_PASS_MAX) {
		const char *out = crypt_r(password, setting, cd);
		/* crypt_r fails with NULL or a string starting with '*' */
		ok = real && out && out[0] != '*' && equal_ct(out, hash);
	}
	scratch_put(cd);
	return ok;
}

const char *auth_scheme_prefix(const char *name)
{
	static const struct { const char *name, *prefix; } schemes[] = {
		{ "yescrypt", "$y$" }, { "sha512crypt", "$6$" }, { "sha256crypt", "$5$" },
		{ "bcrypt", "$2b$" },
	};

	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
		if (strcmp(name, schemes[i].name) == 0)
			return schemes[i].prefix;
	return NULL;
}

bool auth_hash(const char *prefix, const char *password, char *out, size_t cap)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	bool ok = false;

	if (!crypt_gensalt_rn(prefix, 0, NULL, 0, salt, sizeof salt))
		return false;
	cd = scratch_get();
	if (!cd)
		return false;
	const char *h = crypt_r(password, salt, cd);
	if (h && h[0] != '*' && strlen(h) < cap) {
		memcpy(out, h, strlen(h) + 1);
		ok = true;
	}
	scratch_put(cd);
	return ok;
}

bool auth_is_hash(const char *s)
{
	struct crypt_data *cd;
	bool ok;

	if (s[0] != '$')
		return false;
	cd = scratch_get();
	if (!cd)
		return false;
	const char *h = crypt_r("probe", s, cd);
	/* a usable hash has the shape of what crypt makes with its own setting */
	ok = h && h[0] != '*' && strlen(h) == strlen(s) &&
	     strrchr(h, '$') - h == strrchr(s, '$') - s && memcmp(h, s, (size_t)(strrchr(s, '$') - s)) == 0;
	scratch_put(cd);
	return ok;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Strict RFC 4648 base64: whole quanta, padding only at the end. */
static bool b64_decode(const char *in, char *out, size_t cap, size_t *outlen)
{
	size_t n = strlen(in), o = 0;

	if (n == 0 || n % 4 != 0)
		return false;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		size_t pad = 0;
		for (size_t k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0)
				return false;
			v[k] = b64_value(in[i + k]);
			if (v[k] < 0)
				return false;
		}
		unsigned long q = ((unsigned long)v[0] << 18) | ((unsigned long)v[1] << 12) |
				  ((unsigned long)v[2] << 6) | (unsigned long)v[3];
		size_t bytes = 3 - pad;
		if (o + bytes >= cap)
			return false;
		out[o++] = (char)((q >> 16) & 0xff);
		if (bytes > 1)
			out[o++] = (char)((q >> 8) & 0xff);
		if (bytes > 2)
			out[o++] = (char)(q & 0xff);
	}
	out[o] = '\0';
	*outlen = o;
	return true;
}

bool auth_plain_decode(const char *b64, char *buf, size_t cap, const char **user, const char **pass)
{
	size_t n;

	if (!b64_decode(b64, buf, cap, &n))
		return false;
	char *nul1 = memchr(buf, '\0', n);
	if (!nul1)
		return false;
	char *authcid = nul1 + 1;
	char *nul2 = memchr(authcid, '\0', (size_t)(buf + n - authcid));
	if (!nul2)
		return false;
	char *passwd = nul2 + 1;
	if (memchr(passwd, '\0', (size_t)(buf + n - passwd)))
		return false; /* a third NUL: not PLAIN */
	if (buf[0] != '\0' && strcmp(buf, authcid) != 0)
		return false;
	*user = authcid;
	*pass = passwd;
	return true;
}
