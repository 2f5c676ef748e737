/*
 * admind.c - pop3-admind: the administration side of the state file.
 *
 * The command-line front: the offline half (creating and migrating the
 * state file, importing users, setting a setting, printing the metrics,
 * each run once) is here; without any of those options the program becomes
 * the long-lived UDP service of admserve.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "admserve.h"
#include "auth.h"
#include "config.h"
#include "log.h"
#include "params.h"
#include "state.h"

enum {
	EXIT_OK = 0,
	EXIT_INPUT = 1,    /* a bad users file or setting value */
	EXIT_USAGE = 100,
	EXIT_TEMP = 111,   /* the state file could not be opened or written */
};

struct options {
	const char *state;
	const char *maildir_root;
	const char *import;
	const char *scheme;
	const char *set;
	bool init;
	bool metrics;
	struct admserve_opts serve;
};

static void usage(FILE *to)
{
	(void)fprintf(to,
		"Usage: pop3-admind --state PATH --init [--maildir-root DIR] [--import-users FILE] [--scheme NAME]\n"
		"       pop3-admind --state PATH --import-users FILE [--scheme NAME]\n"
		"       pop3-admind --state PATH --set NAME=VALUE\n"
		"       pop3-admind --state PATH --metrics\n"
		"       pop3-admind --state PATH [--secret-file FILE] [--listen ADDR:PORT]...\n\n"
		"Create, migrate and administer the POP3 state file (default $POP3_STATE, else %s).\n\n"
		"  --init               create the state file or migrate it to this version's schema\n"
		"  --maildir-root DIR   where <DIR>/<user> maildirs live (with --init; default\n"
		"                       /var/mail/pop3; an upgrade without it keeps the setting)\n"
		"  --import-users FILE  add or update users from lines \"name:secret\"; secret is a\n"
		"                       crypt(3) hash, or a plaintext password hashed here\n"
		"  --scheme NAME        hash scheme for plaintext passwords: yescrypt (default),\n"
		"                       sha512crypt, sha256crypt or bcrypt\n"
		"  --set NAME=VALUE     store a setting: maildir_root, idle_timeout, auth_delay_ms,\n"
		"                       log_level, live_dir, filter, filter_command, filter_timeout,\n"
		"                       filter_max_octets, plaintext_auth\n"
		"  --metrics            print the metrics as name=value lines\n"
		"  --secret-file FILE   the shared secret of the admin protocol (default\n"
		"                       $POP3_ADMIN_SECRET_FILE, else $CREDENTIALS_DIRECTORY/admin.secret\n"
		"                       when systemd passes credentials, else %s)\n"
		"  --listen ADDR:PORT   serve the admin protocol there (repeatable; default: the\n"
		"                       sockets systemd passes, else 127.0.0.1:9090 and [::1]:9090)\n\n"
		"Without --init, --import-users, --set or --metrics, pop3-admind serves the UDP\n"
		"administration protocol (docs/admin-protocol.md) until SIGTERM; SIGHUP reopens\n"
		"the state file and rereads the secret.\n"
		"Exit status: 0 done, 1 bad input, 100 usage, 111 state file failure.\n",
		STATE_DEFAULT_PATH, ADMSERVE_SECRET_DEFAULT);
}

static int fail_state(struct state *st, const char *what)
{
	(void)fprintf(stderr, "pop3-admind: %s: %s\n", what, st->err);
	state_close(st);
	return EXIT_TEMP;
}

/* The hash unknown users are checked against, made once per state file. */
static bool ensure_dummy_hash(struct state *st, const char *prefix)
{
	unsigned char rnd[16];
	char pw[33], hash[CONFIG_HASH_MAX];
	bool exists;

	if (!state_setting_exists(st, "dummy_hash", &exists))
		return false;
	if (exists)
		return true;
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		return false;
	for (size_t i = 0; i < sizeof rnd; i++)
		(void)snprintf(pw + 2 * i, 3, "%02x", rnd[i]);
	if (!auth_hash(prefix, pw, hash, sizeof hash))
		return false;
	explicit_bzero(pw, sizeof pw);
	return state_setting_put(st, "dummy_hash", hash);
}

