/*
 * workload.c - the workload file and the command line's NAME=VALUE
 * overrides.  The file format follows Mailstone's: sections in tags
 * (<CONFIG>, <DEFAULT>, and one per workload: <FLOW>, <POP3>, <PIPELINE>,
 * <IDLE>), one "attribute value" per line, '#' comments, '\' continues a
 * line.  Unlike Mailstone an unknown attribute is an error: a typo in a
 * load test silently measures something else.
 */
#include "workload.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const wl_kind_names[WL_KINDS] = { "FLOW", "POP3", "PIPELINE", "IDLE" };

enum vtype { V_TEXT, V_U64, V_DURATION, V_BOOL, V_LOOPS, V_SERVER };

struct attr {
	const char *name;
	enum vtype type;
	size_t off;  /* in struct workload (global) or struct wl_section */
	size_t size; /* V_TEXT: the buffer's size */
};

#define G(n, t, f) { n, t, offsetof(struct workload, f), sizeof(((struct workload *)0)->f) }
#define S(n, t, f) { n, t, offsetof(struct wl_section, f), sizeof(((struct wl_section *)0)->f) }

/* Mailstone's names where Mailstone has the attribute; case does not
 * matter (Mailstone's own files write both numLogins and numlogins). */
static const struct attr global_attrs[] = {
	G("title", V_TEXT, title),
	G("server", V_SERVER, server),
	G("portNum", V_TEXT, port),
	G("clientCount", V_U64, clients),
	G("time", V_DURATION, time_ns),
	G("rampTime", V_DURATION, ramp_ns),
	G("timeout", V_DURATION, timeout_ns),
	G("maxErrors", V_U64, max_errors),
	G("maxBlocks", V_U64, max_blocks),
	G("loginFormat", V_TEXT, login_fmt),
	G("passwdFormat", V_TEXT, passwd_fmt),
	G("firstLogin", V_U64, first_login),
	G("numLogins", V_U64, num_logins),
	G("sequentialLogins", V_BOOL, sequential),
	G("seed", V_U64, seed),
};

static const struct attr section_attrs[] = {
	S("weight", V_U64, weight),
	S("interval", V_DURATION, interval_ns),
	S("idleTime", V_DURATION, idle_ns),
	S("loopDelay", V_DURATION, loop_delay_ns),
	S("blockTime", V_DURATION, block_ns),
	S("holdTime", V_DURATION, hold_ns),
	S("noopInterval", V_DURATION, noop_ns),
	S("numLoops", V_LOOPS, num_loops),
	S("retrMsg", V_U64, retr_msg),
	S("leaveMailOnServer", V_BOOL, leave_mail),
	S("authPlain", V_BOOL, auth_plain),
	S("listFirst", V_BOOL, list_first),
};

#define NGLOBAL (sizeof global_attrs / sizeof global_attrs[0])
#define NSECTION (sizeof section_attrs / sizeof section_attrs[0])

void wl_init(struct workload *w)
{
	memset(w, 0, sizeof *w);
	(void)snprintf(w->server, sizeof w->server, "127.0.0.1");
	(void)snprintf(w->port, sizeof w->port, "110");
	(void)snprintf(w->login_fmt, sizeof w->login_fmt, "test%%d");
	(void)snprintf(w->passwd_fmt, sizeof w->passwd_fmt, "test%%d");
	w->clients = 1;
	w->time_ns = 10 * NS_PER_S;
	w->timeout_ns = 30 * NS_PER_S;
	w->first_login = 1;
	w->seed = 1;
}

static void section_defaults(struct wl_section *s, enum wl_kind kind)
{
	memset(s, 0, sizeof *s);
	s->kind = kind;
	s->weight = 100;
	s->retr_msg = 1;
	/* the flow repeats once per second in its default configuration;
	 * Mailstone's numLoops defaults to 1; a pipeline fetches everything */
	s->interval_ns = kind == WL_FLOW ? NS_PER_S : 0;
	s->num_loops = kind == WL_PIPELINE ? WL_ALL_LOOPS : 1;
}

