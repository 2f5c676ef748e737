/* util.c - see util.h. */
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

uint64_t now_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer on Linux; a zero
	 * time would only make one measurement wrong, never crash */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

bool parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* Parse "123" or "1.5" into a value scaled by `scale` (nanoseconds per
 * unit); the fraction keeps up to 9 digits, enough for nanoseconds. */
static bool parse_scaled(const char *s, size_t len, uint64_t scale, uint64_t *out)
{
	uint64_t whole = 0, frac = 0, frac_div = 1;
	size_t i = 0;
	bool any = false;

	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (whole > (UINT64_MAX - d) / 10)
			return false;
		whole = whole * 10 + d;
		any = true;
	}
	if (i < len && s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
			if (frac_div < 1000000000ULL) {
				frac = frac * 10 + (uint64_t)(s[i] - '0');
				frac_div *= 10;
			}
			any = true;
		}
	}
	if (!any || i != len)
		return false;
	if (whole > UINT64_MAX / scale)
		return false;
	uint64_t v = whole * scale;
	/* frac < frac_div <= 1e9 and scale <= 86400e9: compute in two steps
	 * so frac * scale cannot overflow */
	uint64_t add = frac * (scale / frac_div) + (frac * (scale % frac_div)) / frac_div;
	if (v > UINT64_MAX - add)
		return false;
	*out = v + add;
	return true;
}

bool parse_duration(const char *s, uint64_t *out_ns)
{
	static const struct {
		const char *suffix;
		uint64_t scale;
	} units[] = {
		{ "ms", NS_PER_MS }, { "s", NS_PER_S }, { "m", 60 * NS_PER_S },
		{ "h", 3600 * NS_PER_S }, { "d", 86400 * NS_PER_S },
	};
	size_t len;

	if (s == NULL || (len = strlen(s)) == 0)
		return false;
	for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
		size_t sl = strlen(units[u].suffix);
		/* "ms" is tried before "s" and "m", so "5ms" is never 5 m */
		if (len > sl && strcmp(s + len - sl, units[u].suffix) == 0)
			return parse_scaled(s, len - sl, units[u].scale, out_ns);
	}
	return parse_scaled(s, len, NS_PER_S, out_ns);
}

bool parse_size(const char *s, uint64_t *out)
{
	size_t len;
	uint64_t mult = 1, v;
	char num[32];

	if (s == NULL || (len = strlen(s)) == 0 || len >= sizeof num)
		return false;
	if (s[len - 1] == 'k' || s[len - 1] == 'K') {
		mult = 1024;
		len--;
	} else if (s[len - 1] == 'M') {
		mult = 1024 * 1024;
		len--;
	}
	memcpy(num, s, len);
	num[len] = '\0';
	if (!parse_u64(num, &v) || v > UINT64_MAX / mult)
		return false;
	*out = v * mult;
	return true;
}

bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "yes", "on", "true" };
	static const char *const no[] = { "0", "no", "off", "false" };

	for (size_t i = 0; i < 4; i++) {
		if (name_eq(s, yes[i])) {
			*out = true;
			return true;
		}
		if (name_eq(s, no[i])) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* One pass for both checking and expanding: dst NULL only checks. */
static bool expand(char *dst, size_t cap, const char *fmt, uint64_t n)
{
	size_t len = 0;
	bool used = false;
	char digits[24];
	int nd = 0;

	do {
		digits[sizeof digits - 1 - (size_t)nd] = (char)('0' + n % 10);
		nd++;
		n /= 10;
	} while (n > 0);

	for (const char *p = fmt; *p; p++) {
		const char *piece = p;
		size_t plen = 1;
		if (*p == '%') {
			if (p[1] == '%') {
				p++;
			} else if (!used && (p[1] == 'd' || (p[1] == 'l' && p[2] == 'd'))) {
				p += p[1] == 'l' ? 2 : 1;
				piece = digits + sizeof digits - (size_t)nd;
				plen = (size_t)nd;
				used = true;
			} else {
				return false;
			}
		}
		if (dst != NULL) {
			if (len + plen >= cap)
				return false;
			memcpy(dst + len, piece, plen);
		}
		len += plen;
	}
	if (dst != NULL)
		dst[len] = '\0';
	return true;
}

bool format_login(char *dst, size_t cap, const char *fmt, uint64_t n)
{
	return cap > 0 && expand(dst, cap, fmt, n);
}

bool format_valid(const char *fmt)
{
	return expand(NULL, 0, fmt, 0);
}

uint64_t rng_next(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ULL;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

uint64_t rng_below(uint64_t *state, uint64_t n)
{
	/* the modulo bias is below 2^-40 for the ranges used here */
	return rng_next(state) % n;
}

bool base64_encode(char *dst, size_t cap, const unsigned char *src, size_t len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t need = (len + 2) / 3 * 4 + 1, o = 0;

	if (cap < need)
		return false;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)src[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)src[i + 1] << 8;
		if (i + 2 < len)
			v |= src[i + 2];
		dst[o++] = tab[(v >> 18) & 63];
		dst[o++] = tab[(v >> 12) & 63];
		dst[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		dst[o++] = i + 2 < len ? tab[v & 63] : '=';
	}
	dst[o] = '\0';
	return true;
}

bool name_eq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
