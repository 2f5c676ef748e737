/*
 * state.c - the SQLite state file.
 *
 * Sessions use synchronous=NORMAL: in WAL mode a commit then costs no
 * fsync, and what a power cut can lose is the last moments of metrics,
 * never the database's consistency.  Administrative changes use FULL.
 */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "params.h"

/*
 * Migrations: entry i takes the schema from version i to i + 1.  Never edit
 * an entry once released; add a new one and bump STATE_SCHEMA_VERSION.
 */
static const char *const migrations[STATE_SCHEMA_VERSION] = {
	/* 0 -> 1 */
	"CREATE TABLE users ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  hash TEXT NOT NULL,"
	"  maildir TEXT,"                     /* NULL: <maildir_root>/<name> */
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  created INTEGER NOT NULL,"
	"  last_login INTEGER,"
	"  last_peer TEXT"
	") WITHOUT ROWID;"
	"CREATE TABLE settings ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  value TEXT NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE metrics ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  since INTEGER NOT NULL,"
	"  sessions_total INTEGER NOT NULL DEFAULT 0,"
	"  logins_ok INTEGER NOT NULL DEFAULT 0,"
	"  logins_failed INTEGER NOT NULL DEFAULT 0,"
	"  messages_retrieved INTEGER NOT NULL DEFAULT 0,"
	"  messages_deleted INTEGER NOT NULL DEFAULT 0,"
	"  octets_sent INTEGER NOT NULL DEFAULT 0"
	");"
	"INSERT INTO metrics (id, since) VALUES (1, CAST(strftime('%s','now') AS INTEGER));"
	"CREATE TABLE live ("
	"  pid INTEGER PRIMARY KEY,"
	"  proc_start INTEGER NOT NULL,"      /* tells a reused pid from ours */
	"  started INTEGER NOT NULL,"
	"  peer TEXT NOT NULL"
	");",
	/* 1 -> 2: the admin protocol's kept replies */
	"CREATE TABLE admin_requests ("
	"  tag TEXT PRIMARY KEY NOT NULL,"
	"  mac TEXT NOT NULL,"
	"  at INTEGER NOT NULL,"
	"  reply BLOB NOT NULL"
	") WITHOUT ROWID;"
	"CREATE INDEX admin_requests_at ON admin_requests (at);",
	/* 2 -> 3: a user's own message filter (NULL: the global settings) */
	"ALTER TABLE users ADD COLUMN filter TEXT;",
};

static void set_err(struct state *st, const char *what)
{
	/* what may be a whole SQL text: its start is enough to place the error */
	(void)snprintf(st->err, sizeof st->err, "%.60s: %.180s", what,
		       st->db ? sqlite3_errmsg(st->db) : "no database");
}

const char *state_path(const char *flag)
{
	const char *env = getenv("POP3_STATE");

	if (flag && *flag)
		return flag;
	if (env && *env)
		return env;
	return STATE_DEFAULT_PATH;
}

/*
 * SQLite's own busy handler sleeps 1, 2, 5, 10 ... 100 ms between tries:
 * far too coarse for write transactions that hold the lock for tens of
 * microseconds, and with 10 concurrent sessions it alone added 20 ms to
 * each.  Retry every 100 us instead, up to POP3_STATE_BUSY_MS in all.
 */
static int busy_wait(void *unused, int tries)
{
	struct timespec ts = { 0, 100 * 1000 };

	(void)unused;
	if ((long)tries * 100 >= (long)POP3_STATE_BUSY_MS * 1000)
		return 0;
	(void)nanosleep(&ts, NULL);
	return 1;
}

/*
 * Writers queue on flock(2) before BEGIN IMMEDIATE.  SQLite itself can only
 * poll for its write lock; with a hundred sessions on two cores the lock
 * holder gets preempted and the pollers then take all the CPU (measured:
 * 34 sessions/s).  The kernel's flock queue puts waiters to sleep instead.
 * A separate file, because any close() of a descriptor on the database file
 * itself would drop SQLite's own POSIX locks.  Without the file (no write
 * access to create it) writers simply fall back to SQLite's locking.
 */
static void open_writers(struct state *st, const char *path)
{
	char lock[4096];
	struct stat db;

	if ((size_t)snprintf(lock, sizeof lock, "%s-writers", path) >= sizeof lock)
		return;
	st->writers_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	/*
	 * Like SQLite with its -wal and -shm files: when root (an administrator
	 * running pop3-admind) creates the file, it belongs to the database's
	 * owner, or the sessions could never open it.
	 */
	if (st->writers_fd >= 0 && geteuid() == 0 && stat(path, &db) == 0 &&
	    fchown(st->writers_fd, db.st_uid, db.st_gid) != 0)
		(void)snprintf(st->err, sizeof st->err, "%.150s: chown: %s", lock, strerror(errno));
}

