/*
 * state.h - the shared state file: users, settings, metrics, live sessions.
 *
 * One SQLite database in WAL mode, shared by every session and by
 * pop3-admind.  Readers never block writers nor each other; a session
 * writes twice, a short transaction at its start and one at its end.
 * The schema and its migrations are in state.c.
 */
#ifndef POP3_STATE_H
#define POP3_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"

#define STATE_DEFAULT_PATH "/var/lib/pop3/state.db"
#define STATE_SCHEMA_VERSION 3

struct sqlite3;

struct state {
	struct sqlite3 *db;
	int writers_fd; /* <file>-writers: flock queue for write transactions, or -1 */
	char err[256];  /* the last error, for the caller to log */
	char warn[256]; /* the last invalid stored setting, for the caller to log */
};

struct state_user {
	char hash[CONFIG_HASH_MAX];
	char maildir[CONFIG_PATH_MAX]; /* empty: <maildir_root>/<name> */
	bool enabled;
	/* the user's own filter: "off", or a command; has_filter false: the global settings */
	bool has_filter;
	char filter[CONFIG_PATH_MAX];
};

/* What one session adds to the metrics when it ends. */
struct state_delta {
	bool counted_start;    /* the start transaction already counted the session */
	uint64_t logins_ok;
	uint64_t logins_failed;
	uint64_t retrieved;
	uint64_t deleted;
	uint64_t octets;
	const char *user;      /* logged in as, or NULL */
	const char *peer;
};

enum state_lookup { STATE_FOUND, STATE_NOT_FOUND, STATE_ERROR };

/* Resolve the state file's path: flag, then $POP3_STATE, then the default. */
const char *state_path(const char *flag);

bool state_open(struct state *st, const char *path, bool create);
/* An existing file, for administration: every commit durable (synchronous=FULL). */
bool state_open_admin(struct state *st, const char *path);
void state_close(struct state *st);
/*
 * Close the file and shut SQLite down, giving back all its memory while the
 * session idles; state_open() works again afterwards.
 */
void state_idle(struct state *st);

/* Session side. */
/*
 * Read the settings table into cfg, then count the session as started and
 * live.  A stored value that fails validation is skipped; *bad counts them
 * and st->warn names the last one.  Returns whether the session was counted.
 */
bool state_session_begin(struct state *st, pid_t pid, const char *peer, struct config *cfg,
			 unsigned *bad);
enum state_lookup state_user_get(struct state *st, const char *name, struct state_user *u);
/* The settings table into cfg; *bad counts invalid values (st->warn names the last). */
bool state_load_settings(struct state *st, struct config *cfg, unsigned *bad);
bool state_session_end(struct state *st, pid_t pid, const struct state_delta *d);

/* Administration side. */
bool state_begin(struct state *st);
bool state_commit(struct state *st);
void state_rollback(struct state *st);
bool state_migrate(struct state *st);
bool state_setting_put(struct state *st, const char *name, const char *value);
bool state_setting_exists(struct state *st, const char *name, bool *exists);
bool state_user_put_hash(struct state *st, const char *name, const char *hash);
size_t state_reap(struct state *st);
/* The counters, in the order of state_metric_names. */
#define STATE_METRICS 8
extern const char *const state_metric_names[STATE_METRICS];
bool state_metrics_get(struct state *st, long long v[STATE_METRICS]);
/* "<prefix>user= time= peer=" lines of users who logged in, paged like state_user_list (max < 0: all). */
bool state_logins_write(struct state *st, const char *prefix, const char *after, int max, FILE *out,
			bool *more, char *last, size_t lastcap);
/* For the command line: counters as name=value lines, then the last_login lines. */
bool state_metrics_write(struct state *st, FILE *out);

/* Users, for the admin protocol; STATE_FOUND means done, STATE_NOT_FOUND no such user. */
enum state_lookup state_user_add(struct state *st, const char *name, const char *hash,
				 const char *maildir, bool *exists);
enum state_lookup state_user_del(struct state *st, const char *name);
enum state_lookup state_user_set_hash(struct state *st, const char *name, const char *hash);
enum state_lookup state_user_set_enabled(struct state *st, const char *name, bool enabled);
/* filter: "off", a command line, or NULL for the global settings. */
enum state_lookup state_user_set_filter(struct state *st, const char *name, const char *filter);
/* One "name= enabled= maildir= created= last_login= last_peer= filter=" line (never the hash); filter is last, it may hold spaces. */
enum state_lookup state_user_show(struct state *st, const char *name, FILE *out);
/*
 * Up to max names after `after` (or from the start), each on a line of its
 * own; *more when others follow, and then last[] holds the last name listed.
 */
bool state_user_list(struct state *st, const char *after, int max, FILE *out, bool *more,
		     char *last, size_t lastcap);
/* "pid= user= peer= since= octets=" lines of live sessions after pid `after`, paged. */
bool state_who_write(struct state *st, const char *live_dir, long long after, int max, FILE *out,
		     bool *more, long long *last);
/* "name=value" lines of the stored settings, all or one. */
bool state_settings_write(struct state *st, const char *name, FILE *out);
int state_schema_version(struct state *st);

/*
 * The admin protocol's kept replies (docs/admin-protocol.md, section 4), in
 * the state file so that they survive a restart.  state_request_keep() runs
 * inside the change's own transaction and drops entries older than keep_s.
 */
enum state_lookup state_request_kept(struct state *st, const char *tag, time_t since, char *mac,
				     size_t maccap, char *reply, size_t replycap);
bool state_request_keep(struct state *st, const char *tag, const char *mac, const char *reply,
			size_t len, time_t now, time_t keep_s);

/* This process's start time in clock ticks since boot (/proc/self/stat). */
uint64_t state_proc_start(pid_t pid);

#endif
