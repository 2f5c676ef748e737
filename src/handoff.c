/*
 * handoff.c - exec pop3-session-tls to carry on this session (handoff.h).
 */
#include "handoff.h"

#include <errno.h>
#include <inttypes.h>
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

bool handoff_parse(const char *text, struct handoff *h)
{
	unsigned long long lf;
	long long sec;
	long nsec;
	int counted, end = 0;

	if (sscanf(text, "%u:%u:%llu:%d:%lld:%ld%n", &h->attempts, &h->failures, &lf, &counted, &sec,
		   &nsec, &end) != 6 || text[end] != '\0' || (counted != 0 && counted != 1) ||
	    sec < 0 || nsec < 0 || nsec >= 1000000000)
		return false;
	h->logins_failed = lf;
	h->counted_start = counted == 1;
	h->t0.tv_sec = (time_t)sec;
	h->t0.tv_nsec = nsec;
	return true;
}