static int set_setting(struct state *st, const char *name, const char *value)
{
	struct config scratch;
	const char *why;

	config_defaults(&scratch);
	if (strcmp(name, "dummy_hash") == 0 || !config_set(&scratch, name, value, &why)) {
		(void)fprintf(stderr, "pop3-admind: %s: %s\n", name,
			      strcmp(name, "dummy_hash") == 0 ? "is managed by --init" : why);
		return EXIT_INPUT;
	}
	if (!state_setting_put(st, name, value))
		return fail_state(st, "cannot store setting");
	return EXIT_OK;
}

/* A user to import: the name and the hash, made before any transaction. */
struct import {
	char name[POP3_USER_MAX + 1];
	char hash[CONFIG_HASH_MAX];
};

/* One "name:secret" line into *out; returns an error text or NULL.  Wipes the secret. */
static const char *import_line(char *line, const char *prefix, struct import *out)
{
	char *colon = strchr(line, ':');
	const char *secret, *err = NULL;

	if (!colon)
		return "expected name:secret";
	*colon = '\0';
	secret = colon + 1;
	if (!auth_valid_username(line))
		err = "invalid user name (letters, digits and ._@+- only)";
	else if (*secret == '\0')
		err = "empty secret";
	else if (secret[0] == '$' && (!auth_is_hash(secret) || strlen(secret) >= sizeof out->hash))
		err = "not a crypt(3) hash this system can check";
	else if (secret[0] == '$')
		memcpy(out->hash, secret, strlen(secret) + 1);
	else if (!auth_hash(prefix, secret, out->hash, sizeof out->hash))
		err = "cannot hash the password";
	explicit_bzero(colon + 1, strlen(colon + 1));
	if (!err)
		memcpy(out->name, line, strlen(line) + 1);
	return err;
}

/* Read and hash the whole file first: hashing takes time, the transaction must not. */
static int read_users(const char *path, const char *prefix, struct import **out, size_t *count)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, lineno = 0, alloc = 0;
	ssize_t n;
	int rc = EXIT_OK;

	*out = NULL;
	*count = 0;
	if (!f) {
		(void)fprintf(stderr, "pop3-admind: %s: %s\n", path, strerror(errno));
		return EXIT_INPUT;
	}
	while ((n = getline(&line, &cap, f)) != -1) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		if (*count == alloc) {
			size_t na = alloc ? alloc * 2 : 16;
			struct import *grown = realloc(*out, na * sizeof **out);
			if (!grown) {
				(void)fprintf(stderr, "pop3-admind: out of memory\n");
				rc = EXIT_TEMP;
				break;
			}
			*out = grown;
			alloc = na;
		}
		const char *err = import_line(line, prefix, &(*out)[*count]);
		if (err) {
			(void)fprintf(stderr, "pop3-admind: %s:%zu: %s\n", path, lineno, err);
			rc = EXIT_INPUT;
			break;
		}
		(*count)++;
	}
	if (rc == EXIT_OK && ferror(f)) {
		(void)fprintf(stderr, "pop3-admind: %s: read error\n", path);
		rc = EXIT_INPUT;
	}
	if (line)
		explicit_bzero(line, cap);
	free(line);
	(void)fclose(f);
	return rc;
}

static int import_users(struct state *st, const char *path, const char *prefix)
{
	struct import *users;
	size_t count, i;
	int rc = read_users(path, prefix, &users, &count);

	if (rc == EXIT_OK && !state_begin(st))
		rc = fail_state(st, "cannot start transaction");
	else if (rc == EXIT_OK) {
		for (i = 0; i < count && state_user_put_hash(st, users[i].name, users[i].hash); i++)
			;
		if (i < count) {
			(void)fprintf(stderr, "pop3-admind: %s: %s\n", users[i].name, st->err);
			state_rollback(st);
			rc = EXIT_TEMP;
		} else if (!state_commit(st)) {
			rc = fail_state(st, "cannot commit");
		}
	}
	free(users);
	if (rc != EXIT_OK) {
		(void)fprintf(stderr, "pop3-admind: nothing imported\n");
		return rc;
	}
	(void)printf("imported %zu users\n", count);
	return EXIT_OK;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "init", no_argument, NULL, 'i' },
		{ "maildir-root", required_argument, NULL, 'm' },
		{ "import-users", required_argument, NULL, 'u' },
		{ "scheme", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 'e' },
		{ "metrics", no_argument, NULL, 'M' },
		{ "secret-file", required_argument, NULL, 'k' },
		{ "listen", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o->state = optarg; break;
		case 'i': o->init = true; break;
		case 'm': o->maildir_root = optarg; break;
		case 'u': o->import = optarg; break;
		case 'c': o->scheme = optarg; break;
		case 'e': o->set = optarg; break;
		case 'M': o->metrics = true; break;
		case 'k': o->serve.secret_path = optarg; break;
		case 'l':
			if (o->serve.nlisten == ADMSERVE_LISTEN_MAX)
				return EXIT_USAGE;
			o->serve.listen[o->serve.nlisten++] = optarg;
			break;
		case 'h': usage(stdout); exit(EXIT_OK);
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return EXIT_USAGE;
	return EXIT_OK;
}