static int kind_of(const char *name)
{
	for (int k = 0; k < WL_KINDS; k++)
		if (name_eq(name, wl_kind_names[k]))
			return k;
	return -1;
}

bool wl_builtin(struct workload *w, const char *name)
{
	int k = kind_of(name);

	if (k < 0 || w->nsec >= WL_MAX_SECTIONS)
		return false;
	section_defaults(&w->sec[w->nsec++], (enum wl_kind)k);
	return true;
}

static const struct attr *find(const struct attr *tab, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (name_eq(tab[i].name, name))
			return &tab[i];
	return NULL;
}

/* Store value into the field described by a (base is the struct). */
static bool apply(const struct attr *a, void *base, const char *value, char *err, size_t errlen)
{
	char *field = (char *)base + a->off;
	uint64_t v;
	bool b;

	switch (a->type) {
	case V_SERVER:
		/* "[::1]" is accepted as well as "::1": the port is portNum */
		if (value[0] == '[') {
			size_t len = strlen(value);
			if (len < 3 || value[len - 1] != ']' || len - 2 >= a->size) {
				errf(err, errlen, "%s: bad address '%s'", a->name, value);
				return false;
			}
			memcpy(field, value + 1, len - 2);
			field[len - 2] = '\0';
			return true;
		}
		/* fall through */
	case V_TEXT:
		if (strlen(value) >= a->size || value[0] == '\0') {
			errf(err, errlen, "%s: value empty or longer than %zu octets", a->name, a->size - 1);
			return false;
		}
		memcpy(field, value, strlen(value) + 1);
		return true;
	case V_U64:
		if (!parse_u64(value, &v)) {
			errf(err, errlen, "%s: '%s' is not a number", a->name, value);
			return false;
		}
		memcpy(field, &v, sizeof v);
		return true;
	case V_LOOPS:
		if (name_eq(value, "all")) {
			v = WL_ALL_LOOPS;
		} else if (!parse_u64(value, &v) || v == WL_ALL_LOOPS) {
			errf(err, errlen, "%s: '%s' is neither a number nor 'all'", a->name, value);
			return false;
		}
		memcpy(field, &v, sizeof v);
		return true;
	case V_DURATION:
		if (!parse_duration(value, &v)) {
			errf(err, errlen, "%s: '%s' is not a duration (e.g. 500ms, 10s, 2m)", a->name, value);
			return false;
		}
		memcpy(field, &v, sizeof v);
		return true;
	case V_BOOL:
		if (!parse_bool(value, &b)) {
			errf(err, errlen, "%s: '%s' is not 1/0, yes/no, on/off or true/false", a->name, value);
			return false;
		}
		memcpy(field, &b, sizeof b);
		return true;
	}
	return false;
}

bool wl_set_global(struct workload *w, const char *name, const char *value, char *err, size_t errlen)
{
	const struct attr *a = find(global_attrs, NGLOBAL, name);

	if (a == NULL) {
		errf(err, errlen, "unknown attribute '%s'", name);
		return false;
	}
	return apply(a, w, value, err, errlen);
}

/* ---- the file ---- */

enum { IN_NONE = -3, IN_CONFIG = -2, IN_DEFAULT = -1 }; /* else a section index */

struct entry {
	int where; /* IN_CONFIG, IN_DEFAULT or a section index */
	unsigned line;
	char *name, *value;
};

struct entries {
	struct entry *v;
	size_t n, cap;
};

static void entries_free(struct entries *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i].name); /* value points into the same allocation */
	free(e->v);
}