static void on_alarm(int sig)
{
	(void)sig; /* only interrupts a blocked flock() */
}

/*
 * Wait our turn, at most about wait_ms; false on timeout.  An interval
 * timer interrupts the blocked flock() every 20 ms to check the deadline:
 * a one-shot alarm could fire just before flock() blocks and be lost.
 */
static bool writers_enter(struct state *st, unsigned wait_ms)
{
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	struct itimerval tick = { { 0, 20000 }, { 0, 20000 } }, off = { { 0, 0 }, { 0, 0 } };
	struct timespec t0, t;
	bool ok = false;

	if (st->writers_fd < 0)
		return true;
	if (flock(st->writers_fd, LOCK_EX | LOCK_NB) == 0)
		return true;
	sigemptyset(&sa.sa_mask); /* no SA_RESTART: the tick must interrupt flock() */
	if (sigaction(SIGALRM, &sa, &old) != 0 || clock_gettime(CLOCK_MONOTONIC, &t0) != 0)
		return true;
	(void)setitimer(ITIMER_REAL, &tick, NULL);
	for (;;) {
		if (flock(st->writers_fd, LOCK_EX) == 0) {
			ok = true;
			break;
		}
		if (errno != EINTR || clock_gettime(CLOCK_MONOTONIC, &t) != 0 ||
		    (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >= (long)wait_ms)
			break;
	}
	(void)setitimer(ITIMER_REAL, &off, NULL);
	(void)sigaction(SIGALRM, &old, NULL);
	if (!ok)
		(void)snprintf(st->err, sizeof st->err, "waiting for the write lock: %s",
			       strerror(errno));
	return ok;
}

static void writers_leave(struct state *st)
{
	if (st->writers_fd >= 0)
		(void)flock(st->writers_fd, LOCK_UN);
}

/*
 * The first connection to open the file after all others closed rebuilds
 * its WAL index by reading every valid WAL frame, and SQLite's automatic
 * checkpoint copies frames back without ever restarting a WAL that readers
 * keep busy: measured, a WAL of 1,270 frames cost each lone session 2,500
 * reads (3 ms of system time).  So after any commit that leaves 32 frames
 * or more, checkpoint in TRUNCATE mode without waiting: if no reader is in
 * the way the WAL is emptied, otherwise its frames are copied back and a
 * later commit tries again.
 */
#define WAL_TRUNCATE_FRAMES 32

static int keep_wal_short(void *unused, sqlite3 *db, const char *name, int frames)
{
	(void)unused;
	if (frames < WAL_TRUNCATE_FRAMES)
		return SQLITE_OK;
	(void)sqlite3_busy_handler(db, NULL, NULL);
	(void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	(void)sqlite3_busy_handler(db, busy_wait, NULL);
	return SQLITE_OK;
}

static bool open_with(struct state *st, const char *path, bool create, bool durable);

bool state_open(struct state *st, const char *path, bool create)
{
	return open_with(st, path, create, create);
}

bool state_open_admin(struct state *st, const char *path)
{
	return open_with(st, path, false, true);
}

static bool open_with(struct state *st, const char *path, bool create, bool durable)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);

	st->err[0] = '\0';
	st->warn[0] = '\0';
	st->db = NULL;
	st->writers_fd = -1;
	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		set_err(st, path);
		state_close(st);
		return false;
	}
	(void)sqlite3_busy_handler(st->db, busy_wait, NULL);
	/*
	 * The default lookaside pool (~120 KiB per connection) would be most of
	 * an idle session's private memory; a session runs a dozen statements.
	 */
	(void)sqlite3_db_config(st->db, SQLITE_DBCONFIG_LOOKASIDE, NULL, 128, 32);
	/*
	 * A session is often the only connection: by default its close would
	 * checkpoint the WAL, fsync and delete it, only for the next session to
	 * create it again (2 ms per session measured).  Checkpoints are left to
	 * SQLite's automatic one (every 1000 WAL pages) and to pop3-admind.
	 */
	if (!durable)
		(void)sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	(void)sqlite3_wal_hook(st->db, keep_wal_short, NULL);
	open_writers(st, path);
	if (sqlite3_exec(st->db, durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
			 NULL, NULL, NULL) != SQLITE_OK) {
		set_err(st, path);
		state_close(st);
		return false;
	}
	return true;
}

