/*
 * maildrop.c - lock, snapshot, sizes, UIDLs and deletion for one Maildir.
 *
 * Sizes: a message's size is its CRLF, unstuffed length (see msgconv.h).
 * Reading every message at every login would cost a read of the whole
 * maildrop, so sizes come from the Maildir name when it carries ",W=<n>"
 * (the RFC 822 size Dovecot, Courier and our load tool write), and
 * otherwise from pop3.sizes, a cache of "<unique name> <size>" lines in the
 * maildir.  Maildir messages never change once delivered, so an entry is
 * valid for as long as its message exists; the file is rewritten (atomically,
 * by rename) only when messages were sized anew or entries went stale.
 */
#include "maildrop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "msgconv.h"

#define LOCK_NAME "pop3.lock"
#define CACHE_NAME "pop3.sizes"
#define CACHE_TMP "pop3.sizes.tmp"
#define CACHE_MAGIC "pop3-sizes 1\n"

/* ---- name storage: a few large blocks instead of one malloc per name ---- */

struct arena {
	struct arena *next;
	size_t used, cap;
	char data[];
};

static char *arena_strdup2(struct arena **a, const char *p1, const char *p2, const char *p3)
{
	size_t l1 = strlen(p1), l2 = strlen(p2), l3 = strlen(p3), need = l1 + l2 + l3 + 1;

	if (!*a || (*a)->cap - (*a)->used < need) {
		size_t cap = need > 60000 ? need : 60000;
		struct arena *n = malloc(sizeof *n + cap);
		if (!n)
			return NULL;
		n->next = *a;
		n->used = 0;
		n->cap = cap;
		*a = n;
	}
	char *s = (*a)->data + (*a)->used;
	memcpy(s, p1, l1);
	memcpy(s + l1, p2, l2);
	memcpy(s + l1 + l2, p3, l3 + 1);
	(*a)->used += need;
	return s;
}

static void arena_free(struct arena *a)
{
	while (a) {
		struct arena *next = a->next;
		free(a);
		a = next;
	}
}

/*
 * Open a file of the maildir for reading, refusing anything but a regular
 * file: open(2) of a FIFO someone left in cur/ would block forever (holding
 * the maildrop lock), a device could be read forever, a symlink could point
 * anywhere.  O_NONBLOCK makes the open itself return at once; for a regular
 * file it changes nothing.
 */