static bool entries_add(struct entries *e, int where, unsigned line, const char *name, size_t nlen,
			const char *value)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 32;
		struct entry *v = realloc(e->v, cap * sizeof *v);
		if (v == NULL)
			return false;
		e->v = v;
		e->cap = cap;
	}
	size_t vlen = strlen(value);
	char *mem = malloc(nlen + 1 + vlen + 1);
	if (mem == NULL)
		return false;
	memcpy(mem, name, nlen);
	mem[nlen] = '\0';
	memcpy(mem + nlen + 1, value, vlen + 1);
	e->v[e->n++] = (struct entry){ where, line, mem, mem + nlen + 1 };
	return true;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
		s[--len] = '\0';
	return s;
}

/* Parse a tag line "<NAME>" or "</NAME>": 1 open, 2 close, 0 not a tag. */
static int tag(char *s, char **name)
{
	size_t len = strlen(s);

	if (len < 3 || s[0] != '<' || s[len - 1] != '>')
		return 0;
	s[len - 1] = '\0';
	if (s[1] == '/') {
		*name = trim(s + 2);
		return 2;
	}
	*name = trim(s + 1);
	return 1;
}

#define LINE_MAX_LEN 4096

static bool parse_file(FILE *f, const char *path, struct workload *w, struct entries *e, char *err,
		       size_t errlen)
{
	char buf[LINE_MAX_LEN], logical[LINE_MAX_LEN];
	unsigned lineno = 0, start = 0;
	size_t llen = 0;
	int where = IN_NONE;
	char open_name[32] = "";

	while (fgets(buf, sizeof buf, f) != NULL) {
		lineno++;
		size_t blen = strlen(buf);
		if (blen > 0 && buf[blen - 1] == '\n')
			buf[--blen] = '\0';
		else if (!feof(f)) {
			errf(err, errlen, "%s:%u: line longer than %d octets", path, lineno, LINE_MAX_LEN - 2);
			return false;
		}
		char *hash = strchr(buf, '#');
		if (hash != NULL)
			*hash = '\0';
		/* trailing blanks go; leading ones too unless this continues a line */
		size_t tl = strlen(buf);
		while (tl > 0 && (buf[tl - 1] == ' ' || buf[tl - 1] == '\t' || buf[tl - 1] == '\r'))
			buf[--tl] = '\0';
		bool cont = tl > 0 && buf[tl - 1] == '\\';
		if (cont)
			buf[--tl] = '\0';
		const char *piece = llen == 0 ? trim(buf) : buf;
		if (llen == 0)
			start = lineno;
		size_t pl = strlen(piece);
		if (llen + pl >= sizeof logical) {
			errf(err, errlen, "%s:%u: continued line too long", path, lineno);
			return false;
		}
		memcpy(logical + llen, piece, pl + 1);
		llen += pl;
		if (cont)
			continue;
		llen = 0;
		char *line = trim(logical);
		if (*line == '\0')
			continue;

		char *name;
		int t = tag(line, &name);
		if (t == 1) {
			if (where != IN_NONE) {
				errf(err, errlen, "%s:%u: <%s> inside <%s>", path, start, name, open_name);
				return false;
			}
			if (name_eq(name, "CONFIG")) {
				where = IN_CONFIG;
			} else if (name_eq(name, "DEFAULT")) {
				where = IN_DEFAULT;
			} else {
				int k = kind_of(name);
				if (k < 0) {
					errf(err, errlen,
					     "%s:%u: unknown section <%s> (CONFIG, DEFAULT, FLOW, POP3, PIPELINE, IDLE)",
					     path, start, name);
					return false;
				}
				if (w->nsec >= WL_MAX_SECTIONS) {
					errf(err, errlen, "%s:%u: more than %d workload sections", path, start,
					     WL_MAX_SECTIONS);
					return false;
				}
				section_defaults(&w->sec[w->nsec], (enum wl_kind)k);
				where = (int)w->nsec++;
			}
			(void)snprintf(open_name, sizeof open_name, "%.31s", name);
			continue;
		}
		if (t == 2) {
			if (where == IN_NONE || !name_eq(name, open_name)) {
				errf(err, errlen, "%s:%u: </%s> does not close an open section", path, start, name);
				return false;
			}
			where = IN_NONE;
			continue;
		}
		if (where == IN_NONE) {
			errf(err, errlen, "%s:%u: attribute outside a section", path, start);
			return false;
		}
		size_t nlen = strcspn(line, " \t");
		char *value = trim(line + nlen);
		if (*value == '\0') {
			errf(err, errlen, "%s:%u: '%.*s' has no value", path, start, (int)nlen, line);
			return false;
		}
		if (!entries_add(e, where, start, line, nlen, value)) {
			errf(err, errlen, "out of memory");
			return false;
		}
	}
	if (ferror(f)) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	if (where != IN_NONE) {
		errf(err, errlen, "%s: <%s> is never closed", path, open_name);
		return false;
	}
	return true;
}

