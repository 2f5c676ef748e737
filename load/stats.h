/*
 * stats.h - Mailstone's timers and pop3-load's counters: per timer the
 * tries, errors, octets read and written, and the time of each successful
 * try (mean, min, max, standard deviation, percentiles); errors by kind;
 * and a per-second time series for the CSV and the graphs.
 *
 * Percentiles over the whole run come from a log-linear histogram (128
 * steps per power of two: within 0.8 % of the true value, fixed memory
 * whatever the run's length); the per-second ones are exact (that
 * second's samples are kept, sorted and dropped when it ends).
 */
#ifndef LOAD_STATS_H
#define LOAD_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum timer_id { TM_CONNECT, TM_BANNER, TM_LOGIN, TM_COMMAND, TM_RETRIEVE, TM_LOGOUT, TM_IDLE, TM_TOTAL, TM_COUNT };

/* Why a session failed.  Each failed session has exactly one kind. */
enum err_kind {
	EK_CONNECT,   /* the TCP connection could not be made */
	EK_TIMEOUT,   /* no progress for `timeout` */
	EK_CLOSED,    /* the server closed before a status line was complete */
	EK_TRUNCATED, /* the server closed inside a multi-line reply: no terminator */
	EK_RESET,     /* read or write failed (reset, broken pipe) */
	EK_LOGIN,     /* -ERR to USER, PASS or AUTH */
	EK_NEGATIVE,  /* -ERR to any other command, or to the greeting */
	EK_PROTOCOL,  /* a malformed reply: not +OK/-ERR, bare LF, unstuffed '.', data after QUIT */
	EK_SIZE,      /* octets received differ from LIST or RETR's "+OK n octets", or from STAT */
	EK_COUNT
};

extern const char *const timer_names[TM_COUNT];
extern const char *const err_names[EK_COUNT];

#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct timer_stats {
	uint64_t tries, errors, bytes_in, bytes_out;
	uint64_t n;            /* timed (successful) tries */
	double mean, m2;       /* Welford's running mean and squared deviations, in ns */
	uint64_t min_ns, max_ns;
	uint32_t *hist;        /* HIST_BUCKETS counts, in microseconds */
};

/* One second of the run. */
struct second_row {
	uint64_t started, done, failed;
	uint64_t bytes_in, bytes_out, retrieved;
	uint64_t conns_end, conns_max; /* open connections at the end of the second, and the most */
	double p50_ms, p90_ms, p99_ms; /* sessions (total timer) that ended in this second */
};

struct stats {
	struct timer_stats t[TM_COUNT];
	uint64_t errors[EK_COUNT];
	uint64_t started, done, failed, aborted;
	uint64_t done_after_ramp;
	uint64_t logins_ok, retrieved, deleted, msg_octets;
	uint64_t conns, conns_total;
	uint64_t t0_ns, ramp_end_ns, end_ns;
	struct second_row *rows;
	size_t nrows, caprows;
	size_t cur;              /* the row being filled */
	uint32_t *samples;       /* this second's session times, in microseconds */
	size_t nsamples, capsamples;
};

bool stats_init(struct stats *s, uint64_t t0_ns, uint64_t ramp_ns);
void stats_free(struct stats *s);

/* Move the time series forward to `now` (closes finished seconds). */
bool stats_advance(struct stats *s, uint64_t now);

void stats_try(struct stats *s, enum timer_id t);
void stats_time(struct stats *s, enum timer_id t, uint64_t ns);
void stats_bytes(struct stats *s, enum timer_id t, uint64_t in, uint64_t out);
void stats_error(struct stats *s, enum timer_id t, enum err_kind k);
void stats_conn(struct stats *s, int delta);
void stats_session_start(struct stats *s);
bool stats_session_done(struct stats *s, uint64_t now, uint64_t duration_ns);
void stats_session_failed(struct stats *s);
void stats_retrieved(struct stats *s, uint64_t octets);

/* Close the last second and fix the end time. */
bool stats_finish(struct stats *s, uint64_t now);

double stats_std_ns(const struct timer_stats *t);
/* q in (0,1]: the value below which a fraction q of the timed tries lie. */
uint64_t stats_percentile_ns(const struct timer_stats *t, double q);

#endif