static int run(struct state *st, const struct options *o, const char *prefix)
{
	int rc;

	if (o->init) {
		if (!state_migrate(st))
			return fail_state(st, "cannot create or migrate the schema");
		/* without --maildir-root an upgrade keeps the stored value (or the default) */
		if (o->maildir_root && (rc = set_setting(st, "maildir_root", o->maildir_root)) != EXIT_OK)
			return rc;
		if (!ensure_dummy_hash(st, prefix))
			return fail_state(st, "cannot create the dummy hash");
	}
	if (o->import && (rc = import_users(st, o->import, prefix)) != EXIT_OK)
		return rc;
	if (o->set) {
		char name[64];
		const char *eq = strchr(o->set, '=');
		if (!eq || (size_t)(eq - o->set) >= sizeof name) {
			(void)fprintf(stderr, "pop3-admind: --set takes NAME=VALUE\n");
			return EXIT_USAGE;
		}
		memcpy(name, o->set, (size_t)(eq - o->set));
		name[eq - o->set] = '\0';
		if ((rc = set_setting(st, name, eq + 1)) != EXIT_OK)
			return rc;
	}
	if (o->metrics) {
		(void)state_reap(st);
		if (!state_metrics_write(st, stdout))
			return fail_state(st, "cannot read metrics");
	}
	return EXIT_OK;
}

/*
 * The secret file: --secret-file, else $POP3_ADMIN_SECRET_FILE, else the
 * copy systemd's LoadCredential=admin.secret:... put in
 * $CREDENTIALS_DIRECTORY (so the file on disk can stay root's while the
 * daemon runs as pop3), else the default.  NULL if that path is too long.
 */
static const char *secret_path(const char *opt, char *buf, size_t cap)
{
	const char *env = getenv("POP3_ADMIN_SECRET_FILE");
	const char *creds = getenv("CREDENTIALS_DIRECTORY");
	int n;

	if (opt)
		return opt;
	if (env && *env)
		return env;
	if (!creds || !*creds)
		return ADMSERVE_SECRET_DEFAULT;
	n = snprintf(buf, cap, "%s/admin.secret", creds);
	return n > 0 && (size_t)n < cap ? buf : NULL;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct state st;
	const char *prefix;
	int rc = parse_options(argc, argv, &o);

	if (rc != EXIT_OK) {
		usage(stderr);
		return rc;
	}
	if (!o.init && !o.import && !o.set && !o.metrics) {
		char cred[4096];
		log_init("pop3-admind");
		o.serve.state_path = state_path(o.state);
		o.serve.secret_path = secret_path(o.serve.secret_path, cred, sizeof cred);
		if (!o.serve.secret_path) {
			log_err("$CREDENTIALS_DIRECTORY is too long");
			return EXIT_USAGE;
		}
		return admserve_run(&o.serve);
	}
	prefix = auth_scheme_prefix(o.scheme ? o.scheme : "yescrypt");
	if (!prefix) {
		(void)fprintf(stderr, "pop3-admind: unknown scheme %s\n", o.scheme);
		return EXIT_USAGE;
	}
	/* the state file holds password hashes: nobody else may read it */
	(void)umask(077);
	if (!state_open(&st, state_path(o.state), o.init))
		return fail_state(&st, "cannot open state file");
	rc = run(&st, &o, prefix);
	state_close(&st);
	if (rc == EXIT_OK && fflush(stdout) != 0)
		rc = EXIT_TEMP;
	return rc;
}
