/*
 * livefile.h - a logged-in session's status for pop3-admind's WHO.
 *
 * The state file is written only at a session's start and end; who is
 * logged in and how much has been sent so far live in one small file per
 * session, <live_dir>/<pid>: "user=<name> octets=<20 digits>\n", the count
 * rewritten in place after each RETR and TOP.  Removed at the end; a file
 * left by a killed session is removed by pop3-admind.
 */
#ifndef POP3_LIVEFILE_H
#define POP3_LIVEFILE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

struct livefile {
	int fd;                 /* -1: none (no live_dir, or it could not be written) */
	off_t octets_at;
	char path[CONFIG_PATH_MAX + 24];
};

void livefile_init(struct livefile *lf);
bool livefile_create(struct livefile *lf, const char *dir, pid_t pid, const char *user);
void livefile_update(struct livefile *lf, uint64_t octets);
void livefile_remove(struct livefile *lf);

#endif