static int open_regular(int dirfd, const char *path, int flags, mode_t mode)
{
	struct stat st;
	int fd = openat(dirfd, path, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, mode);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		(void)close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

/* Directory entries that cannot be messages: skip without a syscall where d_type tells. */
static bool maybe_message(const struct dirent *e)
{
	if (e->d_name[0] == '.')
		return false;
	return e->d_type == DT_REG || e->d_type == DT_UNKNOWN;
}

/* ---- helpers on names ---- */

static uint64_t fnv1a(const char *s, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* ",W=<digits>" inside the unique name: the CRLF size the MDA recorded. */
static bool size_from_name(const char *uniq, size_t len, uint64_t *size)
{
	for (size_t i = 0; i + 3 < len; i++) {
		if (uniq[i] != ',' || uniq[i + 1] != 'W' || uniq[i + 2] != '=')
			continue;
		uint64_t v = 0;
		size_t j = i + 3, digits = 0;
		/* at most 12 digits (under 1 TB): sums of sizes can never overflow */
		for (; j < len && uniq[j] >= '0' && uniq[j] <= '9' && digits <= 12; j++, digits++)
			v = v * 10 + (uint64_t)(uniq[j] - '0');
		if (digits > 0 && digits <= 12 && (j == len || uniq[j] == ',')) {
			*size = v;
			return true;
		}
	}
	return false;
}

static uint64_t sortkey_from_name(const char *name)
{
	uint64_t v = 0;

	for (size_t i = 0; i < 18 && name[i] >= '0' && name[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(name[i] - '0');
	return v;
}

static int cmp_msg(const void *pa, const void *pb)
{
	const struct msg *a = pa, *b = pb;

	if (a->sortkey != b->sortkey)
		return a->sortkey < b->sortkey ? -1 : 1;
	size_t n = a->uniq_len < b->uniq_len ? a->uniq_len : b->uniq_len;
	int c = memcmp(a->path + a->uniq_off, b->path + b->uniq_off, n);
	if (c != 0)
		return c;
	if (a->uniq_len != b->uniq_len)
		return (a->uniq_len > b->uniq_len) - (a->uniq_len < b->uniq_len);
	/* one unique name twice: a fixed order, "cur/" before "new/" */
	return strcmp(a->path, b->path);
}

/* ---- the snapshot ---- */

static bool add_msg(struct maildrop *md, size_t *cap, const char *dir, const char *name,
		    uint64_t ino)
{
	if (md->count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct msg *n = realloc(md->msgs, ncap * sizeof *n);
		if (!n)
			return false;
		md->msgs = n;
		*cap = ncap;
	}
	char *path = arena_strdup2(&md->names, dir, name, "");
	if (!path)
		return false;
	const char *colon = strchr(name, ':');
	size_t ulen = colon ? (size_t)(colon - name) : strlen(name);
	if (ulen > UINT16_MAX)
		ulen = UINT16_MAX;

	struct msg *m = &md->msgs[md->count++];
	m->path = path;
	m->uniq_off = 4; /* strlen("cur/") == strlen("new/") */
	m->uniq_len = (uint16_t)ulen;
	m->sortkey = sortkey_from_name(name);
	m->size = UINT64_MAX; /* not known yet */
	m->ino = ino;
	m->deleted = false;
	m->duplicate = false;
	m->shared_name = false;
	return true;
}

static DIR *open_subdir(int dirfd, const char *sub)
{
	int fd = openat(dirfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		(void)close(fd);
		errno = e;
	}
	return d;
}

/*
 * rename(2) that never replaces a message: RENAME_NOREPLACE, or link+unlink
 * where the file system lacks it.
 */
static bool move_noreplace(int dirfd, const char *from, const char *to)
{
	if (renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0)
		return true;
	if (errno != EINVAL && errno != ENOSYS)
		return false;
	if (linkat(dirfd, from, dirfd, to, 0) != 0)
		return false;
	if (unlinkat(dirfd, from, 0) != 0) {
		/* both names now exist: drop the new one, keep the original */
		int e = errno;
		(void)unlinkat(dirfd, to, 0);
		errno = e;
		return false;
	}
	return true;
}

/*
 * The unique names cur/ holds, to give a new/ message that collides a name of
 * its own.  Slots hold index + 1 into md->msgs (0: empty), not pointers: the
 * array moves when messages are added.
 */
struct names {
	size_t *slot;
	size_t cap;
};

static bool names_has(const struct names *n, const struct maildrop *md, const char *u, size_t len)
{
	size_t i = (size_t)fnv1a(u, len, 0xcbf29ce484222325ULL) & (n->cap - 1);

	for (; n->slot[i]; i = (i + 1) & (n->cap - 1)) {
		const struct msg *m = &md->msgs[n->slot[i] - 1];
		if (m->uniq_len == len && memcmp(m->path + m->uniq_off, u, len) == 0)
			return true;
	}
	return false;
}

static bool names_build(struct names *n, const struct maildrop *md)
{
	n->cap = 64;
	while (n->cap < md->count * 2 + 2)
		n->cap *= 2;
	n->slot = calloc(n->cap, sizeof *n->slot);
	if (!n->slot)
		return false;
	for (size_t k = 0; k < md->count; k++) {
		const struct msg *m = &md->msgs[k];
		size_t i = (size_t)fnv1a(m->path + m->uniq_off, m->uniq_len, 0xcbf29ce484222325ULL) & (n->cap - 1);
		while (n->slot[i])
			i = (i + 1) & (n->cap - 1);
		n->slot[i] = k + 1;
	}
	return true;
}

/*
 * Maildir: a reader moves what it has seen from new/ to cur/ adding ":2,".
 * When cur/ already holds the unique name (a delivery that broke Maildir's
 * naming rule), the newcomer gets a name of its own, "<name>.dup<inode>":
 * sharing a UIDL would let a client that leaves mail on the server take it
 * for the other message and never download it.  Returns the new file name
 * in cur/ (in to[]), or NULL when the message stays in new/.
 */
static const char *move_to_cur(int dirfd, const char *name, uint64_t ino, bool taken, char *to, size_t cap)
{
	char from[300], dest[340];
	int n = taken ? snprintf(to, cap, "%s.dup%llu:2,", name, (unsigned long long)ino)
		      : snprintf(to, cap, "%s:2,", name);

	if (n < 0 || (size_t)n >= cap || (size_t)snprintf(from, sizeof from, "new/%s", name) >= sizeof from ||
	    (size_t)snprintf(dest, sizeof dest, "cur/%s", to) >= sizeof dest)
		return NULL;
	return move_noreplace(dirfd, from, dest) ? to : NULL;
}

static bool scan_new(struct maildrop *md, size_t *cap)
{
	DIR *d = open_subdir(md->dirfd, "new");
	struct dirent *e;
	struct names taken;
	char to[320];

	if (!d)
		return errno == ENOENT;
	/*
	 * The set of names in cur/ is built at the first message in new/, not
	 * before: usually new/ is empty, and building it for a big maildrop
	 * cost every login a pass over all its names.
	 */
	taken.slot = NULL;
	bool ok = true;
	while (ok && (errno = 0, e = readdir(d)) != NULL) {
		if (!maybe_message(e))
			continue;
		if (!taken.slot && !names_build(&taken, md)) {
			ok = false;
			break;
		}
		size_t ulen = strcspn(e->d_name, ":");
		const char *moved = move_to_cur(md->dirfd, e->d_name, (uint64_t)e->d_ino,
						names_has(&taken, md, e->d_name, ulen), to, sizeof to);
		if (moved) {
			md->moved_new++;
			ok = add_msg(md, cap, "cur/", moved, (uint64_t)e->d_ino);
		} else if (errno != ENOENT) { /* ENOENT: another reader moved it; next time */
			ok = add_msg(md, cap, "new/", e->d_name, (uint64_t)e->d_ino);
		}
	}
	int err = ok ? errno : ENOMEM;
	free(taken.slot);
	(void)closedir(d);
	errno = err;
	return err == 0;
}

static bool scan_cur(struct maildrop *md, size_t *cap)
{
	DIR *d = open_subdir(md->dirfd, "cur");
	struct dirent *e;

	if (!d)
		return false;
	while ((errno = 0, e = readdir(d)) != NULL) {
		if (!maybe_message(e))
			continue;
		if (!add_msg(md, cap, "cur/", e->d_name, (uint64_t)e->d_ino)) {
			(void)closedir(d);
			return false;
		}
	}
	int err = errno;
	(void)closedir(d);
	errno = err;
	return err == 0;
}

/* ---- the size cache ---- */

struct cache_entry {
	const char *uniq;
	size_t len;
	uint64_t size;
	bool used;
};

struct size_cache {
	char *text;               /* the file, modified in place */
	struct cache_entry *tab;  /* open addressing, cap a power of two */
	size_t cap;
	size_t entries;
	size_t used;
	bool dirty;
};

static struct cache_entry *cache_slot(struct size_cache *c, const char *uniq, size_t len)
{
	size_t i = (size_t)fnv1a(uniq, len, 0xcbf29ce484222325ULL) & (c->cap - 1);

	while (c->tab[i].uniq &&
	       (c->tab[i].len != len || memcmp(c->tab[i].uniq, uniq, len) != 0))
		i = (i + 1) & (c->cap - 1);
	return &c->tab[i];
}

static bool cache_alloc(struct size_cache *c, size_t want)
{
	c->cap = 64;
	while (c->cap < want * 2)
		c->cap *= 2;
	c->tab = calloc(c->cap, sizeof *c->tab);
	return c->tab != NULL;
}

/* Parse "<uniq> <size>\n" lines; a damaged file is ignored as a whole. */
static void cache_parse(struct size_cache *c, size_t len)
{
	char *p = c->text + strlen(CACHE_MAGIC), *end = c->text + len;

	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *sp = nl ? memchr(p, ' ', (size_t)(nl - p)) : NULL;
		if (!sp || sp == p || sp + 1 == nl)
			goto damaged;
		uint64_t v = 0;
		for (char *q = sp + 1; q < nl; q++) {
			/* 12 digits at most, as for ,W=: sums of sizes cannot overflow */
			if (*q < '0' || *q > '9' || q - sp > 12)
				goto damaged;
			v = v * 10 + (uint64_t)(*q - '0');
		}
		struct cache_entry *e = cache_slot(c, p, (size_t)(sp - p));
		if (!e->uniq)
			c->entries++;
		*e = (struct cache_entry){ p, (size_t)(sp - p), v, false };
		p = nl + 1;
	}
	return;
damaged:
	memset(c->tab, 0, c->cap * sizeof *c->tab);
	c->entries = 0;
	c->dirty = true;
}

static void cache_load(struct size_cache *c, int dirfd, size_t nmsgs)
{
	struct stat st;
	int fd = open_regular(dirfd, CACHE_NAME, O_RDONLY, 0);
	size_t len = 0;

	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size < (1 << 30)) {
		c->text = malloc((size_t)st.st_size + 1);
		while (c->text && len < (size_t)st.st_size) {
			ssize_t n = read(fd, c->text + len, (size_t)st.st_size - len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			len += (size_t)n;
		}
	}
	if (fd >= 0)
		(void)close(fd);
	size_t lines = 0;
	for (size_t i = 0; c->text && i < len; i++)
		lines += c->text[i] == '\n';
	if (!cache_alloc(c, (lines > nmsgs ? lines : nmsgs) + 1))
		return;
	if (c->text && len >= strlen(CACHE_MAGIC) &&
	    memcmp(c->text, CACHE_MAGIC, strlen(CACHE_MAGIC)) == 0)
		cache_parse(c, len);
	else if (len > 0)
		c->dirty = true;
}

/* Read a message once through the converter to learn its size. */
static bool measure(int dirfd, const char *path, char *raw, char *conv, uint64_t *size)
{
	int fd = open_regular(dirfd, path, O_RDONLY, 0);
	struct msgconv c;
	uint64_t total = 0;

	if (fd < 0)
		return false;
	msgconv_init(&c, false, false, 0);
	for (;;) {
		ssize_t n = read(fd, raw, POP3_STREAM_RAW);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			(void)close(fd);
			return false;
		}
		if (n == 0)
			break;
		total += msgconv_feed(&c, raw, (size_t)n, conv);
	}
	total += msgconv_finish(&c, conv);
	(void)close(fd);
	*size = total;
	return true;
}

/* Names a "<uniq> <size>" line can carry: not empty, no space, no control octet. */
static bool cacheable(const char *u, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] <= 0x20 || u[i] == 0x7f)
			return false;
	return true;
}

