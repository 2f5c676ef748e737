/*
 * livefile.c - the per-session status file behind WHO.
 */
#include "livefile.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void livefile_init(struct livefile *lf)
{
	lf->fd = -1;
	lf->octets_at = 0;
	lf->path[0] = '\0';
}

bool livefile_create(struct livefile *lf, const char *dir, pid_t pid, const char *user)
{
	char rec[256];
	int n;

	if ((size_t)snprintf(lf->path, sizeof lf->path, "%s/%ld", dir, (long)pid) >= sizeof lf->path)
		return false;
	n = snprintf(rec, sizeof rec, "user=%s octets=%020llu\n", user, 0ULL);
	if (n < 0 || (size_t)n >= sizeof rec)
		return false;
	lf->fd = open(lf->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	if (lf->fd < 0)
		return false;
	lf->octets_at = (off_t)(strlen("user=") + strlen(user) + strlen(" octets="));
	if (write(lf->fd, rec, (size_t)n) != n) {
		livefile_remove(lf);
		return false;
	}
	return true;
}

void livefile_update(struct livefile *lf, uint64_t octets)
{
	char digits[24];

	if (lf->fd < 0)
		return;
	(void)snprintf(digits, sizeof digits, "%020llu", (unsigned long long)octets);
	if (pwrite(lf->fd, digits, 20, lf->octets_at) != 20)
		livefile_remove(lf); /* better no entry than a wrong one */
}

void livefile_remove(struct livefile *lf)
{
	if (lf->fd < 0)
		return;
	(void)close(lf->fd);
	(void)unlink(lf->path);
	lf->fd = -1;
}
