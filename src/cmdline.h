/*
 * cmdline.h - split an administrator's command line into argv, no shell.
 *
 * The filter command is stored as text in the state file and run with
 * execve(2), never through /bin/sh: nothing is expanded, globbed or
 * substituted.  Words are separated by spaces or tabs; '...' keeps its
 * content literally; "..." keeps its content except that \" and \\ stand
 * for " and \; outside quotes a backslash takes the next octet literally.
 * The first word must be an absolute path.
 */
#ifndef POP3_CMDLINE_H
#define POP3_CMDLINE_H

#include <stdbool.h>

#include "config.h"

#define CMDLINE_ARGS_MAX 32

struct cmdline {
	char *argv[CMDLINE_ARGS_MAX + 1]; /* NULL-terminated, pointing into words */
	char words[CONFIG_PATH_MAX];
	int argc;
};

/* Returns false with a reason in *why (a static string) on bad syntax. */
bool cmdline_split(const char *text, struct cmdline *c, const char **why);

#endif