void state_close(struct state *st)
{
	if (st->db)
		(void)sqlite3_close(st->db);
	st->db = NULL;
	if (st->writers_fd >= 0)
		(void)close(st->writers_fd);
	st->writers_fd = -1;
}

void state_idle(struct state *st)
{
	state_close(st);
	(void)sqlite3_shutdown();
	(void)malloc_trim(0);
}

static bool exec(struct state *st, const char *sql)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return true;
	set_err(st, sql);
	return false;
}

static sqlite3_stmt *prepare(struct state *st, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		set_err(st, "prepare");
		return NULL;
	}
	return s;
}

/* Run a statement that returns no rows; finalizes it. */
static bool run(struct state *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc != SQLITE_DONE)
		set_err(st, "step");
	(void)sqlite3_finalize(s);
	return rc == SQLITE_DONE;
}

static void rollback(struct state *st)
{
	(void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	writers_leave(st);
}

static bool write_begin(struct state *st, unsigned wait_ms)
{
	if (!writers_enter(st, wait_ms))
		return false;
	if (exec(st, "BEGIN IMMEDIATE"))
		return true;
	writers_leave(st);
	return false;
}

/* COMMIT; on failure the caller rolls back (which leaves the queue). */
static bool write_commit(struct state *st)
{
	if (!exec(st, "COMMIT"))
		return false;
	writers_leave(st);
	return true;
}

uint64_t state_proc_start(pid_t pid)
{
	char path[64], buf[1024];
	ssize_t n;
	int fd;

	(void)snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	(void)close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* field 2 is "(comm)" and may hold spaces: count fields after its ')' */
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	for (int field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

static bool apply_settings(struct state *st, struct config *cfg, unsigned *bad)
{
	sqlite3_stmt *s = prepare(st, "SELECT name, value FROM settings");
	int rc;

	if (!s)
		return false;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		const char *value = (const char *)sqlite3_column_text(s, 1);
		const char *why;
		if (!name || !value || !config_set(cfg, name, value, &why)) {
			(*bad)++;
			(void)snprintf(st->warn, sizeof st->warn, "setting %.64s: %s",
				       name ? name : "?", name && value ? why : "NULL");
		}
	}
	(void)sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		set_err(st, "settings");
	return rc == SQLITE_DONE;
}

/*
 * The statements of one write transaction, compiled before the writers
 * queue is entered: inside it a session only steps them and commits, so the
 * time it holds everyone else up (and may be preempted in) stays short.
 */
#define TXN_MAX 4

struct txn {
	sqlite3_stmt *s[TXN_MAX];
	size_t n;
};

static sqlite3_stmt *txn_add(struct state *st, struct txn *t, const char *sql)
{
	sqlite3_stmt *s = t->n < TXN_MAX ? prepare(st, sql) : NULL;

	if (s)
		t->s[t->n++] = s;
	return s;
}

static bool txn_run(struct state *st, struct txn *t, unsigned wait_ms)
{
	if (!write_begin(st, wait_ms))
		return false;
	for (size_t i = 0; i < t->n; i++)
		if (sqlite3_step(t->s[i]) != SQLITE_DONE) {
			set_err(st, "step");
			rollback(st);
			return false;
		}
	if (write_commit(st))
		return true;
	rollback(st);
	return false;
}

static void txn_free(struct txn *t)
{
	for (size_t i = 0; i < t->n; i++)
		(void)sqlite3_finalize(t->s[i]);
	t->n = 0;
}

bool state_session_begin(struct state *st, pid_t pid, const char *peer, struct config *cfg,
			 unsigned *bad)
{
	struct txn t = { .n = 0 };
	sqlite3_stmt *live, *count;
	bool counted;

	/* settings first, outside the transaction: a read never waits */
	*bad = 0;
	st->warn[0] = '\0';
	if (!apply_settings(st, cfg, bad)) {
		(*bad)++;
		memcpy(st->warn, st->err, sizeof st->warn);
	}
	live = txn_add(st, &t, "INSERT OR REPLACE INTO live (pid, proc_start, started, peer)"
			       " VALUES (?1, ?2, ?3, ?4)");
	count = txn_add(st, &t, "UPDATE metrics SET sessions_total = sessions_total + 1 WHERE id = 1");
	if (live && count) {
		(void)sqlite3_bind_int64(live, 1, (sqlite3_int64)pid);
		(void)sqlite3_bind_int64(live, 2, (sqlite3_int64)state_proc_start(pid));
		(void)sqlite3_bind_int64(live, 3, (sqlite3_int64)time(NULL));
		(void)sqlite3_bind_text(live, 4, peer, -1, SQLITE_STATIC);
	}
	counted = live && count && txn_run(st, &t, POP3_STATE_START_WAIT_MS);
	txn_free(&t);
	return counted;
}

bool state_load_settings(struct state *st, struct config *cfg, unsigned *bad)
{
	*bad = 0;
	return apply_settings(st, cfg, bad);
}

static bool copy_text(char *dst, size_t cap, const unsigned char *src)
{
	size_t n = src ? strlen((const char *)src) : 0;

	if (n >= cap)
		return false;
	memcpy(dst, src ? (const char *)src : "", n + 1);
	return true;
}

enum state_lookup state_user_get(struct state *st, const char *name, struct state_user *u)
{
	/*
	 * A session started by a newer binary may meet a file that pop3-admind
	 * has not migrated yet: without the filter column, the user simply has
	 * no filter of their own.
	 */
	sqlite3_stmt *s = prepare(st, "SELECT hash, maildir, enabled, filter FROM users WHERE name = ?1");
	enum state_lookup res = STATE_ERROR;
	bool with_filter = s != NULL;
	int rc;

	if (!s)
		s = prepare(st, "SELECT hash, maildir, enabled FROM users WHERE name = ?1");
	if (!s)
		return STATE_ERROR;
	(void)sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		u->enabled = sqlite3_column_int(s, 2) != 0;
		u->has_filter = with_filter && sqlite3_column_type(s, 3) != SQLITE_NULL;
		if (copy_text(u->hash, sizeof u->hash, sqlite3_column_text(s, 0)) &&
		    copy_text(u->maildir, sizeof u->maildir, sqlite3_column_text(s, 1)) &&
		    copy_text(u->filter, sizeof u->filter, u->has_filter ? sqlite3_column_text(s, 3) : NULL))
			res = STATE_FOUND;
		else
			(void)snprintf(st->err, sizeof st->err, "user %s: hash, maildir or filter too long", name);
	} else if (rc == SQLITE_DONE) {
		res = STATE_NOT_FOUND;
	} else {
		set_err(st, "user lookup");
	}
	(void)sqlite3_finalize(s);
	return res;
}

/*
 * A session killed with SIGKILL leaves its live row behind.  Each ending
 * session looks at the four oldest other rows, before it queues, and has
 * its transaction remove those whose process no longer exists (one kill(2)
 * each, so the cost stays bounded); readers that need an exact count call
 * state_reap() first.
 */
static void find_dead(struct state *st, pid_t self, sqlite3_stmt *del)
{
	sqlite3_stmt *s = prepare(st, "SELECT pid FROM live WHERE pid != ?1 ORDER BY started LIMIT 4");
	int n = 0;

	if (!s)
		return;
	(void)sqlite3_bind_int64(s, 1, (sqlite3_int64)self);
	while (sqlite3_step(s) == SQLITE_ROW) {
		pid_t pid = (pid_t)sqlite3_column_int64(s, 0);
		if (kill(pid, 0) != 0 && errno == ESRCH)
			(void)sqlite3_bind_int64(del, ++n, (sqlite3_int64)pid);
	}
	(void)sqlite3_finalize(s);
}

bool state_session_end(struct state *st, pid_t pid, const struct state_delta *d)
{
	struct txn t = { .n = 0 };
	sqlite3_stmt *live, *metrics, *dead, *user = NULL;
	bool ok;

	live = txn_add(st, &t, "DELETE FROM live WHERE pid = ?1");
	metrics = txn_add(st, &t, "UPDATE metrics SET sessions_total = sessions_total + ?1,"
				  " logins_ok = logins_ok + ?2, logins_failed = logins_failed + ?3,"
				  " messages_retrieved = messages_retrieved + ?4,"
				  " messages_deleted = messages_deleted + ?5, octets_sent = octets_sent + ?6"
				  " WHERE id = 1");
	/* unbound parameters are NULL and match nothing */
	dead = txn_add(st, &t, "DELETE FROM live WHERE pid IN (?1, ?2, ?3, ?4)");
	if (d->user)
		user = txn_add(st, &t, "UPDATE users SET last_login = ?1, last_peer = ?2 WHERE name = ?3");
	ok = live && metrics && dead && (!d->user || user);
	if (ok) {
		(void)sqlite3_bind_int64(live, 1, (sqlite3_int64)pid);
		(void)sqlite3_bind_int64(metrics, 1, d->counted_start ? 0 : 1);
		(void)sqlite3_bind_int64(metrics, 2, (sqlite3_int64)d->logins_ok);
		(void)sqlite3_bind_int64(metrics, 3, (sqlite3_int64)d->logins_failed);
		(void)sqlite3_bind_int64(metrics, 4, (sqlite3_int64)d->retrieved);
		(void)sqlite3_bind_int64(metrics, 5, (sqlite3_int64)d->deleted);
		(void)sqlite3_bind_int64(metrics, 6, (sqlite3_int64)d->octets);
		find_dead(st, pid, dead);
		if (user) {
			(void)sqlite3_bind_int64(user, 1, (sqlite3_int64)time(NULL));
			(void)sqlite3_bind_text(user, 2, d->peer, -1, SQLITE_STATIC);
			(void)sqlite3_bind_text(user, 3, d->user, -1, SQLITE_STATIC);
		}
		ok = txn_run(st, &t, POP3_STATE_END_WAIT_MS);
	}
	txn_free(&t);
	return ok;
}

/* ---- administration ---- */

bool state_begin(struct state *st)
{
	return write_begin(st, POP3_STATE_END_WAIT_MS);
}

bool state_commit(struct state *st)
{
	return write_commit(st);
}

void state_rollback(struct state *st)
{
	rollback(st);
}

static bool user_version(struct state *st, int *v)
{
	sqlite3_stmt *s = prepare(st, "PRAGMA user_version");
	bool ok;

	if (!s)
		return false;
	ok = sqlite3_step(s) == SQLITE_ROW;
	if (ok)
		*v = sqlite3_column_int(s, 0);
	else
		set_err(st, "user_version");
	(void)sqlite3_finalize(s);
	return ok;
}

bool state_migrate(struct state *st)
{
	int v;
	char sql[64];

	/* WAL is a property of the file: set once here, every opener gets it */
	if (!exec(st, "PRAGMA journal_mode=WAL") || !write_begin(st, POP3_STATE_END_WAIT_MS))
		return false;
	if (!user_version(st, &v))
		goto fail;
	if (v < 0 || v > STATE_SCHEMA_VERSION) {
		(void)snprintf(st->err, sizeof st->err,
			       "schema version %d is not one this program knows (0 to %d)", v,
			       STATE_SCHEMA_VERSION);
		goto fail;
	}
	for (; v < STATE_SCHEMA_VERSION; v++)
		if (!exec(st, migrations[v]))
			goto fail;
	(void)snprintf(sql, sizeof sql, "PRAGMA user_version = %d", STATE_SCHEMA_VERSION);
	if (exec(st, sql) && write_commit(st))
		return true;
fail:
	rollback(st);
	return false;
}

bool state_setting_put(struct state *st, const char *name, const char *value)
{
	sqlite3_stmt *s = prepare(st, "INSERT INTO settings (name, value) VALUES (?1, ?2)"
				      " ON CONFLICT (name) DO UPDATE SET value = excluded.value");
	if (!s)
		return false;
	(void)sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	return run(st, s);
}

bool state_setting_exists(struct state *st, const char *name, bool *exists)
{
	sqlite3_stmt *s = prepare(st, "SELECT 1 FROM settings WHERE name = ?1");
	int rc;

	if (!s)
		return false;
	(void)sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	(void)sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		set_err(st, "setting lookup");
		return false;
	}
	*exists = rc == SQLITE_ROW;
	return true;
}

