/*
 * handoff.c - exec pop3-session-tls to carry on this session (handoff.h).
 */
#include "handoff.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define ARGS_MAX 32

/* pop3-session-tls next to this program: the two are installed together. */
static bool tls_program(char *buf, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
	char *slash;

	if (n <= 0 || (size_t)n >= cap - 1)
		return false;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (!slash || (size_t)(slash - buf) + 1 + sizeof HANDOFF_TLS_PROGRAM > cap)
		return false;
	memcpy(slash + 1, HANDOFF_TLS_PROGRAM, sizeof HANDOFF_TLS_PROGRAM);
	return true;
}

void handoff_exec(int argc, char *const argv[], const struct handoff *h)
{
	char path[CONFIG_PATH_MAX], resume[160];
	char *args[ARGS_MAX + 3];
	int n = 0;

	if (argc < 1 || argc > ARGS_MAX || !tls_program(path, sizeof path)) {
		errno = argc > ARGS_MAX ? E2BIG : ENAMETOOLONG;
		return;
	}
	args[n++] = path;
	for (int i = 1; i < argc; i++)
		args[n++] = argv[i];
	if (h) {
		int len = snprintf(resume, sizeof resume, "--resume-stls=%u:%u:%" PRIu64 ":%d:%lld:%ld",
				   h->attempts, h->failures, h->logins_failed, h->counted_start ? 1 : 0,
				   (long long)h->t0.tv_sec, (long)h->t0.tv_nsec);
		if (len < 0 || (size_t)len >= sizeof resume) {
			errno = EOVERFLOW;
			return;
		}
		args[n++] = resume;
	}
	args[n] = NULL;
	(void)execv(path, args);
}

/*
 * One decimal field of the --resume-stls text: digits only (no sign, no
 * blank, no empty field), at most max, then sep.  sscanf(3) would take
 * " 1", "+1" and "-1" (which %u turns into UINT_MAX: ten login attempts
 * more), and its overflow is undefined.
 */
static bool field(const char **p, uint64_t max, char sep, uint64_t *v)
{
	const char *s = *p;
	uint64_t n = 0;

	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		uint64_t d = (uint64_t)(*s - '0');
		if (d > max || n > (max - d) / 10)
			return false;
		n = n * 10 + d;
	}
	if (*s != sep)
		return false;
	*p = s + (sep ? 1 : 0);
	*v = n;
	return true;
}

bool handoff_parse(const char *text, struct handoff *h)
{
	uint64_t att, fail, lf, counted, sec, nsec;
	const char *p = text;

	if (!field(&p, UINT_MAX, ':', &att) || !field(&p, UINT_MAX, ':', &fail) ||
	    !field(&p, UINT64_MAX, ':', &lf) || !field(&p, 1, ':', &counted) ||
	    !field(&p, INT64_MAX, ':', &sec) || !field(&p, 999999999, '\0', &nsec))
		return false;
	h->attempts = (unsigned)att;
	h->failures = (unsigned)fail;
	h->logins_failed = lf;
	h->counted_start = counted == 1;
	h->t0.tv_sec = (time_t)sec;
	h->t0.tv_nsec = (long)nsec;
	return true;
}
