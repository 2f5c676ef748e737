/* report.c - the text and CSV reports, and writing the results directory. */
#include "report.h"
#include "util.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

double report_rate(const struct report *rp, double count)
{
	return rp->elapsed_s > 0 ? count / rp->elapsed_s : 0.0;
}

double report_rate_after_ramp(const struct report *rp)
{
	const struct stats *s = rp->s;
	double span = (double)(s->end_ns > s->ramp_end_ns ? s->end_ns - s->ramp_end_ns : 0) / 1e9;
	return span > 0 ? (double)s->done_after_ramp / span : 0.0;
}

uint64_t report_errors(const struct report *rp)
{
	uint64_t n = 0;

	for (int k = 0; k < EK_COUNT; k++)
		n += rp->s->errors[k];
	return n;
}

static double ms(double ns)
{
	return ns / 1e6;
}

static void fmt_time(char *buf, size_t cap, time_t t)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		(void)snprintf(buf, cap, "%lld", (long long)t);
}

static void sections_line(const struct workload *w, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < w->nsec && len < cap; i++) {
		int n = snprintf(buf + len, cap - len, "%s%s %llu", i ? ", " : "", wl_kind_names[w->sec[i].kind],
				 (unsigned long long)w->sec[i].weight);
		if (n < 0)
			break;
		len += (size_t)n;
	}
}

bool report_text(const struct report *rp, FILE *f)
{
	const struct workload *w = rp->w;
	const struct stats *s = rp->s;
	char when[64], secs[512];

	fmt_time(when, sizeof when, rp->started);
	sections_line(w, secs, sizeof secs);
	(void)fprintf(f, "pop3-load results%s%s\n", w->title[0] ? ": " : "", w->title);
	(void)fprintf(f, "workload %s (weights: %s)\n", w->source, secs);
	(void)fprintf(f, "server %s port %s; %llu clients; time %.1f s, ramp %.1f s; started %s; ran %.2f s%s\n",
		      w->server, w->port, (unsigned long long)w->clients, (double)w->time_ns / 1e9,
		      (double)w->ramp_ns / 1e9, when, rp->elapsed_s, rp->aborted ? " (aborted)" : "");
	(void)fprintf(f, "\nsessions: %llu started, %llu done, %llu failed, %llu aborted; "
		      "%.1f done/s (%.1f/s after the ramp)\n",
		      (unsigned long long)s->started, (unsigned long long)s->done, (unsigned long long)s->failed,
		      (unsigned long long)s->aborted, report_rate(rp, (double)s->done), report_rate_after_ramp(rp));
	(void)fprintf(f, "logins %llu; messages retrieved %llu (%llu octets), deleted %llu; connections %llu\n",
		      (unsigned long long)s->logins_ok, (unsigned long long)s->retrieved,
		      (unsigned long long)s->msg_octets, (unsigned long long)s->deleted,
		      (unsigned long long)s->conns_total);
	if (rp->ready_used) {
		if (!rp->ready_ran)
			(void)fprintf(f, "--on-ready: never ran (not every client got logged in and idle)\n");
		else if (WIFEXITED(rp->ready_status))
			(void)fprintf(f, "--on-ready: exit status %d\n", WEXITSTATUS(rp->ready_status));
		else
			(void)fprintf(f, "--on-ready: killed by signal %d\n", WTERMSIG(rp->ready_status));
	}
	(void)fprintf(f, "\n%-9s %9s %7s %12s %14s %9s %9s %9s %9s %9s %9s %9s\n", "timer", "tries", "errors",
		      "bytes_out", "bytes_in", "avg_ms", "min_ms", "max_ms", "std_ms", "p50_ms", "p90_ms", "p99_ms");
	for (int t = 0; t < TM_COUNT; t++) {
		const struct timer_stats *ts = &s->t[t];
		(void)fprintf(f, "%-9s %9llu %7llu %12llu %14llu %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f\n",
			      timer_names[t], (unsigned long long)ts->tries, (unsigned long long)ts->errors,
			      (unsigned long long)ts->bytes_out, (unsigned long long)ts->bytes_in, ms(ts->mean),
			      ts->n ? ms((double)ts->min_ns) : 0.0, ms((double)ts->max_ns), ms(stats_std_ns(ts)),
			      ms((double)stats_percentile_ns(ts, 0.50)), ms((double)stats_percentile_ns(ts, 0.90)),
			      ms((double)stats_percentile_ns(ts, 0.99)));
	}
	(void)fprintf(f, "\nrates per second (over %.2f s)\n%-9s %11s %10s %14s %16s\n", rp->elapsed_s, "timer",
		      "tries/s", "errors/s", "bytes_out/s", "bytes_in/s");
	for (int t = 0; t < TM_COUNT; t++) {
		const struct timer_stats *ts = &s->t[t];
		(void)fprintf(f, "%-9s %11.2f %10.2f %14.1f %16.1f\n", timer_names[t], report_rate(rp, (double)ts->tries),
			      report_rate(rp, (double)ts->errors), report_rate(rp, (double)ts->bytes_out),
			      report_rate(rp, (double)ts->bytes_in));
	}
	(void)fprintf(f, "\nerrors by kind:");
	if (report_errors(rp) == 0)
		(void)fprintf(f, " none");
	for (int k = 0; k < EK_COUNT; k++)
		if (s->errors[k])
			(void)fprintf(f, " %s %llu", err_names[k], (unsigned long long)s->errors[k]);
	(void)fprintf(f, "\n");
	return !ferror(f);
}