bool state_user_put_hash(struct state *st, const char *name, const char *hash)
{
	sqlite3_stmt *s = prepare(st, "INSERT INTO users (name, hash, created) VALUES (?1, ?2, ?3)"
				      " ON CONFLICT (name) DO UPDATE SET hash = excluded.hash");
	if (!s)
		return false;
	(void)sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(s, 2, hash, -1, SQLITE_STATIC);
	(void)sqlite3_bind_int64(s, 3, (sqlite3_int64)time(NULL));
	return run(st, s);
}

/* Remove every live row whose process is gone or is another process now. */
size_t state_reap(struct state *st)
{
	sqlite3_stmt *s = prepare(st, "SELECT pid, proc_start FROM live");
	sqlite3_stmt *del;
	size_t reaped = 0;

	if (!s)
		return 0;
	del = prepare(st, "DELETE FROM live WHERE pid = ?1");
	if (!del) {
		(void)sqlite3_finalize(s);
		return 0;
	}
	while (sqlite3_step(s) == SQLITE_ROW) {
		pid_t pid = (pid_t)sqlite3_column_int64(s, 0);
		uint64_t start = (uint64_t)sqlite3_column_int64(s, 1);
		bool gone = kill(pid, 0) != 0 && errno == ESRCH;
		if (!gone && start != 0) {
			uint64_t now = state_proc_start(pid);
			gone = now != 0 && now != start;
		}
		if (!gone)
			continue;
		(void)sqlite3_bind_int64(del, 1, (sqlite3_int64)pid);
		if (sqlite3_step(del) == SQLITE_DONE)
			reaped++;
		(void)sqlite3_reset(del);
	}
	(void)sqlite3_finalize(s);
	(void)sqlite3_finalize(del);
	return reaped;
}