static void cache_write(struct maildrop *md)
{
	size_t cap = strlen(CACHE_MAGIC) + 1, len = 0;

	for (size_t i = 0; i < md->count; i++)
		cap += md->msgs[i].uniq_len + 22;
	char *buf = malloc(cap);
	if (!buf) {
		md->cache_write_failed = true;
		return;
	}
	memcpy(buf, CACHE_MAGIC, strlen(CACHE_MAGIC));
	len = strlen(CACHE_MAGIC);
	for (size_t i = 0; i < md->count; i++) {
		const struct msg *m = &md->msgs[i];
		const char *u = m->path + m->uniq_off;
		uint64_t dummy;
		if (m->size == UINT64_MAX || m->shared_name || !cacheable(u, m->uniq_len) ||
		    size_from_name(u, m->uniq_len, &dummy))
			continue;
		memcpy(buf + len, u, m->uniq_len);
		len += m->uniq_len;
		len += (size_t)snprintf(buf + len, cap - len, " %llu\n", (unsigned long long)m->size);
	}

	int fd = open_regular(md->dirfd, CACHE_TMP, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	bool ok = fd >= 0;
	for (size_t off = 0; ok && off < len;) {
		ssize_t n = write(fd, buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		ok = n > 0;
		if (ok)
			off += (size_t)n;
	}
	if (fd >= 0 && close(fd) != 0)
		ok = false;
	if (ok)
		ok = renameat(md->dirfd, CACHE_TMP, md->dirfd, CACHE_NAME) == 0;
	if (!ok) {
		md->cache_write_failed = true;
		(void)unlinkat(md->dirfd, CACHE_TMP, 0);
	}
	free(buf);
}

/* Give every message its size: from its name, the cache, or by reading it. */
static bool fill_sizes(struct maildrop *md)
{
	struct size_cache c = { 0 };
	char *raw = NULL, *conv = NULL;
	bool need_cache = false, ok = true;

	for (size_t i = 0; i < md->count; i++) {
		struct msg *m = &md->msgs[i];
		if (!size_from_name(m->path + m->uniq_off, m->uniq_len, &m->size))
			need_cache = true;
	}
	if (!need_cache)
		return true;

	cache_load(&c, md->dirfd, md->count);
	if (!c.tab) {
		free(c.text);
		return false;
	}
	for (size_t i = 0; i < md->count; i++) {
		struct msg *m = &md->msgs[i];
		if (m->size != UINT64_MAX)
			continue;
		struct cache_entry *e = cache_slot(&c, m->path + m->uniq_off, m->uniq_len);
		if (e->uniq && !m->shared_name) {
			if (!e->used)
				c.used++;
			e->used = true;
			m->size = e->size;
			continue;
		}
		if (!raw) {
			raw = malloc(POP3_STREAM_RAW);
			conv = malloc(2 * POP3_STREAM_RAW);
			if (!raw || !conv) {
				ok = false;
				break;
			}
		}
		if (!measure(md->dirfd, m->path, raw, conv, &m->size))
			continue; /* unreadable now: not cached; RETR will say so */
		md->sizes_computed++;
		c.dirty = true;
	}
	if (ok && (c.dirty || c.used != c.entries))
		cache_write(md);
	for (size_t i = 0; i < md->count; i++)
		if (md->msgs[i].size == UINT64_MAX)
			md->msgs[i].size = 0; /* unreadable: LIST shows 0 octets */
	free(raw);
	free(conv);
	free(c.tab);
	free(c.text);
	return ok;
}

/*
 * Two files with one unique name (a new/ message that could not move because
 * cur/ had its name): sorting put them side by side.  All but the first get
 * a UIDL of their own, and all are sized by reading, never through the
 * cache entry their name shares.
 */
static void mark_duplicates(struct maildrop *md)
{
	for (size_t i = 1; i < md->count; i++) {
		const struct msg *a = &md->msgs[i - 1];
		struct msg *b = &md->msgs[i];
		if (a->uniq_len == b->uniq_len &&
		    memcmp(a->path + a->uniq_off, b->path + b->uniq_off, a->uniq_len) == 0) {
			md->msgs[i - 1].shared_name = true;
			b->shared_name = true;
			b->duplicate = true;
		}
	}
}

/* ---- open and close ---- */

static int open_or_create(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0 || errno != ENOENT)
		return fd;
	/* a user who never received mail: an empty maildrop, made on first use */
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	static const char *const subs[] = { "cur", "new", "tmp" };
	for (size_t i = 0; i < 3; i++)
		if (mkdirat(fd, subs[i], 0700) != 0 && errno != EEXIST) {
			int e = errno;
			(void)close(fd);
			errno = e;
			return -1;
		}
	return fd;
}

enum md_status maildrop_open(struct maildrop *md, const char *path)
{
	size_t cap = 0;

	memset(md, 0, sizeof *md);
	md->lockfd = -1;
	md->dirfd = open_or_create(path);
	if (md->dirfd < 0)
		return MD_FAIL;

	md->lockfd = open_regular(md->dirfd, LOCK_NAME, O_RDWR | O_CREAT, 0600);
	if (md->lockfd < 0)
		goto fail;
	if (flock(md->lockfd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK) {
			maildrop_close(md);
			return MD_INUSE;
		}
		goto fail;
	}

	/* cur/ first: new/ messages are then checked against the names it holds */
	if (!scan_cur(md, &cap) || !scan_new(md, &cap))
		goto fail;
	if (md->count > 1) /* qsort(NULL, 0, ...) is undefined */
		qsort(md->msgs, md->count, sizeof *md->msgs, cmp_msg);
	mark_duplicates(md);
	if (!fill_sizes(md))
		goto fail;
	md->live_count = md->count;
	for (size_t i = 0; i < md->count; i++)
		md->live_size += md->msgs[i].size;
	return MD_OK;
fail:;
	int e = errno;
	maildrop_close(md);
	errno = e;
	return MD_FAIL;
}

void maildrop_close(struct maildrop *md)
{
	/* closing the lock file releases the flock */
	if (md->lockfd >= 0)
		(void)close(md->lockfd);
	if (md->dirfd >= 0)
		(void)close(md->dirfd);
	free(md->msgs);
	arena_free(md->names);
	md->msgs = NULL;
	md->names = NULL;
	md->count = 0;
	md->lockfd = -1;
	md->dirfd = -1;
}

/* ---- per message ---- */

size_t maildrop_uidl(const struct maildrop *md, size_t i, char *buf)
{
	const struct msg *m = &md->msgs[i];
	const char *u = m->path + m->uniq_off;
	bool ok = m->uniq_len >= 1 && m->uniq_len <= POP3_UIDL_MAX && !m->duplicate;
	size_t hashed = m->duplicate ? strlen(m->path) : m->uniq_len;

	for (size_t k = 0; ok && k < m->uniq_len; k++)
		ok = u[k] >= 0x21 && u[k] <= 0x7e;
	if (ok) {
		memcpy(buf, u, m->uniq_len);
		buf[m->uniq_len] = '\0';
		return m->uniq_len;
	}
	/* RFC 1939 allows 70 printable octets: other names get a stable digest */
	if (m->duplicate)
		u = m->path; /* "new/<name>": differs from its twin's "cur/<name>:2,..." */
	uint64_t h1 = fnv1a(u, hashed, 0xcbf29ce484222325ULL);
	uint64_t h2 = fnv1a(u, hashed, 0x84222325cbf29ce4ULL);
	/* ':' ends a Maildir unique name, so no real name can ever equal a digest */
	return (size_t)snprintf(buf, POP3_UIDL_MAX + 1, ":%016llx%016llx",
				(unsigned long long)h1, (unsigned long long)h2);
}

/*
 * Another agent (an IMAP server setting flags) may have renamed the file
 * since the snapshot: find it again by its unique name.
 */
static bool relocate(struct maildrop *md, struct msg *m)
{
	DIR *d = open_subdir(md->dirfd, "cur");
	const char *u = m->path + m->uniq_off;
	struct dirent *e;
	bool found = false;

	if (!d)
		return false;
	while (!found && (e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, u, m->uniq_len) != 0)
			continue;
		char next = e->d_name[m->uniq_len];
		if (next != ':' && next != '\0')
			continue;
		/* the same file renamed, not another one with the same name */
		if ((uint64_t)e->d_ino != m->ino)
			continue;
		char *p = arena_strdup2(&md->names, "cur/", e->d_name, "");
		if (p) {
			m->path = p;
			found = true;
		}
	}
	(void)closedir(d);
	if (!found)
		errno = ENOENT;
	return found;
}