/* Apply one file entry to the section it belongs to (sec) or globally. */
static bool apply_entry(struct workload *w, const struct entry *en, struct wl_section *sec, const char *path,
			char *err, size_t errlen)
{
	char why[256];
	const struct attr *a = find(global_attrs, NGLOBAL, en->name);

	/* global attributes count wherever they are written: Mailstone's
	 * files put server and loginFormat in protocol sections too */
	if (a != NULL) {
		if (!apply(a, w, en->value, why, sizeof why))
			goto bad;
		return true;
	}
	a = find(section_attrs, NSECTION, en->name);
	if (a == NULL) {
		errf(err, errlen, "%s:%u: unknown attribute '%s'", path, en->line, en->name);
		return false;
	}
	if (en->where == IN_CONFIG) {
		errf(err, errlen, "%s:%u: '%s' belongs in a workload section or <DEFAULT>", path, en->line,
		     en->name);
		return false;
	}
	if (sec == NULL)
		return true; /* a DEFAULT entry, applied per section below */
	if (apply(a, sec, en->value, why, sizeof why))
		return true;
bad:
	errf(err, errlen, "%s:%u: %s", path, en->line, why);
	return false;
}

bool wl_load_file(struct workload *w, const char *path, char *err, size_t errlen)
{
	struct entries e = { 0 };
	size_t first = w->nsec;
	bool ok = false;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	if (!parse_file(f, path, w, &e, err, errlen))
		goto out;
	if (w->nsec == first) {
		errf(err, errlen, "%s: no workload section (FLOW, POP3, PIPELINE or IDLE)", path);
		goto out;
	}
	/* globals in file order; then per section: DEFAULT first, its own after */
	for (size_t i = 0; i < e.n; i++)
		if (e.v[i].where < 0 && !apply_entry(w, &e.v[i], NULL, path, err, errlen))
			goto out;
	for (size_t s = first; s < w->nsec; s++) {
		for (size_t i = 0; i < e.n; i++)
			if (e.v[i].where == IN_DEFAULT && find(global_attrs, NGLOBAL, e.v[i].name) == NULL &&
			    !apply_entry(w, &e.v[i], &w->sec[s], path, err, errlen))
				goto out;
		for (size_t i = 0; i < e.n; i++)
			if (e.v[i].where == (int)s && !apply_entry(w, &e.v[i], &w->sec[s], path, err, errlen))
				goto out;
	}
	(void)snprintf(w->source, sizeof w->source, "%s", path);
	ok = true;
out:
	entries_free(&e);
	if (fclose(f) != 0 && ok) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		ok = false;
	}
	return ok;
}

bool wl_override(struct workload *w, const char *assignment, char *err, size_t errlen)
{
	const char *eq = strchr(assignment, '=');
	char name[64], why[256];

	if (eq == NULL || eq == assignment || (size_t)(eq - assignment) >= sizeof name) {
		errf(err, errlen, "'%s' is not NAME=VALUE", assignment);
		return false;
	}
	memcpy(name, assignment, (size_t)(eq - assignment));
	name[eq - assignment] = '\0';
	const struct attr *a = find(global_attrs, NGLOBAL, name);
	if (a != NULL) {
		if (apply(a, w, eq + 1, why, sizeof why))
			return true;
		errf(err, errlen, "%s", why);
		return false;
	}
	a = find(section_attrs, NSECTION, name);
	if (a == NULL) {
		errf(err, errlen, "unknown attribute '%s'", name);
		return false;
	}
	for (size_t s = 0; s < w->nsec; s++) {
		if (!apply(a, &w->sec[s], eq + 1, why, sizeof why)) {
			errf(err, errlen, "%s", why);
			return false;
		}
	}
	return true;
}

