/*
 * html.c - the results as one self-contained HTML page: no script, no
 * external file, the graphs drawn as inline SVG, so the page opens in any
 * browser, offline, and can be mailed or archived as it is.
 */
#include "report.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static void esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': (void)fputs("&lt;", f); break;
		case '>': (void)fputs("&gt;", f); break;
		case '&': (void)fputs("&amp;", f); break;
		case '"': (void)fputs("&quot;", f); break;
		default: (void)fputc(*s, f); break;
		}
	}
}

struct series {
	const char *name;
	const char *color;
	const double *v; /* NAN: no point in that second */
	bool dashed;     /* a series that often equals another stays visible over it */
};

/* 1, 2 or 5 times a power of ten, at least x/5: about five grid lines. */
static double nice_step(double max)
{
	if (!(max > 0))
		return 1;
	double raw = max / 5, p = pow(10, floor(log10(raw)));
	double m = raw / p;
	return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

static void fmt_num(char *buf, size_t cap, double v)
{
	if (v >= 1e6)
		(void)snprintf(buf, cap, "%.3gM", v / 1e6);
	else if (v >= 1e4)
		(void)snprintf(buf, cap, "%.3gk", v / 1e3);
	else
		(void)snprintf(buf, cap, "%.4g", v);
}

enum { W = 760, H = 290, ML = 70, MR = 20, MT = 50, MB = 44 };

static void chart(FILE *f, const char *title, const char *ylabel, const struct series *s, size_t ns, size_t n)
{
	double ymax = 0;
	char num[32];
	bool any = false;

	for (size_t k = 0; k < ns; k++)
		for (size_t i = 0; i < n; i++)
			if (!isnan(s[k].v[i])) {
				any = true;
				if (s[k].v[i] > ymax)
					ymax = s[k].v[i];
			}
	double ystep = nice_step(ymax);
	double ytop = ymax > 0 ? ceil(ymax / ystep) * ystep : 1;
	double xmax = n > 0 ? (double)n : 1;
	double xstep = nice_step(xmax);
	double pw = W - ML - MR, ph = H - MT - MB;

	(void)fprintf(f, "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
			 "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"", W, H, W, H);
	esc(f, title);
	(void)fprintf(f, "\">\n<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", W, H);
	(void)fprintf(f, "<text x=\"%d\" y=\"22\" font-size=\"15\" font-weight=\"bold\">", ML);
	esc(f, title);
	(void)fprintf(f, "</text>\n");
	/* grid and y labels */
	for (double y = 0; y <= ytop + ystep / 2; y += ystep) {
		double py = MT + ph - y / ytop * ph;
		fmt_num(num, sizeof num, y);
		(void)fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#dddddd\"/>"
				 "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s</text>\n",
			      ML, py, ML + pw, py, ML - 6, py + 4, num);
	}
	for (double x = 0; x <= xmax + xstep / 2; x += xstep) {
		double px = ML + x / xmax * pw;
		fmt_num(num, sizeof num, x);
		(void)fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eeeeee\"/>"
				 "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%s</text>\n",
			      px, MT, px, MT + ph, px, MT + ph + 16, num);
	}
	(void)fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#888888\"/>\n",
		      ML, MT, pw, ph);
	(void)fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">seconds since the start</text>\n",
		      ML + pw / 2, H - 6);
	(void)fprintf(f, "<text x=\"16\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" "
			 "transform=\"rotate(-90 16 %.1f)\">", MT + ph / 2, MT + ph / 2);
	esc(f, ylabel);
	(void)fprintf(f, "</text>\n");
	/* the series: a point per second at its middle, broken where empty */
	for (size_t k = 0; k < ns; k++) {
		bool open = false;
		for (size_t i = 0; i < n; i++) {
			if (isnan(s[k].v[i])) {
				if (open)
					(void)fprintf(f, "\"/>\n");
				open = false;
				continue;
			}
			double px = ML + ((double)i + 0.5) / xmax * pw;
			double py = MT + ph - s[k].v[i] / ytop * ph;
			if (!open)
				(void)fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"",
					      s[k].color, s[k].dashed ? " stroke-dasharray=\"6 4\"" : "");
			(void)fprintf(f, "%.1f,%.1f ", px, py);
			open = true;
		}
		if (open)
			(void)fprintf(f, "\"/>\n");
		/* a lone point would not show as a line: mark every point */
		for (size_t i = 0; i < n && n <= 120; i++) {
			if (isnan(s[k].v[i]))
				continue;
			double px = ML + ((double)i + 0.5) / xmax * pw;
			double py = MT + ph - s[k].v[i] / ytop * ph;
			(void)fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n", px, py, s[k].color);
		}
	}
	/* the legend above the plot, right-aligned, where no line can hide
	 * it (about 7 px per character at 12 px) */
	double lw = 0;
	for (size_t k = 0; k < ns; k++)
		lw += 18 + 7.0 * (double)strlen(s[k].name) + 14;
	double lx = W - MR - lw;
	for (size_t k = 0; k < ns; k++) {
		(void)fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"12\" height=\"4\" fill=\"%s\"/>"
				 "<text x=\"%.1f\" y=\"%d\" font-size=\"12\">", lx, MT - 12, s[k].color, lx + 16, MT - 8);
		esc(f, s[k].name);
		(void)fprintf(f, "</text>\n");
		lx += 18 + 7.0 * (double)strlen(s[k].name) + 14;
	}
	if (!any)
		(void)fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" text-anchor=\"middle\">no data</text>\n",
			      ML + pw / 2, MT + ph / 2);
	(void)fprintf(f, "</svg></figure>\n");
}

