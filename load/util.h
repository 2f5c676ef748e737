/*
 * util.h - small helpers shared by pop3-load's modules: the clock, strict
 * number/duration/size parsing, the %d login formatter, a seeded PRNG and
 * base64, error messages.  Nothing here exits or prints: callers get false and decide.
 */
#ifndef LOAD_UTIL_H
#define LOAD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NS_PER_US 1000ULL
#define NS_PER_MS 1000000ULL
#define NS_PER_S 1000000000ULL

/* A formatted error message into err[errlen], for the caller to report. */
void errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* CLOCK_MONOTONIC in nanoseconds: every timer and schedule uses it. */
uint64_t now_ns(void);

/* Digits only, no sign, no overflow (LIST 4294967297 style tricks refused). */
bool parse_u64(const char *s, uint64_t *out);

/* A duration as Mailstone writes it: a number (decimals allowed) and an
 * optional unit ms, s, m, h or d; a bare number means seconds. */
bool parse_duration(const char *s, uint64_t *out_ns);

/* A size: a number and an optional k (1024) or M (1048576) suffix. */
bool parse_size(const char *s, uint64_t *out);

/* A boolean attribute: 1/0, yes/no, on/off, true/false. */
bool parse_bool(const char *s, bool *out);

/* Expand a Mailstone login/password format: the first %d or %ld is the
 * login number, %% is a percent sign; any other % is refused (the format
 * comes from the user, so it never reaches printf).  False if the result
 * does not fit in cap octets (NUL included) or the format is invalid. */
bool format_login(char *dst, size_t cap, const char *fmt, uint64_t n);

/* Check a format without expanding it (for early usage errors). */
bool format_valid(const char *fmt);

/* xorshift64*: deterministic per seed, good enough to spread logins and
 * pick weighted sections; never used for anything secret. */
uint64_t rng_next(uint64_t *state);
/* Uniform in [0, n) (n > 0). */
uint64_t rng_below(uint64_t *state, uint64_t n);

/* Standard base64 of len octets into dst (cap must hold 4*ceil(len/3)+1). */
bool base64_encode(char *dst, size_t cap, const unsigned char *src, size_t len);

/* Case-insensitive ASCII comparison of whole strings. */
bool name_eq(const char *a, const char *b);

#endif