static const char *text_or(sqlite3_stmt *s, int col, const char *dflt)
{
	const char *t = (const char *)sqlite3_column_text(s, col);
	return t ? t : dflt;
}

const char *const state_metric_names[STATE_METRICS] = {
	"since", "sessions_total", "sessions_now", "logins_ok", "logins_failed",
	"messages_retrieved", "messages_deleted", "octets_sent",
};

bool state_metrics_get(struct state *st, long long v[STATE_METRICS])
{
	sqlite3_stmt *s = prepare(st, "SELECT since, sessions_total, (SELECT count(*) FROM live),"
				      " logins_ok, logins_failed, messages_retrieved, messages_deleted,"
				      " octets_sent FROM metrics WHERE id = 1");
	bool ok;

	if (!s)
		return false;
	ok = sqlite3_step(s) == SQLITE_ROW;
	if (ok)
		for (int i = 0; i < STATE_METRICS; i++)
			v[i] = (long long)sqlite3_column_int64(s, i);
	else
		set_err(st, "metrics");
	(void)sqlite3_finalize(s);
	return ok;
}

bool state_logins_write(struct state *st, const char *prefix, const char *after, int max, FILE *out,
			bool *more, char *last, size_t lastcap)
{
	sqlite3_stmt *s = prepare(st, "SELECT name, last_login, coalesce(last_peer, '') FROM users"
				      " WHERE last_login IS NOT NULL AND name > ?1 ORDER BY name LIMIT ?2");
	int rc, n = 0;

	*more = false;
	if (!s)
		return false;
	(void)sqlite3_bind_text(s, 1, after ? after : "", -1, SQLITE_STATIC);
	(void)sqlite3_bind_int(s, 2, max < 0 ? -1 : max + 1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (max >= 0 && n++ == max) {
			*more = true;
			break;
		}
		const char *name = text_or(s, 0, "");
		(void)fprintf(out, "\n%suser=%s time=%lld peer=%s", prefix, name,
			      (long long)sqlite3_column_int64(s, 1), text_or(s, 2, ""));
		if (last)
			(void)snprintf(last, lastcap, "%s", name);
	}
	(void)sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		set_err(st, "logins");
		return false;
	}
	return true;
}