static void emit_param(void *ctx, const char *section, const char *name, const char *value)
{
	FILE *f = ctx;

	(void)fprintf(f, "<tr><td>%s</td><td>", section);
	esc(f, name);
	(void)fprintf(f, "</td><td>");
	esc(f, value);
	(void)fprintf(f, "</td></tr>\n");
}

bool report_html(const struct report *rp, FILE *f)
{
	const struct workload *w = rp->w;
	const struct stats *s = rp->s;
	size_t n = s->nrows;
	double *v = calloc(n ? n * 8 : 1, sizeof *v);
	char when[64];
	struct tm tm;

	if (v == NULL)
		return false;
	if (gmtime_r(&rp->started, &tm) == NULL || strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		(void)snprintf(when, sizeof when, "%lld", (long long)rp->started);

	/* per-second rates: the last second may be partial, so each row is
	 * divided by the time it covers; a last stub under half a second
	 * (the drain after the end) is left out, its rate would be noise */
	if (n > 1 && rp->elapsed_s - (double)(n - 1) < 0.5)
		n--;
	double *done = v, *failed = v + n, *retr = v + 2 * n, *p50 = v + 3 * n, *p90 = v + 4 * n,
	       *p99 = v + 5 * n, *cmax = v + 6 * n, *cend = v + 7 * n;
	for (size_t i = 0; i < n; i++) {
		const struct second_row *r = &s->rows[i];
		double span = rp->elapsed_s - (double)i;
		span = span > 1 ? 1 : span > 0.5 ? span : 0.5;
		done[i] = (double)r->done / span;
		failed[i] = (double)r->failed / span;
		retr[i] = (double)r->retrieved / span;
		p50[i] = r->done ? r->p50_ms : NAN;
		p90[i] = r->done ? r->p90_ms : NAN;
		p99[i] = r->done ? r->p99_ms : NAN;
		cmax[i] = (double)r->conns_max;
		cend[i] = (double)r->conns_end;
	}

	(void)fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>pop3-load results");
	if (w->title[0]) {
		(void)fprintf(f, ": ");
		esc(f, w->title);
	}
	(void)fprintf(f, "</title>\n<style>\n"
			 "body{font-family:sans-serif;margin:24px;color:#222;background:#fff}\n"
			 "table{border-collapse:collapse;margin:8px 0 20px}\n"
			 "th,td{border:1px solid #ccc;padding:3px 8px}\n"
			 "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
			 "th{background:#f0f0f0}\nfigure{margin:8px 0 16px}\n"
			 ".bad{color:#b00000;font-weight:bold}\n</style>\n</head>\n<body>\n");
	(void)fprintf(f, "<h1>pop3-load results</h1>\n");
	if (w->title[0]) {
		(void)fprintf(f, "<h2>");
		esc(f, w->title);
		(void)fprintf(f, "</h2>\n");
	}
	(void)fprintf(f, "<p>Workload <b>");
	esc(f, w->source);
	(void)fprintf(f, "</b> against <b>");
	esc(f, w->server);
	(void)fprintf(f, "</b> port <b>");
	esc(f, w->port);
	(void)fprintf(f, "</b>, %llu clients, time %.1f s, ramp %.1f s; started %s, ran %.2f s%s.</p>\n",
		      (unsigned long long)w->clients, (double)w->time_ns / 1e9, (double)w->ramp_ns / 1e9, when,
		      rp->elapsed_s, rp->aborted ? " (aborted)" : "");
	uint64_t errors = report_errors(rp);
	(void)fprintf(f, "<table>\n<tr><th>sessions started</th><th>done</th><th>failed</th><th>aborted</th>"
			 "<th>done/s</th><th>done/s after the ramp</th><th>logins</th><th>retrieved</th>"
			 "<th>message octets</th><th>deleted</th></tr>\n");
	(void)fprintf(f, "<tr><td class=\"n\">%llu</td><td class=\"n\">%llu</td><td class=\"n%s\">%llu</td>"
			 "<td class=\"n\">%llu</td><td class=\"n\">%.1f</td><td class=\"n\">%.1f</td>"
			 "<td class=\"n\">%llu</td><td class=\"n\">%llu</td><td class=\"n\">%llu</td>"
			 "<td class=\"n\">%llu</td></tr>\n</table>\n",
		      (unsigned long long)s->started, (unsigned long long)s->done, s->failed ? " bad" : "",
		      (unsigned long long)s->failed, (unsigned long long)s->aborted, report_rate(rp, (double)s->done),
		      report_rate_after_ramp(rp), (unsigned long long)s->logins_ok, (unsigned long long)s->retrieved,
		      (unsigned long long)s->msg_octets, (unsigned long long)s->deleted);

	const struct series thr[] = { { "sessions done/s", "#1f77b4", done, false },
				      { "sessions failed/s", "#d62728", failed, false },
				      { "messages retrieved/s", "#2ca02c", retr, true } };
	const struct series lat[] = { { "p50", "#1f77b4", p50, false }, { "p90", "#ff7f0e", p90, false },
				      { "p99", "#d62728", p99, false } };
	const struct series con[] = { { "most open in the second", "#9467bd", cmax, false },
				      { "open at its end", "#2ca02c", cend, true } };
	(void)fprintf(f, "<h2>Graphs</h2>\n");
	chart(f, "Throughput", "per second", thr, 3, n);
	chart(f, "Session time percentiles (sessions ending in each second)", "milliseconds", lat, 3, n);
	chart(f, "Connections", "open connections", con, 2, n);

	(void)fprintf(f, "<h2>Timers</h2>\n<table>\n<tr><th>timer</th><th>tries</th><th>errors</th>"
			 "<th>bytes written</th><th>bytes read</th><th>avg ms</th><th>min ms</th><th>max ms</th>"
			 "<th>std ms</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th></tr>\n");
	for (int t = 0; t < TM_COUNT; t++) {
		const struct timer_stats *ts = &s->t[t];
		(void)fprintf(f, "<tr><td>%s</td><td class=\"n\">%llu</td><td class=\"n%s\">%llu</td>"
				 "<td class=\"n\">%llu</td><td class=\"n\">%llu</td>"
				 "<td class=\"n\">%.3f</td><td class=\"n\">%.3f</td><td class=\"n\">%.3f</td>"
				 "<td class=\"n\">%.3f</td><td class=\"n\">%.3f</td><td class=\"n\">%.3f</td>"
				 "<td class=\"n\">%.3f</td></tr>\n",
			      timer_names[t], (unsigned long long)ts->tries, ts->errors ? " bad" : "",
			      (unsigned long long)ts->errors, (unsigned long long)ts->bytes_out,
			      (unsigned long long)ts->bytes_in, ts->mean / 1e6, ts->n ? (double)ts->min_ns / 1e6 : 0.0,
			      (double)ts->max_ns / 1e6, stats_std_ns(ts) / 1e6,
			      (double)stats_percentile_ns(ts, 0.50) / 1e6, (double)stats_percentile_ns(ts, 0.90) / 1e6,
			      (double)stats_percentile_ns(ts, 0.99) / 1e6);
	}
	(void)fprintf(f, "</table>\n<h2>Rates per second (over %.2f s)</h2>\n<table>\n<tr><th>timer</th>"
			 "<th>tries/s</th><th>errors/s</th><th>bytes written/s</th><th>bytes read/s</th></tr>\n",
		      rp->elapsed_s);
	for (int t = 0; t < TM_COUNT; t++) {
		const struct timer_stats *ts = &s->t[t];
		(void)fprintf(f, "<tr><td>%s</td><td class=\"n\">%.2f</td><td class=\"n\">%.2f</td>"
				 "<td class=\"n\">%.1f</td><td class=\"n\">%.1f</td></tr>\n",
			      timer_names[t], report_rate(rp, (double)ts->tries), report_rate(rp, (double)ts->errors),
			      report_rate(rp, (double)ts->bytes_out), report_rate(rp, (double)ts->bytes_in));
	}
	(void)fprintf(f, "</table>\n<h2>Errors by kind</h2>\n");
	if (errors == 0) {
		(void)fprintf(f, "<p>None.</p>\n");
	} else {
		(void)fprintf(f, "<table>\n<tr><th>kind</th><th>count</th></tr>\n");
		for (int k = 0; k < EK_COUNT; k++)
			if (s->errors[k])
				(void)fprintf(f, "<tr><td>%s</td><td class=\"n bad\">%llu</td></tr>\n", err_names[k],
					      (unsigned long long)s->errors[k]);
		(void)fprintf(f, "</table>\n");
	}
	if (rp->ready_used) {
		(void)fprintf(f, "<p>--on-ready: ");
		if (!rp->ready_ran)
			(void)fprintf(f, "never ran (not every client got logged in and idle)");
		else if (WIFEXITED(rp->ready_status))
			(void)fprintf(f, "exit status %d", WEXITSTATUS(rp->ready_status));
		else
			(void)fprintf(f, "killed by signal %d", WTERMSIG(rp->ready_status));
		(void)fprintf(f, "</p>\n");
	}
	(void)fprintf(f, "<h2>Parameters</h2>\n<table>\n<tr><th>section</th><th>attribute</th><th>value</th></tr>\n");
	wl_describe(w, emit_param, f);
	(void)fprintf(f, "</table>\n");
	if (rp->argv_line != NULL) {
		(void)fprintf(f, "<p>Command line: <code>");
		esc(f, rp->argv_line);
		(void)fprintf(f, "</code></p>\n");
	}
	(void)fprintf(f, "</body>\n</html>\n");
	free(v);
	return !ferror(f);
}
