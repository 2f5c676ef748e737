/*
 * config.h - the settings a session runs with, and their validation.
 *
 * Each setting has a built-in default, may be stored in the state file's
 * settings table (changed live, read by every new session), and may be
 * overridden on pop3-session's command line.  Precedence: command line,
 * then state file, then default.  config_set() is the one validator, used
 * by the session when it reads the table and by the admin tools before
 * they write it.
 */
#ifndef POP3_CONFIG_H
#define POP3_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"

#define CONFIG_PATH_MAX 1024
#define CONFIG_HASH_MAX 256

/* Who may log in with a password before TLS (USER/PASS, AUTH PLAIN). */
enum plaintext_auth {
	PLAINTEXT_LOCAL, /* only a client on this host: loopback, or a pipe */
	PLAINTEXT_YES,   /* anyone (a trusted network, or TLS terminated in front) */
	PLAINTEXT_NO,    /* nobody: TLS first, even on loopback */
};

struct config {
	char maildir_root[CONFIG_PATH_MAX];
	unsigned idle_timeout;      /* seconds */
	unsigned auth_delay_ms;     /* wait before answering a failed login */
	enum log_prio log_level;
	char dummy_hash[CONFIG_HASH_MAX]; /* what unknown users are checked against */
	char live_dir[CONFIG_PATH_MAX];   /* one status file per logged-in session, for WHO */
	/*
	 * The message transformation: RETR and TOP through an external
	 * program (filter.c).  A user's own filter column overrides both.
	 */
	bool filter;
	char filter_command[CONFIG_PATH_MAX]; /* split by cmdline.c, run without a shell */
	unsigned filter_timeout;              /* seconds the filter may take per message */
	unsigned filter_max_octets;           /* most octets it may write per message */
	enum plaintext_auth plaintext_auth;
};

void config_defaults(struct config *c);

/*
 * Set one named setting from its text form.  Returns false with a reason
 * in *why (a static string) when the name is unknown or the value invalid.
 */
bool config_set(struct config *c, const char *name, const char *value, const char **why);

/* Whether value is a valid filter command (empty allowed), for a user's own filter. */
bool config_validate_command(const char *value, const char **why);

/* The text form of one setting's value into buf (empty for an unknown name). */
void config_get(const struct config *c, const char *name, char *buf, size_t cap);

/* Names of all settings, NULL-terminated, for listings and --help. */
extern const char *const config_names[];

#endif
