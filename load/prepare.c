/*
 * prepare.c - see prepare.h.  Messages are generated text: RFC 5322
 * headers and lines of words, a few starting with '.' so dot-stuffing is
 * exercised, stored with LF line ends as MDAs store them, exactly the
 * requested size on disk.  Names carry ,S= (the file's size) and ,W=
 * (the RFC 822 size) so neither server has to read a message to size it.
 *
 * Users are created by running pop3-admind --init --import-users rather
 * than linking SQLite and libcrypt into the load tool: the state file has
 * one writer of its schema, and the tool stays usable against any server.
 */
#include "prepare.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define CHUNK (64 * 1024)
#define FLOW_Z 100

bool prep_parse_sizes(struct prep *p, const char *list, char *err, size_t errlen)
{
	char buf[256];

	if (strlen(list) >= sizeof buf) {
		errf(err, errlen, "--size: list too long");
		return false;
	}
	memcpy(buf, list, strlen(list) + 1);
	p->nsizes = 0;
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (name_eq(tok, "mailstone")) {
			/* en-1k, en-5k, en-17k, en-20k, en-32k */
			static const uint64_t ms[] = { 1024, 5 * 1024, 17 * 1024, 20 * 1024, 32 * 1024 };
			for (size_t i = 0; i < 5; i++) {
				if (p->nsizes == PREP_MAX_SIZES)
					goto many;
				p->sizes[p->nsizes++] = ms[i];
			}
			continue;
		}
		uint64_t v = 0;
		if (!name_eq(tok, "flow") && (!parse_size(tok, &v) || v == 0)) {
			errf(err, errlen, "--size: '%s' is not flow, mailstone or a size like 1k, 17k, 25M", tok);
			return false;
		}
		if (p->nsizes == PREP_MAX_SIZES)
			goto many;
		p->sizes[p->nsizes++] = v;
	}
	if (p->nsizes == 0) {
		errf(err, errlen, "--size: empty");
		return false;
	}
	return true;
many:
	errf(err, errlen, "--size: more than %d sizes", PREP_MAX_SIZES);
	return false;
}

uint64_t prep_wire_size(const unsigned char *buf, size_t n, bool *ends_cr, bool *ends_lf)
{
	uint64_t w = n;
	unsigned char prev = 0;

	/* LF alone becomes CRLF; a CR already before an LF is kept */
	for (const unsigned char *p = buf, *end = buf + n; p < end;) {
		const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;
		unsigned char before = nl > p ? nl[-1] : prev;
		if (before != '\r')
			w++;
		prev = '\n';
		p = nl + 1;
	}
	*ends_lf = n > 0 && buf[n - 1] == '\n';
	*ends_cr = n > 0 && buf[n - 1] == '\r';
	return w;
}

/* The wire size once the whole message is seen: a last line without an
 * end gets one (a trailing lone CR becomes that CRLF's CR). */
static uint64_t finish_wire(uint64_t w, bool ends_cr, bool ends_lf, uint64_t n)
{
	if (n == 0 || ends_lf)
		return w;
	return w + (ends_cr ? 1 : 2);
}

/* ---- generated text ---- */

static const char *const words[] = {
	"mail", "server", "load", "test", "message", "delivery", "the", "of", "and", "a", "to", "in",
	"is", "POP3", "maildir", "client", "session", "retrieve", "list", "octets", "byte", "line",
	"quick", "brown", "fox", "jumps", "over", "lazy", "dog", "capacity", "planning", "Mailstone",
};

struct gen {
	uint64_t rng;
	char buf[CHUNK + 256];
	size_t len;
	uint64_t lines; /* LF count so far, for ,W= */
};

