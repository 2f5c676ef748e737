/*
 * workload.h - what a pop3-load run does: the global parameters (Mailstone's
 * CONFIG and DEFAULT attributes) and the weighted workload sections, read
 * from a workload file and overridden by the command line.  The format is
 * documented in pop3-load(1) and load/flow.workload.
 */
#ifndef LOAD_WORKLOAD_H
#define LOAD_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WL_MAX_SECTIONS 16
#define WL_TEXT_MAX 256
#define WL_ALL_LOOPS UINT64_MAX /* numLoops all: every message in the maildrop */

enum wl_kind { WL_FLOW, WL_POP3, WL_PIPELINE, WL_IDLE, WL_KINDS };

struct wl_section {
	enum wl_kind kind;
	uint64_t weight;
	uint64_t interval_ns;   /* FLOW: one flow per interval per client; 0: back to back */
	uint64_t idle_ns;       /* idleTime: pause after login */
	uint64_t loop_delay_ns; /* loopDelay: pause between loops */
	uint64_t block_ns;      /* blockTime: pause after the block, even after an error */
	uint64_t hold_ns;       /* IDLE: how long a session is held; 0: until the run ends */
	uint64_t noop_ns;       /* IDLE: NOOP this often while held; 0: never */
	uint64_t num_loops;     /* POP3/PIPELINE: RETR count, WL_ALL_LOOPS for all */
	uint64_t retr_msg;      /* FLOW: the message LIST must show and RETR fetches */
	bool leave_mail;        /* leaveMailOnServer: no DELE */
	bool auth_plain;        /* AUTH PLAIN with an initial response instead of USER/PASS */
	bool list_first;        /* POP3: LIST after STAT, so RETR sizes are checked against it */
};

struct workload {
	char title[WL_TEXT_MAX];
	char server[WL_TEXT_MAX];
	char port[32];
	uint64_t clients;
	uint64_t time_ns, ramp_ns, timeout_ns;
	uint64_t max_errors; /* 0: no limit */
	uint64_t max_blocks; /* 0: no limit */
	char login_fmt[WL_TEXT_MAX], passwd_fmt[WL_TEXT_MAX];
	uint64_t first_login, num_logins; /* num_logins 0: one per client */
	bool sequential;
	uint64_t seed;
	char source[WL_TEXT_MAX]; /* the file or built-in name, for the report */
	struct wl_section sec[WL_MAX_SECTIONS];
	size_t nsec;
};

extern const char *const wl_kind_names[WL_KINDS];

/* Defaults, and no sections yet. */
void wl_init(struct workload *w);

/* Add one section of a built-in kind ("flow", "pop3", "pipeline", "idle")
 * with its defaults; false if the name is not one. */
bool wl_builtin(struct workload *w, const char *name);

/* Read a workload file.  On failure err says where and why. */
bool wl_load_file(struct workload *w, const char *path, char *err, size_t errlen);

/* NAME=VALUE from the command line: a global attribute, or a section
 * attribute applied to every section. */
bool wl_override(struct workload *w, const char *assignment, char *err, size_t errlen);

/* Set one global attribute (the command line's short options use this). */
bool wl_set_global(struct workload *w, const char *name, const char *value, char *err, size_t errlen);

/* Final checks once everything is applied (formats, weights, ranges). */
bool wl_check(const struct workload *w, char *err, size_t errlen);

/* Every attribute and its effective value, one "name value" line each, in
 * the workload file format: the report keeps the exact run parameters. */
typedef void wl_emit_fn(void *ctx, const char *section, const char *name, const char *value);
void wl_describe(const struct workload *w, wl_emit_fn *emit, void *ctx);

#endif