bool report_csv_totals(const struct report *rp, FILE *f)
{
	const struct stats *s = rp->s;

	(void)fprintf(f, "timer,tries,errors,bytes_out,bytes_in,avg_ms,min_ms,max_ms,std_ms,p50_ms,p90_ms,p99_ms,"
			 "tries_per_s,errors_per_s,bytes_out_per_s,bytes_in_per_s\r\n");
	for (int t = 0; t < TM_COUNT; t++) {
		const struct timer_stats *ts = &s->t[t];
		(void)fprintf(f, "%s,%llu,%llu,%llu,%llu,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.3f,%.3f,%.1f,%.1f\r\n",
			      timer_names[t], (unsigned long long)ts->tries, (unsigned long long)ts->errors,
			      (unsigned long long)ts->bytes_out, (unsigned long long)ts->bytes_in, ms(ts->mean),
			      ts->n ? ms((double)ts->min_ns) : 0.0, ms((double)ts->max_ns), ms(stats_std_ns(ts)),
			      ms((double)stats_percentile_ns(ts, 0.50)), ms((double)stats_percentile_ns(ts, 0.90)),
			      ms((double)stats_percentile_ns(ts, 0.99)), report_rate(rp, (double)ts->tries),
			      report_rate(rp, (double)ts->errors), report_rate(rp, (double)ts->bytes_out),
			      report_rate(rp, (double)ts->bytes_in));
	}
	return !ferror(f);
}

bool report_csv_summary(const struct report *rp, FILE *f)
{
	const struct stats *s = rp->s;

	(void)fprintf(f, "name,value\r\n");
	(void)fprintf(f, "clients,%llu\r\n", (unsigned long long)rp->w->clients);
	(void)fprintf(f, "elapsed_s,%.3f\r\n", rp->elapsed_s);
	(void)fprintf(f, "sessions_started,%llu\r\n", (unsigned long long)s->started);
	(void)fprintf(f, "sessions_done,%llu\r\n", (unsigned long long)s->done);
	(void)fprintf(f, "sessions_failed,%llu\r\n", (unsigned long long)s->failed);
	(void)fprintf(f, "sessions_aborted,%llu\r\n", (unsigned long long)s->aborted);
	(void)fprintf(f, "done_per_s,%.3f\r\n", report_rate(rp, (double)s->done));
	(void)fprintf(f, "done_per_s_after_ramp,%.3f\r\n", report_rate_after_ramp(rp));
	(void)fprintf(f, "connections,%llu\r\n", (unsigned long long)s->conns_total);
	(void)fprintf(f, "logins_ok,%llu\r\n", (unsigned long long)s->logins_ok);
	(void)fprintf(f, "messages_retrieved,%llu\r\n", (unsigned long long)s->retrieved);
	(void)fprintf(f, "message_octets,%llu\r\n", (unsigned long long)s->msg_octets);
	(void)fprintf(f, "messages_deleted,%llu\r\n", (unsigned long long)s->deleted);
	(void)fprintf(f, "octets_read,%llu\r\n", (unsigned long long)s->t[TM_TOTAL].bytes_in);
	(void)fprintf(f, "octets_written,%llu\r\n", (unsigned long long)s->t[TM_TOTAL].bytes_out);
	(void)fprintf(f, "errors,%llu\r\n", (unsigned long long)report_errors(rp));
	for (int k = 0; k < EK_COUNT; k++)
		(void)fprintf(f, "errors_%s,%llu\r\n", err_names[k], (unsigned long long)s->errors[k]);
	if (rp->ready_used)
		(void)fprintf(f, "on_ready_status,%d\r\n",
			      !rp->ready_ran ? -1 : WIFEXITED(rp->ready_status) ? WEXITSTATUS(rp->ready_status) : 128 + WTERMSIG(rp->ready_status));
	return !ferror(f);
}

/* A percentile cell: empty when no session ended in that second. */
static void pct(FILE *f, const struct second_row *r, double v)
{
	if (r->done > 0)
		(void)fprintf(f, ",%.3f", v);
	else
		(void)fprintf(f, ",");
}

bool report_csv_time(const struct report *rp, FILE *f)
{
	const struct stats *s = rp->s;

	(void)fprintf(f, "second,started,done,failed,bytes_in,bytes_out,retrieved,conns_end,conns_max,"
			 "p50_ms,p90_ms,p99_ms\r\n");
	for (size_t i = 0; i < s->nrows; i++) {
		const struct second_row *r = &s->rows[i];
		(void)fprintf(f, "%zu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu", i, (unsigned long long)r->started,
			      (unsigned long long)r->done, (unsigned long long)r->failed,
			      (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out,
			      (unsigned long long)r->retrieved, (unsigned long long)r->conns_end,
			      (unsigned long long)r->conns_max);
		pct(f, r, r->p50_ms);
		pct(f, r, r->p90_ms);
		pct(f, r, r->p99_ms);
		(void)fprintf(f, "\r\n");
	}
	return !ferror(f);
}

typedef bool writer_fn(const struct report *, FILE *);

static bool write_one(const struct report *rp, const char *dir, const char *name, writer_fn *fn, char *err,
		      size_t errlen)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
		(void)snprintf(err, errlen, "%s: path too long", dir);
		return false;
	}
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	bool ok = fn(rp, f);
	int saved = errno;
	if (fclose(f) != 0 || !ok) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(ok ? errno : saved));
		return false;
	}
	return true;
}

bool report_write_dir(const struct report *rp, const char *dir, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		writer_fn *fn;
	} files[] = {
		{ "results.txt", report_text },     { "totals.csv", report_csv_totals },
		{ "summary.csv", report_csv_summary }, { "time.csv", report_csv_time },
		{ "results.html", report_html },
	};

	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		(void)snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return false;
	}
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		if (!write_one(rp, dir, files[i].name, files[i].fn, err, errlen))
			return false;
	return true;
}