/* One line of `want` octets with its LF (want >= 1). */
static void gen_line(struct gen *g, size_t want)
{
	size_t start = g->len;
	if (rng_below(&g->rng, 16) == 0 && want >= 3)
		g->buf[g->len++] = '.'; /* a line that must be dot-stuffed */
	while (g->len - start + 1 < want) {
		const char *wd = words[rng_below(&g->rng, sizeof words / sizeof words[0])];
		size_t wl = strlen(wd), room = want - 1 - (g->len - start);
		if (g->len > start && g->buf[g->len - 1] != ' ' && g->buf[g->len - 1] != '.') {
			if (room < 2)
				break;
			g->buf[g->len++] = ' ';
			room--;
		}
		if (wl > room)
			wl = room;
		memcpy(g->buf + g->len, wd, wl);
		g->len += wl;
	}
	/* pad: the line must be exactly `want` octets */
	while (g->len - start + 1 < want)
		g->buf[g->len++] = 'x';
	g->buf[g->len++] = '\n';
	g->lines++;
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static bool flush_gen(struct gen *g, int fd)
{
	bool ok = write_all(fd, g->buf, g->len);
	g->len = 0;
	return ok;
}

/* Write a generated message of exactly `size` octets; *wire gets its
 * RFC 822 size.  The headers say who it is for and how big it is. */
static bool gen_message(int fd, uint64_t size, const char *user, uint64_t msgno, uint64_t seed, uint64_t *wire,
			char *err, size_t errlen)
{
	struct gen *g = malloc(sizeof *g);
	char date[64];
	time_t t = time(NULL);
	struct tm tm;

	if (g == NULL) {
		errf(err, errlen, "out of memory");
		return false;
	}
	g->rng = seed ^ (msgno * 0x9E3779B97F4A7C15ULL) ^ size;
	g->len = 0;
	g->lines = 0;
	if (gmtime_r(&t, &tm) == NULL || strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		(void)snprintf(date, sizeof date, "Thu, 01 Jan 1970 00:00:00 +0000");
	int hl = snprintf(g->buf, sizeof g->buf,
			  "Return-Path: <load@localhost>\n"
			  "From: pop3-load <load@localhost>\n"
			  "To: %.100s <%.100s@localhost>\n"
			  "Subject: pop3-load message %llu, %llu octets\n"
			  "Date: %s\n"
			  "Message-ID: <%llu.%llu.%.100s@pop3-load>\n"
			  "MIME-Version: 1.0\n"
			  "Content-Type: text/plain; charset=us-ascii\n"
			  "\n",
			  user, user, (unsigned long long)msgno, (unsigned long long)size, date,
			  (unsigned long long)msgno, (unsigned long long)size, user);
	if (hl < 0 || (uint64_t)hl + 2 > size) {
		free(g);
		errf(err, errlen, "%llu octets is smaller than the headers (%d): use --size flow or --file",
		     (unsigned long long)size, hl);
		return false;
	}
	g->len = (size_t)hl;
	for (const char *p = g->buf; p < g->buf + hl; p++)
		if (*p == '\n')
			g->lines++;
	uint64_t left = size - (uint64_t)hl;
	bool ok = true;
	while (ok && left > 0) {
		/* lines of 20-77 octets with the LF; the last one takes exactly
		 * what is left (1 octet: an empty line) */
		size_t want = 20 + (size_t)rng_below(&g->rng, 58);
		if (want > left)
			want = (size_t)left;
		gen_line(g, want);
		left -= want;
		if (g->len >= CHUNK)
			ok = flush_gen(g, fd);
	}
	if (ok)
		ok = flush_gen(g, fd);
	if (!ok)
		errf(err, errlen, "write: %s", strerror(errno));
	*wire = size + g->lines;
	free(g);
	return ok;
}

/* ---- delivery ---- */

static bool mkdir_p1(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	return true;
}

/* The host part of a Maildir unique name: '/' and ':' are encoded as
 * the Maildir specification says (\057, \072). */
static void maildir_host(char *out, size_t cap)
{
	char host[256];
	size_t o = 0;

	if (gethostname(host, sizeof host) != 0)
		(void)snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	for (const char *p = host; *p && o + 5 < cap; p++) {
		if (*p == '/' || *p == ':') {
			o += (size_t)snprintf(out + o, cap - o, "\\%03o", (unsigned)(unsigned char)*p);
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

struct source {
	const unsigned char *data; /* --file, mapped */
	size_t len;
	uint64_t wire;
};

static bool deliver(const struct prep *p, const struct source *src, const char *dir, const char *user,
		    uint64_t msgno, uint64_t size, const char *host, uint64_t serial, char *err, size_t errlen)
{
	char name[512], tmp[4096], dst[4096];
	uint64_t wire = 0, disk;
	/* the "POP3 LIST and RETR" flow's message: 100 'Z' and a line end */
	char flow[FLOW_Z + 1];

	memset(flow, 'Z', FLOW_Z);
	flow[FLOW_Z] = '\n';
	disk = src->data ? src->len : size ? size : sizeof flow;
	wire = src->data ? src->wire : size ? 0 : sizeof flow + 1; /* generated: known once written */
	/* a unique name whose order is the delivery order: the time, then a
	 * zero-padded serial (pop3-session numbers by time, then name) */
	long long t = (long long)time(NULL);
	int tl = snprintf(tmp, sizeof tmp, "%s/tmp/%lld.M%09lluP%ldQ%llu.%s", dir, t, (unsigned long long)serial,
			  (long)getpid(), (unsigned long long)msgno, host);
	if (tl < 0 || (size_t)tl >= sizeof tmp) {
		errf(err, errlen, "%s: path too long", dir);
		return false;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		errf(err, errlen, "%s: %s", tmp, strerror(errno));
		return false;
	}
	bool ok;
	if (src->data != NULL || size == 0) {
		ok = src->data ? write_all(fd, (const char *)src->data, src->len) : write_all(fd, flow, sizeof flow);
		if (!ok)
			errf(err, errlen, "%s: %s", tmp, strerror(errno));
	} else {
		ok = gen_message(fd, size, user, msgno, p->seed, &wire, err, errlen);
	}
	/* Maildir: the message is on disk before it appears in new/ */
	if (ok && p->fsync && fsync(fd) != 0) {
		errf(err, errlen, "fsync %s: %s", tmp, strerror(errno));
		ok = false;
	}
	if (close(fd) != 0 && ok) {
		errf(err, errlen, "close %s: %s", tmp, strerror(errno));
		ok = false;
	}
	if (!ok) {
		(void)unlink(tmp); /* best effort: the error is already reported */
		return false;
	}
	const char *base = strrchr(tmp, '/') + 1;
	int nl = snprintf(name, sizeof name, "%s,S=%llu,W=%llu", base, (unsigned long long)disk,
			  (unsigned long long)wire);
	int dl = snprintf(dst, sizeof dst, "%s/new/%s", dir, name);
	if (nl < 0 || (size_t)nl >= sizeof name || dl < 0 || (size_t)dl >= sizeof dst) {
		(void)unlink(tmp);
		errf(err, errlen, "%s: name too long", dir);
		return false;
	}
	if (link(tmp, dst) != 0) {
		errf(err, errlen, "link %s: %s", dst, strerror(errno));
		(void)unlink(tmp);
		return false;
	}
	if (unlink(tmp) != 0) {
		errf(err, errlen, "unlink %s: %s", tmp, strerror(errno));
		return false;
	}
	return true;
}

static bool map_file(const char *path, struct source *src, char *err, size_t errlen)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &sb) != 0) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			(void)close(fd);
		return false;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size == 0) {
		(void)close(fd);
		errf(err, errlen, "%s: not a regular non-empty file", path);
		return false;
	}
	void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	int saved = errno;
	if (close(fd) != 0 || m == MAP_FAILED) {
		errf(err, errlen, "%s: %s", path, strerror(m == MAP_FAILED ? saved : errno));
		return false;
	}
	bool cr, lf;
	src->data = m;
	src->len = (size_t)sb.st_size;
	src->wire = finish_wire(prep_wire_size(src->data, src->len, &cr, &lf), cr, lf, src->len);
	return true;
}

/* ---- users ---- */

static const char *find_admind(const struct prep *p, char *buf, size_t cap)
{
	if (p->admind != NULL)
		return p->admind;
	const char *env = getenv("POP3_ADMIND");
	if (env != NULL && *env)
		return env;
	/* beside this binary: build/pop3-load next to build/pop3-admind */
	ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
	if (n > 0) {
		buf[n] = '\0';
		char *slash = strrchr(buf, '/');
		if (slash != NULL && (size_t)(slash - buf) + sizeof "/pop3-admind" <= cap) {
			memcpy(slash, "/pop3-admind", sizeof "/pop3-admind");
			if (access(buf, X_OK) == 0)
				return buf;
		}
	}
	return "pop3-admind"; /* from PATH */
}

static bool run_admind(const struct prep *p, const char *users, char *err, size_t errlen)
{
	char path[PATH_MAX];
	const char *admind = find_admind(p, path, sizeof path);
	char *argv[] = { (char *)admind, "--state", (char *)p->state, "--init", "--maildir-root", (char *)p->root,
			 "--import-users", (char *)users, "--scheme", (char *)p->scheme, NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status;

	/* its "created"/"imported" lines are not ours to print; errors on
	 * stderr stay visible */
	int rc = posix_spawn_file_actions_init(&fa);
	if (rc == 0)
		rc = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (rc == 0)
		rc = posix_spawnp(&pid, admind, &fa, NULL, argv, environ);
	(void)posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		errf(err, errlen, "%s: %s", admind, strerror(rc));
		return false;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			errf(err, errlen, "waitpid: %s", strerror(errno));
			return false;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		errf(err, errlen, "%s --init --import-users failed (status %d)", admind,
		     WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		return false;
	}
	return true;
}

/* The "name:password" lines for pop3-admind (and --users-file). */
static bool write_users(const struct prep *p, FILE *f, char *err, size_t errlen)
{
	char user[256], pass[256];

	for (uint64_t i = 0; i < p->users; i++) {
		uint64_t n = p->first + i;
		if (!format_login(user, sizeof user, p->login_fmt, n) || !format_login(pass, sizeof pass, p->passwd_fmt, n)) {
			errf(err, errlen, "login %llu does not fit the formats", (unsigned long long)n);
			return false;
		}
		if (strchr(user, ':') || strchr(user, '/') || strcmp(user, ".") == 0 || strcmp(user, "..") == 0) {
			errf(err, errlen, "'%s' cannot be a user name (':' or '/')", user);
			return false;
		}
		if (fprintf(f, "%s:%s\n", user, pass) < 0) {
			errf(err, errlen, "write: %s", strerror(errno));
			return false;
		}
	}
	return true;
}

static bool make_users(const struct prep *p, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	bool ok;

	if (p->users_file != NULL) {
		FILE *f = fopen(p->users_file, "w");
		if (f == NULL) {
			errf(err, errlen, "%s: %s", p->users_file, strerror(errno));
			return false;
		}
		ok = write_users(p, f, err, errlen);
		if (fclose(f) != 0 && ok) {
			errf(err, errlen, "%s: %s", p->users_file, strerror(errno));
			ok = false;
		}
		if (!ok)
			return false;
	}
	if (p->state == NULL)
		return true;
	/* passwords in a file only the caller can read, beside the state */
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.users.XXXXXX", p->state) >= sizeof tmp) {
		errf(err, errlen, "%s: path too long", p->state);
		return false;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		errf(err, errlen, "%s: %s", tmp, strerror(errno));
		return false;
	}
	FILE *f = fdopen(fd, "w");
	if (f == NULL) {
		errf(err, errlen, "fdopen: %s", strerror(errno));
		(void)close(fd);
		(void)unlink(tmp);
		return false;
	}
	ok = write_users(p, f, err, errlen);
	if (fclose(f) != 0 && ok) {
		errf(err, errlen, "%s: %s", tmp, strerror(errno));
		ok = false;
	}
	if (ok)
		ok = run_admind(p, tmp, err, errlen);
	if (unlink(tmp) != 0 && ok) {
		errf(err, errlen, "unlink %s: %s", tmp, strerror(errno));
		ok = false;
	}
	return ok;
}

bool prep_run(const struct prep *p, prep_progress_fn *progress, char *err, size_t errlen)
{
	struct source src = { 0 };
	char host[300], dir[4096], sub[4200], user[256];
	uint64_t serial = 0;
	bool ok = false;

	if (p->file != NULL && !map_file(p->file, &src, err, errlen))
		return false;
	maildir_host(host, sizeof host);
	if (!mkdir_p1(p->root, err, errlen))
		goto out;
	for (uint64_t i = 0; i < p->users; i++) {
		if (!format_login(user, sizeof user, p->login_fmt, p->first + i)) {
			errf(err, errlen, "login %llu does not fit the format", (unsigned long long)(p->first + i));
			goto out;
		}
		if (strchr(user, '/') != NULL || strcmp(user, ".") == 0 || strcmp(user, "..") == 0) {
			errf(err, errlen, "'%s' cannot be a maildir name", user);
			goto out;
		}
		if ((size_t)snprintf(dir, sizeof dir, "%s/%s", p->root, user) >= sizeof dir) {
			errf(err, errlen, "%s: path too long", p->root);
			goto out;
		}
		if (!mkdir_p1(dir, err, errlen))
			goto out;
		static const char *const subs[] = { "tmp", "new", "cur" };
		for (size_t s = 0; s < 3; s++) {
			(void)snprintf(sub, sizeof sub, "%s/%s", dir, subs[s]);
			if (!mkdir_p1(sub, err, errlen))
				goto out;
		}
		for (uint64_t m = 0; m < p->messages; m++) {
			/* every user gets the same sequence of sizes */
			uint64_t size = p->sizes[m % p->nsizes];
			if (!deliver(p, &src, dir, user, m + 1, size, host, serial, err, errlen))
				goto out;
			serial++;
		}
		if (progress != NULL)
			progress(i + 1, p->users);
	}
	ok = make_users(p, err, errlen);
out:
	if (src.data != NULL && munmap((void *)src.data, src.len) != 0 && ok) {
		errf(err, errlen, "munmap: %s", strerror(errno));
		ok = false;
	}
	return ok;
}