int maildrop_open_msg(struct maildrop *md, size_t i)
{
	struct msg *m = &md->msgs[i];
	int fd = open_regular(md->dirfd, m->path, O_RDONLY, 0);

	if (fd < 0 && errno == ENOENT && relocate(md, m))
		fd = open_regular(md->dirfd, m->path, O_RDONLY, 0);
	return fd;
}

void maildrop_mark_deleted(struct maildrop *md, size_t i)
{
	struct msg *m = &md->msgs[i];

	if (m->deleted)
		return;
	m->deleted = true;
	md->live_count--;
	md->live_size -= m->size;
}

void maildrop_unmark_all(struct maildrop *md)
{
	for (size_t i = 0; i < md->count; i++)
		md->msgs[i].deleted = false;
	md->live_count = md->count;
	md->live_size = 0;
	for (size_t i = 0; i < md->count; i++)
		md->live_size += md->msgs[i].size;
}

size_t maildrop_commit(struct maildrop *md, size_t *removed)
{
	size_t failed = 0;

	*removed = 0;
	for (size_t i = 0; i < md->count; i++) {
		struct msg *m = &md->msgs[i];
		if (!m->deleted)
			continue;
		int r = unlinkat(md->dirfd, m->path, 0);
		if (r != 0 && errno == ENOENT && relocate(md, m))
			r = unlinkat(md->dirfd, m->path, 0);
		if (r == 0 || errno == ENOENT)
			(*removed)++; /* gone either way */
		else
			failed++;
	}
	return failed;
}