bool wl_check(const struct workload *w, char *err, size_t errlen)
{
	uint64_t total_weight = 0;

	if (w->nsec == 0) {
		errf(err, errlen, "no workload");
		return false;
	}
	if (w->clients == 0) {
		errf(err, errlen, "clientCount must be at least 1");
		return false;
	}
	if (w->time_ns == 0 && w->max_blocks == 0) {
		errf(err, errlen, "time is 0 and maxBlocks is not set: the run would never start a session");
		return false;
	}
	if (w->ramp_ns > w->time_ns && w->time_ns > 0) {
		errf(err, errlen, "rampTime is longer than time");
		return false;
	}
	if (w->timeout_ns == 0) {
		errf(err, errlen, "timeout must be positive");
		return false;
	}
	if (!format_valid(w->login_fmt) || !format_valid(w->passwd_fmt)) {
		errf(err, errlen, "loginFormat and passwdFormat may hold one %%d (or %%ld) and %%%% only");
		return false;
	}
	for (size_t s = 0; s < w->nsec; s++) {
		const struct wl_section *sec = &w->sec[s];
		if (total_weight > UINT64_MAX - sec->weight) {
			errf(err, errlen, "weights too large");
			return false;
		}
		total_weight += sec->weight;
		if (sec->retr_msg == 0) {
			errf(err, errlen, "retrMsg must be at least 1");
			return false;
		}
	}
	if (total_weight == 0) {
		errf(err, errlen, "every section has weight 0");
		return false;
	}
	return true;
}

static void fmt_duration(char *buf, size_t cap, uint64_t ns)
{
	if (ns % NS_PER_S == 0)
		(void)snprintf(buf, cap, "%llus", (unsigned long long)(ns / NS_PER_S));
	else if (ns % NS_PER_MS == 0)
		(void)snprintf(buf, cap, "%llums", (unsigned long long)(ns / NS_PER_MS));
	else
		(void)snprintf(buf, cap, "%.6fs", (double)ns / 1e9);
}

static void describe(const struct attr *a, const void *base, const char *section, wl_emit_fn *emit, void *ctx)
{
	const char *field = (const char *)base + a->off;
	char buf[WL_TEXT_MAX + 8];
	uint64_t v;
	bool b;

	switch (a->type) {
	case V_TEXT:
	case V_SERVER:
		emit(ctx, section, a->name, field);
		return;
	case V_U64:
		memcpy(&v, field, sizeof v);
		(void)snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
		break;
	case V_LOOPS:
		memcpy(&v, field, sizeof v);
		if (v == WL_ALL_LOOPS)
			(void)snprintf(buf, sizeof buf, "all");
		else
			(void)snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
		break;
	case V_DURATION:
		memcpy(&v, field, sizeof v);
		fmt_duration(buf, sizeof buf, v);
		break;
	case V_BOOL:
		memcpy(&b, field, sizeof b);
		(void)snprintf(buf, sizeof buf, "%d", b ? 1 : 0);
		break;
	}
	emit(ctx, section, a->name, buf);
}

void wl_describe(const struct workload *w, wl_emit_fn *emit, void *ctx)
{
	for (size_t i = 0; i < NGLOBAL; i++)
		describe(&global_attrs[i], w, "CONFIG", emit, ctx);
	for (size_t s = 0; s < w->nsec; s++)
		for (size_t i = 0; i < NSECTION; i++)
			describe(&section_attrs[i], &w->sec[s], wl_kind_names[w->sec[s].kind], emit, ctx);
}