bool state_metrics_write(struct state *st, FILE *out)
{
	long long v[STATE_METRICS];
	bool more;

	if (!state_metrics_get(st, v))
		return false;
	for (int i = 0; i < STATE_METRICS; i++)
		(void)fprintf(out, "%s%s=%lld", i ? "\n" : "", state_metric_names[i], v[i]);
	/* every user who ever logged in */
	if (!state_logins_write(st, "last_login ", NULL, -1, out, &more, NULL, 0))
		return false;
	(void)fputc('\n', out);
	return true;
}

/* ---- users and settings for the admin protocol ---- */

/* Run a one-row change in its own durable transaction; how many rows it touched. */
static int change(struct state *st, sqlite3_stmt *s)
{
	int n;

	/* inside a transaction the caller opened (the admin protocol's): just the step */
	if (!sqlite3_get_autocommit(st->db)) {
		if (sqlite3_step(s) != SQLITE_DONE) {
			set_err(st, "step");
			(void)sqlite3_finalize(s);
			return -1;
		}
		n = sqlite3_changes(st->db);
		(void)sqlite3_finalize(s);
		return n;
	}
	if (!write_begin(st, POP3_STATE_END_WAIT_MS)) {
		(void)sqlite3_finalize(s);
		return -1;
	}
	if (sqlite3_step(s) != SQLITE_DONE) {
		set_err(st, "step");
		(void)sqlite3_finalize(s);
		rollback(st);
		return -1;
	}
	n = sqlite3_changes(st->db);
	(void)sqlite3_finalize(s);
	if (!write_commit(st)) {
		rollback(st);
		return -1;
	}
	return n;
}

