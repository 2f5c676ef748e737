/*
 * config.c - defaults and validation of every setting.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cmdline.h"
#include "params.h"

/* sha512crypt of a random string nobody knows: the pre-init fallback. */
#define DUMMY_HASH_DEFAULT \
	"$6$fWWHWn9kqO0fnc2v$P4DnAcZRqAnGeAI4UcQtYTN.Sw9tqA8Jnx7bDSNOtDoRH5pZD9N2q2VsqDYqy1hDFrTjRUSe8iFxLSbO0FKNl/"

const char *const config_names[] = {
	"maildir_root", "idle_timeout", "auth_delay_ms", "log_level", "dummy_hash", "live_dir",
	"filter", "filter_command", "filter_timeout", "filter_max_octets", "plaintext_auth", NULL,
};

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof *c);
	memcpy(c->maildir_root, "/var/mail/pop3", sizeof "/var/mail/pop3");
	c->idle_timeout = POP3_IDLE_TIMEOUT_DEFAULT;
	c->auth_delay_ms = POP3_AUTH_DELAY_DEFAULT_MS;
	c->log_level = LOG_PRIO_INFO;
	memcpy(c->dummy_hash, DUMMY_HASH_DEFAULT, sizeof DUMMY_HASH_DEFAULT);
	memcpy(c->live_dir, "/run/pop3/live", sizeof "/run/pop3/live");
	c->filter_timeout = POP3_FILTER_TIMEOUT_DEFAULT;
	c->filter_max_octets = POP3_FILTER_MAX_OCTETS_DEFAULT;
}

/* Strict decimal: digits only, no sign, no spaces, within [lo, hi]. */
static bool parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	unsigned long v = 0;

	if (*s == '\0')
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > hi)
			return false;
	}
	if (v < lo)
		return false;
	*out = (unsigned)v;
	return true;
}

static bool copy_bounded(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

/* An empty command is allowed: it means "no filter" even when filter is on. */
static bool set_command(char *dst, size_t cap, const char *value, const char **why)
{
	struct cmdline cl;

	if (value[0] != '\0' && !cmdline_split(value, &cl, why))
		return false;
	if (!copy_bounded(dst, cap, value)) {
		*why = "filter_command is too long";
		return false;
	}
	return true;
}

bool config_validate_command(const char *value, const char **why)
{
	char tmp[CONFIG_PATH_MAX];

	return set_command(tmp, sizeof tmp, value, why);
}

bool config_set(struct config *c, const char *name, const char *value, const char **why)
{
	if (strcmp(name, "maildir_root") == 0) {
		if (value[0] != '/') {
			*why = "maildir_root must be an absolute path";
			return false;
		}
		if (!copy_bounded(c->maildir_root, sizeof c->maildir_root, value)) {
			*why = "maildir_root is too long";
			return false;
		}
		return true;
	}
	if (strcmp(name, "live_dir") == 0) {
		if (value[0] != '/' || !copy_bounded(c->live_dir, sizeof c->live_dir - 16, value)) {
			*why = "live_dir must be an absolute path";
			return false;
		}
		return true;
	}
	if (strcmp(name, "filter") == 0) {
		if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0) {
			*why = "filter must be on or off";
			return false;
		}
		c->filter = strcmp(value, "on") == 0;
		return true;
	}
	if (strcmp(name, "plaintext_auth") == 0) {
		static const char *const v[] = { [PLAINTEXT_LOCAL] = "local", [PLAINTEXT_YES] = "yes",
						 [PLAINTEXT_NO] = "no" };
		for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
			if (strcmp(value, v[i]) == 0) {
				c->plaintext_auth = (enum plaintext_auth)i;
				return true;
			}
		*why = "plaintext_auth must be local, yes or no";
		return false;
	}
	if (strcmp(name, "filter_command") == 0)
		return set_command(c->filter_command, sizeof c->filter_command, value, why);
	if (strcmp(name, "filter_timeout") == 0) {
		if (!parse_uint(value, 1, 3600, &c->filter_timeout)) {
			*why = "filter_timeout must be seconds from 1 to 3600";
			return false;
		}
		return true;
	}
	if (strcmp(name, "filter_max_octets") == 0) {
		if (!parse_uint(value, 1024, 4294967295u, &c->filter_max_octets)) {
			*why = "filter_max_octets must be octets from 1024 to 4294967295";
			return false;
		}
		return true;
	}
	if (strcmp(name, "idle_timeout") == 0) {
		if (!parse_uint(value, 1, 86400, &c->idle_timeout)) {
			*why = "idle_timeout must be seconds from 1 to 86400";
			return false;
		}
		return true;
	}
	if (strcmp(name, "auth_delay_ms") == 0) {
		if (!parse_uint(value, 0, 60000, &c->auth_delay_ms)) {
			*why = "auth_delay_ms must be milliseconds from 0 to 60000";
			return false;
		}
		return true;
	}
	if (strcmp(name, "log_level") == 0) {
		if (!log_parse_level(value, &c->log_level)) {
			*why = "log_level must be err, warning, info or debug";
			return false;
		}
		return true;
	}
	if (strcmp(name, "dummy_hash") == 0) {
		if (value[0] != '$' || !copy_bounded(c->dummy_hash, sizeof c->dummy_hash, value)) {
			*why = "dummy_hash must be a crypt(3) hash";
			return false;
		}
		return true;
	}
	*why = "unknown setting";
	return false;
}

void config_get(const struct config *c, const char *name, char *buf, size_t cap)
{
	static const char *const levels[] = { [LOG_PRIO_ERR] = "err", [LOG_PRIO_WARNING] = "warning",
					      [LOG_PRIO_INFO] = "info", [LOG_PRIO_DEBUG] = "debug" };

	if (strcmp(name, "maildir_root") == 0)
		(void)snprintf(buf, cap, "%s", c->maildir_root);
	else if (strcmp(name, "idle_timeout") == 0)
		(void)snprintf(buf, cap, "%u", c->idle_timeout);
	else if (strcmp(name, "auth_delay_ms") == 0)
		(void)snprintf(buf, cap, "%u", c->auth_delay_ms);
	else if (strcmp(name, "log_level") == 0)
		(void)snprintf(buf, cap, "%s", levels[c->log_level] ? levels[c->log_level] : "info");
	else if (strcmp(name, "live_dir") == 0)
		(void)snprintf(buf, cap, "%s", c->live_dir);
	else if (strcmp(name, "filter") == 0)
		(void)snprintf(buf, cap, "%s", c->filter ? "on" : "off");
	else if (strcmp(name, "filter_command") == 0)
		(void)snprintf(buf, cap, "%s", c->filter_command);
	else if (strcmp(name, "plaintext_auth") == 0)
		(void)snprintf(buf, cap, "%s", c->plaintext_auth == PLAINTEXT_YES ? "yes"
					       : c->plaintext_auth == PLAINTEXT_NO ? "no" : "local");
	else if (strcmp(name, "filter_timeout") == 0)
		(void)snprintf(buf, cap, "%u", c->filter_timeout);
	else if (strcmp(name, "filter_max_octets") == 0)
		(void)snprintf(buf, cap, "%u", c->filter_max_octets);
	else if (strcmp(name, "dummy_hash") == 0)
		(void)snprintf(buf, cap, "%s", c->dummy_hash);
	else if (cap > 0)
		buf[0] = '\0';
}