static enum state_lookup changed(int n)
{
	return n < 0 ? STATE_ERROR : n == 0 ? STATE_NOT_FOUND : STATE_FOUND;
}

enum state_lookup state_user_add(struct state *st, const char *name, const char *hash,
				 const char *maildir, bool *exists)
{
	sqlite3_stmt *s = prepare(st, "INSERT INTO users (name, hash, maildir, created)"
				      " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO NOTHING");
	if (!s)
		return STATE_ERROR;
	(void)sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(s, 2, hash, -1, SQLITE_STATIC);
	if (maildir)
		(void)sqlite3_bind_text(s, 3, maildir, -1, SQLITE_STATIC);
	(void)sqlite3_bind_int64(s, 4, (sqlite3_int64)time(NULL));
	int n = change(st, s);
	*exists = n == 0;
	return n < 0 ? STATE_ERROR : STATE_FOUND;
}

enum state_lookup state_user_del(struct state *st, const char *name)
{
	sqlite3_stmt *s = prepare(st, "DELETE FROM users WHERE name = ?1");

	if (!s)
		return STATE_ERROR;
	(void)sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	return changed(change(st, s));
}

enum state_lookup state_user_set_hash(struct state *st, const char *name, const char *hash)
{
	sqlite3_stmt *s = prepare(st, "UPDATE users SET hash = ?2 WHERE name = ?1");

	if (!s)
		return STATE_ERROR;
	(void)sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(s, 2, hash, -1, SQLITE_STATIC);
	return changed(change(st, s));
}

enum state_lookup state_user_set_enabled(struct state *st, const char *name, bool enabled)
{
	sqlite3_stmt *s = prepare(st, "UPDATE users SET enabled = ?2 WHERE name = ?1");

	if (!s)
		return STATE_ERROR;
	(void)sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	(void)sqlite3_bind_int(s, 2, enabled ? 1 : 0);
	return changed(change(st, s));
}


enum state_lookup state_user_set_filter(struct state *st, const char *name, const char *filter)
{
	sqlite3_stmt *s = prepare(st, "UPDATE users SET filter = ?2 WHERE name = ?1");

	if (!s)
		return STATE_ERROR;
	(void)sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (filter)
		(void)sqlite3_bind_text(s, 2, filter, -1, SQLITE_STATIC);
	else
		(void)sqlite3_bind_null(s, 2);
	return changed(change(st, s));
}

enum state_lookup state_user_show(struct state *st, const char *name, FILE *out)
{
	sqlite3_stmt *s = prepare(st, "SELECT name, enabled, coalesce(maildir, ''), created,"
				      " coalesce(last_login, 0), coalesce(last_peer, ''),"
				      " coalesce(filter, 'default')"
				      " FROM users WHERE name = ?1");
	enum state_lookup res = STATE_ERROR;
	int rc;

	if (!s)
		return STATE_ERROR;
	(void)sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		(void)fprintf(out, "name=%s enabled=%d maildir=%s created=%lld last_login=%lld last_peer=%s"
				   " filter=%s",
			      text_or(s, 0, ""), sqlite3_column_int(s, 1), text_or(s, 2, ""),
			      (long long)sqlite3_column_int64(s, 3), (long long)sqlite3_column_int64(s, 4),
			      text_or(s, 5, ""), text_or(s, 6, ""));
		res = STATE_FOUND;
	} else if (rc == SQLITE_DONE) {
		res = STATE_NOT_FOUND;
	} else {
		set_err(st, "user show");
	}
	(void)sqlite3_finalize(s);
	return res;
}

bool state_user_list(struct state *st, const char *after, int max, FILE *out, bool *more,
		     char *last, size_t lastcap)
{
	sqlite3_stmt *s = prepare(st, "SELECT name FROM users WHERE name > ?1 ORDER BY name LIMIT ?2");
	int rc, n = 0;

	*more = false;
	if (!s)
		return false;
	(void)sqlite3_bind_text(s, 1, after ? after : "", -1, SQLITE_STATIC);
	(void)sqlite3_bind_int(s, 2, max + 1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n++ == max) {
			*more = true;
			break;
		}
		const char *name = text_or(s, 0, "");
		(void)fprintf(out, "\n%s", name);
		(void)snprintf(last, lastcap, "%s", name);
	}
	(void)sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		set_err(st, "user list");
		return false;
	}
	return true;
}

bool state_settings_write(struct state *st, const char *name, FILE *out)
{
	sqlite3_stmt *s = prepare(st, "SELECT name, value FROM settings"
				      " WHERE (?1 IS NULL OR name = ?1) AND name != 'dummy_hash' ORDER BY name");
	int rc;

	if (!s)
		return false;
	if (name)
		(void)sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		(void)fprintf(out, "\n%s=%s", text_or(s, 0, ""), text_or(s, 1, ""));
	(void)sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		set_err(st, "settings");
		return false;
	}
	return true;
}

int state_schema_version(struct state *st)
{
	int v = -1;

	return user_version(st, &v) ? v : -1;
}

/* The user and octets a live session keeps in <live_dir>/<pid> (see livefile in session.c). */
static void read_live_file(const char *dir, long long pid, char *user, size_t ucap, long long *octets)
{
	char path[CONFIG_PATH_MAX + 32], buf[256];
	int fd;
	ssize_t n;

	(void)snprintf(user, ucap, "-");
	*octets = -1;
	if ((size_t)snprintf(path, sizeof path, "%s/%lld", dir, pid) >= sizeof path)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof buf - 1);
	(void)close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	char u[POP3_USER_MAX + 2];
	if (sscanf(buf, "user=%129s octets=%lld", u, octets) == 2)
		(void)snprintf(user, ucap, "%s", u);
}

bool state_who_write(struct state *st, const char *live_dir, long long after, int max, FILE *out,
		     bool *more, long long *last)
{
	sqlite3_stmt *s = prepare(st, "SELECT pid, started, peer FROM live WHERE pid > ?1 ORDER BY pid LIMIT ?2");
	int rc, n = 0;

	*more = false;
	if (!s)
		return false;
	(void)sqlite3_bind_int64(s, 1, after);
	(void)sqlite3_bind_int(s, 2, max + 1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		char user[POP3_USER_MAX + 2];
		long long pid = (long long)sqlite3_column_int64(s, 0), octets;
		if (n++ == max) {
			*more = true;
			break;
		}
		read_live_file(live_dir, pid, user, sizeof user, &octets);
		(void)fprintf(out, "\npid=%lld user=%s peer=%s since=%lld octets=", pid, user,
			      text_or(s, 2, ""), (long long)sqlite3_column_int64(s, 1));
		if (octets < 0)
			(void)fputc('-', out);
		else
			(void)fprintf(out, "%lld", octets);
		*last = pid;
	}
	(void)sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		set_err(st, "who");
		return false;
	}
	return true;
}

enum state_lookup state_request_kept(struct state *st, const char *tag, time_t since, char *mac,
				     size_t maccap, char *reply, size_t replycap)
{
	sqlite3_stmt *s = prepare(st, "SELECT mac, reply FROM admin_requests WHERE tag = ?1 AND at >= ?2");
	enum state_lookup res = STATE_ERROR;
	int rc;

	if (!s)
		return STATE_ERROR;
	(void)sqlite3_bind_text(s, 1, tag, -1, SQLITE_STATIC);
	(void)sqlite3_bind_int64(s, 2, (sqlite3_int64)since);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		int rl = sqlite3_column_bytes(s, 1);
		const void *r = sqlite3_column_blob(s, 1);
		(void)snprintf(mac, maccap, "%s", text_or(s, 0, ""));
		if (r && rl > 0 && (size_t)rl < replycap) {
			memcpy(reply, r, (size_t)rl);
			reply[rl] = '\0';
			res = STATE_FOUND;
		}
	} else if (rc == SQLITE_DONE) {
		res = STATE_NOT_FOUND;
	} else {
		set_err(st, "kept request");
	}
	(void)sqlite3_finalize(s);
	return res;
}

bool state_request_keep(struct state *st, const char *tag, const char *mac, const char *reply,
			size_t len, time_t now, time_t keep_s)
{
	sqlite3_stmt *s = prepare(st, "INSERT OR REPLACE INTO admin_requests (tag, mac, at, reply)"
				      " VALUES (?1, ?2, ?3, ?4)");
	if (!s)
		return false;
	(void)sqlite3_bind_text(s, 1, tag, -1, SQLITE_STATIC);
	(void)sqlite3_bind_text(s, 2, mac, -1, SQLITE_STATIC);
	(void)sqlite3_bind_int64(s, 3, (sqlite3_int64)now);
	(void)sqlite3_bind_blob(s, 4, reply, (int)len, SQLITE_STATIC);
	if (!run(st, s))
		return false;
	s = prepare(st, "DELETE FROM admin_requests WHERE at < ?1");
	if (!s)
		return false;
	(void)sqlite3_bind_int64(s, 1, (sqlite3_int64)(now - keep_s));
	return run(st, s);
}
