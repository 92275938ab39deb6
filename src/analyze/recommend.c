/*
 * recommend.c - findings into words and into JSON / Markdown (see
 * recommend.h).  Every number in a text comes from the finding; the
 * formulas behind them are in docs/DETECTORS.md.
 */
#include "analyze/recommend.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/json_write.h"

#define TEXT_MAX 2048

void recommend_fmt_duration(char *out, size_t cap, double ns)
{
	if (!(ns >= 0))
		ns = 0;
	if (ns >= 60e9)
		snprintf(out, cap, "%.1f min", ns / 60e9);
	else if (ns >= 10e9)
		snprintf(out, cap, "%.0f s", ns / 1e9);
	else if (ns >= 1e9)
		snprintf(out, cap, "%.1f s", ns / 1e9);
	else if (ns >= 10e6)
		snprintf(out, cap, "%.0f ms", ns / 1e6);
	else if (ns >= 1e6)
		snprintf(out, cap, "%.1f ms", ns / 1e6);
	else
		snprintf(out, cap, "%.0f µs", ns / 1e3);
}

void recommend_fmt_bytes(char *out, size_t cap, double bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;
	while (fabs(bytes) >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(out, cap, u && fabs(bytes) < 10 ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

void recommend_fmt_window(char *out, size_t cap, double s)
{
	if (!(s >= 0))
		s = 0;
	if (s >= 3600)
		snprintf(out, cap, "%.1f h", s / 3600);
	else if (s >= 600)
		snprintf(out, cap, "%.0f min", s / 60);
	else if (s >= 60)
		snprintf(out, cap, "%.1f min", s / 60);
	else
		snprintf(out, cap, "%.0f s", s);
}

/* "<n> <what> an hour", or over a window too short to speak of an hour, the
 * count itself: "<n> <what> in 4.0 min". */
static void hourly(char *out, size_t cap, double per_hour, double window_s, const char *what)
{
	char w[32];
	if (window_s >= RECOMMEND_RATE_MIN_WINDOW_S) {
		snprintf(out, cap, "%.0f %s an hour", per_hour, what);
		return;
	}
	recommend_fmt_window(w, sizeof(w), window_s);
	snprintf(out, cap, "%.0f %s in %s", per_hour * window_s / 3600, what, w);
}

static const char *or_dash(const char *s)
{
	return s ? s : "?";
}

/* "service endpoint" or "service" */
static void subject(char *out, size_t cap, const struct finding *f)
{
	if (f->endpoint)
		snprintf(out, cap, "%s %s", or_dash(f->service), f->endpoint);
	else
		snprintf(out, cap, "%s", or_dash(f->service));
}

static double pct(double part, double whole)
{
	return whole > 0 ? 100.0 * part / whole : 0;
}

/* "53 of 1864 requests", or "53 requests" when the whole is not known (never "53 of 0"). */
static void of_requests(char *out, size_t cap, uint64_t part, uint64_t whole)
{
	if (whole >= part && whole > 0)
		snprintf(out, cap, "%llu of %llu requests", (unsigned long long)part,
			 (unsigned long long)whole);
	else
		snprintf(out, cap, "%llu requests", (unsigned long long)part);
}

/* A detail short enough for a title: the first 100 bytes (whole UTF-8 characters), then "...". */
static void short_detail(char *out, size_t cap, const char *s)
{
	size_t n = strlen(or_dash(s)), max = 100;
	if (n <= max) {
		snprintf(out, cap, "%s", or_dash(s));
		return;
	}
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	snprintf(out, cap, "%.*s...", (int)max, s);
}

struct texts {
	char title[TEXT_MAX], evidence[TEXT_MAX], change[TEXT_MAX];
};

static void n_plus_one(const struct finding *f, struct texts *t, const char *subj)
{
	char avg[32], what[160], reqs[96];
	recommend_fmt_duration(avg, sizeof(avg), f->avg_ns);
	short_detail(what, sizeof(what), f->detail);
	of_requests(reqs, sizeof(reqs), f->affected_requests, f->subject_requests);
	snprintf(t->title, TEXT_MAX, "Batch the N+1 queries of %s (`%s`)", subj, what);
	snprintf(t->evidence, TEXT_MAX,
		 "%.0f similar calls per request under one parent (`%s`), %s each, in %s (%.0f%% of all "
		 "traffic)",
		 f->per_request, or_dash(f->detail), avg, reqs,
		 pct((double)f->affected_requests, (double)f->total_requests));
	snprintf(t->change, TEXT_MAX,
		 "Fetch them in one round trip: one statement with `= ANY($1)` / `IN (...)` or a JOIN "
		 "(eager loading in the ORM), or one batch request instead of one call per item");
}

static void sequential(const struct finding *f, struct texts *t, const char *subj)
{
	char sum[32], max[32], reqs[96];
	recommend_fmt_duration(sum, sizeof(sum), f->avg_ns);
	recommend_fmt_duration(max, sizeof(max), f->baseline_ns);
	of_requests(reqs, sizeof(reqs), f->affected_requests, f->subject_requests);
	snprintf(t->title, TEXT_MAX, "Run the calls of %s to %s concurrently", subj, or_dash(f->detail));
	snprintf(t->evidence, TEXT_MAX,
		 "%.0f calls to different services one after another, none overlapping, in %s (%.0f%%); "
		 "together %s, the longest %s",
		 f->per_request, reqs, 100 * f->ratio, sum, max);
	snprintf(
		t->change, TEXT_MAX,
		"Start them together and wait for all (CompletableFuture.allOf, asyncio.gather, Promise.all, "
		"errgroup); keep after them only the calls that need their answers");
}

static void cacheable(const struct finding *f, struct texts *t, const char *subj)
{
	char avg[32], what[160], sets[64] = "", window[32], rate[96];
	recommend_fmt_duration(avg, sizeof(avg), f->avg_ns);
	recommend_fmt_window(window, sizeof(window), f->window_s);
	short_detail(what, sizeof(what), f->detail);
	if (f->tool)
		snprintf(t->title, TEXT_MAX, "Cache the result of tool %s in %s", f->tool,
			 or_dash(f->service));
	else
		snprintf(t->title, TEXT_MAX, "Cache the repeated call of %s (`%s`)", subj, what);
	if (f->variants > 1)
		snprintf(sets, sizeof(sets), " in %llu argument sets", (unsigned long long)f->variants);
	if (f->window_s >= RECOMMEND_RATE_MIN_WINDOW_S)
		snprintf(rate, sizeof(rate), "%.0f requests/hour", f->per_hour);
	else
		snprintf(rate, sizeof(rate), "%llu requests in %s", (unsigned long long)f->occurrences,
			 window);
	snprintf(t->evidence, TEXT_MAX,
		 "%s to %s with identical arguments%s (%.80s%s), avg %s each; %llu calls in %s", rate, subj,
		 sets, or_dash(f->detail), f->detail && strlen(f->detail) > 80 ? "..." : "", avg,
		 (unsigned long long)f->occurrences, window);
	snprintf(t->change, TEXT_MAX,
		 "Cache the result keyed by the arguments (in-process LRU or Redis) for about a minute, and "
		 "invalidate it when the data changes; at this rate %.0f%% of the calls would be served "
		 "from the cache",
		 100 * f->rate);
}

/* What the pool evidence adds: requests seen waiting at once, metrics left out. */
static void pool_notes(char *out, size_t cap, const struct finding *f)
{
	int n = 0;
	out[0] = 0;
	if (f->pool_waiters > 0)
		n = snprintf(out, cap, "; up to %.0f requests waiting at once in one process",
			     f->pool_waiters);
	if (f->pool_metrics_ignored && n >= 0 && (size_t)n < cap)
		snprintf(
			out + n, cap - (size_t)n,
			"; its connection-count metrics are impossible (below zero or far above the maximum, "
			"as when one counter is shared by several pools) and were left out");
}

static void pool(const struct finding *f, struct texts *t, const char *subj)
{
	char avg[32], notes[512];
	recommend_fmt_duration(avg, sizeof(avg), f->avg_ns);
	pool_notes(notes, sizeof(notes), f);
	if (f->pool_max > 0)
		snprintf(t->title, TEXT_MAX, "Increase the %s connection pool of %s%s%s from %.0f to %.0f",
			 or_dash(f->detail), or_dash(f->service), f->environment ? " in " : "",
			 f->environment ? f->environment : "", f->pool_max, f->pool_recommended);
	else
		snprintf(t->title, TEXT_MAX, "Relieve the waits for the %s connection pool of %s%s%s",
			 or_dash(f->detail), or_dash(f->service), f->environment ? " in " : "",
			 f->environment ? f->environment : "");
	if (f->occurrences && f->subject_requests && f->avg_ns > 0)
		snprintf(t->evidence, TEXT_MAX,
			 "Connection wait time %s avg in %llu of %llu acquisitions%s%s; pool exhausted "
			 "%.0f times/hour; peak demand %.0f connections for a pool of %.0f%s",
			 avg, (unsigned long long)f->occurrences, (unsigned long long)f->subject_requests,
			 f->environment ? " in " : "", f->environment ? f->environment : "",
			 f->episodes_per_hour, f->pool_peak_demand, f->pool_max, notes);
	else
		snprintf(t->evidence, TEXT_MAX,
			 "Pool at its maximum of %.0f or with requests waiting in %.0f%% of the samples; "
			 "exhausted %.0f times/hour; peak demand %.0f",
			 f->pool_max, 100 * f->rate, f->episodes_per_hour, f->pool_peak_demand);
	if (f->pool_max > 0)
		snprintf(
			t->change, TEXT_MAX,
			"Raise the pool's maximum to %.0f (the peak demand, rounded up; check the database's "
			"max_connections), and hold connections only around the queries of %s",
			f->pool_recommended, subj);
	else
		snprintf(
			t->change, TEXT_MAX,
			"Raise the pool's maximum by at least %.0f (the most requests seen waiting at once; "
			"the telemetry does not give the pool's size; check the database's max_connections), "
			"and hold connections only around the queries of %s",
			f->pool_waiters, subj);
}

static void missing_index(const struct finding *f, struct texts *t, const char *subj)
{
	char p50[32], base[32], rate[96];
	hourly(rate, sizeof(rate), f->per_hour, f->window_s, "runs");
	recommend_fmt_duration(p50, sizeof(p50), f->p50_ns);
	recommend_fmt_duration(base, sizeof(base), f->baseline_ns);
	char what[160];
	short_detail(what, sizeof(what), f->detail);
	snprintf(t->title, TEXT_MAX, "Index the slow query of %s on %s (`%s`)", subj, or_dash(f->tool), what);
	snprintf(t->evidence, TEXT_MAX,
		 "`%s` takes %s at p50, %.1f times the %s of the database's other statements; %s",
		 or_dash(f->detail), p50, f->ratio, base, rate);
	snprintf(t->change, TEXT_MAX,
		 "Run EXPLAIN (ANALYZE) on it; add an index on the columns of its WHERE, JOIN and ORDER BY, "
		 "or precompute the result if it scans by design");
}

static void large_payload(const struct finding *f, struct texts *t, const char *subj)
{
	char bytes[32], avg[32], base[32];
	recommend_fmt_bytes(bytes, sizeof(bytes), f->bytes);
	recommend_fmt_duration(avg, sizeof(avg), f->avg_ns);
	recommend_fmt_duration(base, sizeof(base), f->baseline_ns);
	snprintf(t->title, TEXT_MAX, "Shrink the payloads of %s", subj);
	snprintf(t->evidence, TEXT_MAX,
		 "%.0f%% of %llu spans carry a body of %s on average, taking %s against %s with small bodies",
		 100 * f->rate, (unsigned long long)f->subject_requests, bytes, avg, base);
	snprintf(t->change, TEXT_MAX,
		 "Paginate, compress (gzip or zstd), or send only the fields the caller uses");
}

static void retry_storm(const struct finding *f, struct texts *t, const char *subj)
{
	char avg[32];
	recommend_fmt_duration(avg, sizeof(avg), f->avg_ns);
	snprintf(t->title, TEXT_MAX, "Bound the retries of %s to %s", subj, or_dash(f->detail));
	snprintf(t->evidence, TEXT_MAX,
		 "%.1f failing calls per request to the same target under one parent, %s each, in %llu "
		 "requests",
		 f->per_request, avg, (unsigned long long)f->affected_requests);
	snprintf(
		t->change, TEXT_MAX,
		"Retry with exponential backoff and jitter, within a retry budget, behind a circuit breaker");
}

static void timeouts(const struct finding *f, struct texts *t, const char *subj)
{
	char avg[32], base[32], rate[96];
	hourly(rate, sizeof(rate), f->per_hour, f->window_s, "timeouts");
	recommend_fmt_duration(avg, sizeof(avg), f->avg_ns);
	recommend_fmt_duration(base, sizeof(base), f->baseline_ns);
	snprintf(t->title, TEXT_MAX, "Fail fast on calls from %s to %s", subj, or_dash(f->detail));
	snprintf(t->evidence, TEXT_MAX,
		 "%.1f%% of %llu calls time out after %s (a successful call takes %s); %s", 100 * f->rate,
		 (unsigned long long)f->subject_requests, avg, base, rate);
	snprintf(t->change, TEXT_MAX,
		 "Set the timeout near the successful calls' p99 and retry once or hedge, or answer from a "
		 "fallback");
}

static void memory(const struct finding *f, struct texts *t, const char *subj)
{
	char g[32], s[32], e[32], w[32];
	recommend_fmt_window(w, sizeof(w), f->window_s);
	recommend_fmt_bytes(g, sizeof(g), f->growth_per_hour);
	recommend_fmt_bytes(s, sizeof(s), f->start_value);
	recommend_fmt_bytes(e, sizeof(e), f->end_value);
	snprintf(t->title, TEXT_MAX, "Find what %s keeps in memory%s%s", subj, f->environment ? " in " : "",
		 f->environment ? f->environment : "");
	snprintf(t->evidence, TEXT_MAX,
		 "process.memory.usage grows %s an hour%s%s (%s to %s over %s) and is never released; "
		 "%llu of %llu instances grow",
		 g, f->environment ? " in " : "", f->environment ? f->environment : "", s, e, w,
		 (unsigned long long)f->occurrences, (unsigned long long)f->subject_requests);
	snprintf(t->change, TEXT_MAX,
		 "Look for a cache or map without eviction (per-session or conversation history, memoised "
		 "results): bound it or give it a TTL; diff two heap snapshots taken an hour apart");
}

/* The hot function of the service's profiles, as evidence; "" when no profile named one. */
static void hot_function_text(char *out, size_t cap, const struct finding *f)
{
	const char *type = or_dash(f->hot_profile_type);
	out[0] = 0;
	if (f->hot_function)
		snprintf(out, cap,
			 "; `%s`%s%s%s takes %.0f%% of the %s samples of %s in the window (its own time)",
			 f->hot_function, f->hot_function_file ? " (" : "",
			 f->hot_function_file ? f->hot_function_file : "", f->hot_function_file ? ")" : "",
			 100 * f->hot_function_share,
			 !strcmp(type, "cpu")	 ? "CPU"
			 : !strcmp(type, "wall") ? "wall-clock"
						 : type,
			 or_dash(f->service));
}

/* How busy the CPU was: of the host, or of one core for a single-threaded runtime. */
static void cpu_share_text(char *out, size_t cap, const struct finding *f)
{
	if (f->single_threaded && f->cpu_count > 1)
		snprintf(out, cap, "%.0f%% of one core, a single-threaded runtime on %.0f CPUs",
			 100 * f->ratio, f->cpu_count);
	else if (f->single_threaded)
		snprintf(out, cap, "%.0f%%, a single-threaded runtime on a host of unknown CPU count",
			 100 * f->ratio);
	else
		snprintf(out, cap, "%.0f%%", 100 * f->ratio);
}

/* The route whose own work the CPU likely runs, as evidence and as where to look. */
static void cpu_route_text(char *evidence, char *look, size_t cap, const struct finding *f)
{
	char own[32];
	evidence[0] = 0;
	snprintf(look, cap, "the hot paths");
	if (!f->cpu_endpoint)
		return;
	recommend_fmt_duration(own, sizeof(own), f->cpu_own_ns);
	snprintf(evidence, cap,
		 "; %s spends %.0f%% of its time (%s a request) in its own code, outside any call",
		 f->cpu_endpoint, 100 * f->cpu_own_share, own);
	snprintf(look, cap, "%s first", f->cpu_endpoint);
}

static void cpu(const struct finding *f, struct texts *t, const char *subj)
{
	char avg[32], base[32], share[160], delay[96] = "", route[320], look[256], hot[512];
	recommend_fmt_duration(avg, sizeof(avg), f->avg_ns);
	recommend_fmt_duration(base, sizeof(base), f->baseline_ns);
	cpu_share_text(share, sizeof(share), f);
	cpu_route_text(route, look, sizeof(look), f);
	hot_function_text(hot, sizeof(hot), f);
	if (f->hot_function)
		snprintf(look, sizeof(look), "`%s` first", f->hot_function);
	if (f->loop_delay_ms > 0) {
		char ms[32];
		recommend_fmt_duration(ms, sizeof(ms), f->loop_delay_ms * 1e6);
		snprintf(delay, sizeof(delay), "; event-loop delay p99 %s in those minutes", ms);
	}
	snprintf(t->title, TEXT_MAX, "Relieve the CPU saturation of %s%s%s", subj,
		 f->environment ? " in " : "", f->environment ? f->environment : "");
	snprintf(t->evidence, TEXT_MAX,
		 "CPU at or above saturation in %.0f%% of %llu samples (peak %s); its requests take %s "
		 "in those minutes against %s otherwise%s%s%s",
		 100 * f->rate, (unsigned long long)f->subject_requests, share, avg, base, delay, route, hot);
	if (f->single_threaded)
		snprintf(
			t->change, TEXT_MAX,
			"The process runs its code on one thread, so more CPUs do not help it: move "
			"CPU-heavy "
			"work off that thread (worker threads, another service) or run more processes "
			"(cluster, replicas), and profile %s (flame graph of the service's CPU profiles over "
			"the saturated minutes)",
			look);
	else
		snprintf(t->change, TEXT_MAX,
			 "Scale out or raise the CPU limit, and profile %s (flame graph of the service's CPU "
			 "profiles over the saturated minutes)",
			 look);
}

static void own_work(const struct finding *f, struct texts *t, const char *subj)
{
	char own[32], lat[32], reqs[96], cpu[256], hot[512];
	recommend_fmt_duration(own, sizeof(own), f->avg_ns);
	recommend_fmt_duration(lat, sizeof(lat), f->baseline_ns);
	of_requests(reqs, sizeof(reqs), f->affected_requests, f->subject_requests);
	hot_function_text(hot, sizeof(hot), f);
	if (f->ratio > 0)
		snprintf(cpu, sizeof(cpu),
			 "; the CPU its processes used in those minutes accounts for that work");
	else
		snprintf(cpu, sizeof(cpu),
			 "; no CPU figures of the service were sent, so part of it may be waiting no span "
			 "records (a timer, an uninstrumented client)");
	snprintf(t->title, TEXT_MAX, "Speed up the own code of %s%s%s", subj, f->environment ? " in " : "",
		 f->environment ? f->environment : "");
	snprintf(t->evidence, TEXT_MAX,
		 "Its requests spend %.0f%% of their time (%s of %s on average) in their own code, outside "
		 "any span under the request but the framework's wrappers, and at least half of their time "
		 "in %s (%.0f%% of all traffic)%s%s",
		 100 * f->rate, own, lat, reqs, pct((double)f->affected_requests, (double)f->total_requests),
		 cpu, hot);
	if (f->hot_function)
		snprintf(t->change, TEXT_MAX,
			 "Make `%s` cheaper, cache what it computes, or move it off the request path "
			 "(a worker thread, a job); the profile flame graph of %s over the window shows "
			 "who calls it",
			 f->hot_function, or_dash(f->service));
	else
		snprintf(t->change, TEXT_MAX,
			 "Profile %s to name the function: send its CPU profiles to hotpath (POST "
			 "/api/v1/profiles, or a Pyroscope client such as @pyroscope/nodejs pointed at "
			 "hotpath) and this finding names the hottest one, as does the profile flame graph "
			 "of the service; time the profile does not show on the CPU is a call or a wait "
			 "to instrument",
			 or_dash(f->service));
}

static void version(const struct finding *f, struct texts *t, const char *subj)
{
	char avg[32], base[32];
	recommend_fmt_duration(avg, sizeof(avg), f->avg_ns);
	recommend_fmt_duration(base, sizeof(base), f->baseline_ns);
	snprintf(t->title, TEXT_MAX, "Regression in %s: %s", subj, or_dash(f->detail));
	snprintf(t->evidence, TEXT_MAX,
		 "Mean %s against %s (+%.0f%%), p50 +%.0f%%, over %llu requests of the slower version, "
		 "compared environment by environment",
		 avg, base, 100 * (f->ratio - 1), 100 * (f->rate - 1), (unsigned long long)f->occurrences);
	snprintf(t->change, TEXT_MAX,
		 "Compare the flame graphs of the two versions for this endpoint to find the slower code, "
		 "then "
		 "fix it or roll back");
}

int recommend_build(struct arena *a, const struct finding *f, struct recommendation *r)
{
	struct texts t;
	char subj[512], gain[TEXT_MAX], save[32], lat[32], doc[128];
	subject(subj, sizeof(subj), f);
	t.title[0] = t.evidence[0] = t.change[0] = 0;
	switch (f->kind) {
	case FINDING_N_PLUS_ONE: n_plus_one(f, &t, subj); break;
	case FINDING_SEQUENTIAL: sequential(f, &t, subj); break;
	case FINDING_CACHEABLE: cacheable(f, &t, subj); break;
	case FINDING_POOL_EXHAUSTION: pool(f, &t, subj); break;
	case FINDING_MISSING_INDEX: missing_index(f, &t, subj); break;
	case FINDING_LARGE_PAYLOAD: large_payload(f, &t, subj); break;
	case FINDING_RETRY_STORM: retry_storm(f, &t, subj); break;
	case FINDING_TIMEOUTS: timeouts(f, &t, subj); break;
	case FINDING_MEMORY_GROWTH: memory(f, &t, subj); break;
	case FINDING_CPU_SATURATION: cpu(f, &t, subj); break;
	case FINDING_VERSION_REGRESSION: version(f, &t, subj); break;
	case FINDING_OWN_WORK: own_work(f, &t, subj); break;
	default: snprintf(t.title, TEXT_MAX, "%s", detect_kind_name(f->kind)); break;
	}
	recommend_fmt_duration(save, sizeof(save), f->saving_ns);
	recommend_fmt_duration(lat, sizeof(lat), f->affected_latency_ns);
	if (f->kind == FINDING_MEMORY_GROWTH) {
		char day[32];
		recommend_fmt_bytes(day, sizeof(day), f->growth_per_hour * 24);
		snprintf(gain, sizeof(gain),
			 "Stops a growth of %s a day (%.0f%% of the starting level) that ends in an "
			 "out-of-memory restart",
			 day, 100 * f->ratio * 24);
	} else if (f->saving_ns > 0) {
		char saved[128], secs[32], w[32];
		recommend_fmt_window(secs, sizeof(secs), f->saved_s_per_hour * f->window_s / 3600);
		recommend_fmt_window(w, sizeof(w), f->window_s);
		if (f->window_s >= RECOMMEND_RATE_MIN_WINDOW_S)
			snprintf(saved, sizeof(saved), "~%.0f s of request time saved per hour",
				 f->saved_s_per_hour);
		else
			snprintf(saved, sizeof(saved), "~%s of request time saved over the %s analysed", secs,
				 w);
		snprintf(gain, sizeof(gain), "%s: ~%s a request, %.0f%% of the affected requests' %s; %s",
			 f->kind == FINDING_OWN_WORK ? "At most, if that work cost nothing"
						     : "Estimated improvement",
			 save, f->saving_pct, lat, saved);
	} else {
		snprintf(gain, sizeof(gain), "No latency estimate: the data shows no measurable cost yet");
	}
	snprintf(doc, sizeof(doc), RECOMMEND_DOC_PREFIX "%s.md", f->doc ? f->doc : detect_kind_slug(f->kind));
	r->title = arena_strdup(a, t.title);
	r->evidence = arena_strdup(a, t.evidence);
	r->change = arena_strdup(a, t.change);
	r->gain = arena_strdup(a, gain);
	r->doc = arena_strdup(a, doc);
	return 0;
}

/* ---- JSON and Markdown ------------------------------------------------------ */

/* A kind-specific number, written only when it applies. */
static void put_opt(struct json_w *w, const char *key, double v)
{
	if (v != 0)
		jw_kdouble(w, key, v);
}

/* The members that only some kinds of finding have. */
static void put_kind_evidence(struct json_w *w, const struct finding *f)
{
	put_opt(w, "pool_max", f->pool_max);
	put_opt(w, "pool_peak_demand", f->pool_peak_demand);
	put_opt(w, "pool_recommended", f->pool_recommended);
	put_opt(w, "pool_waiters", f->pool_waiters);
	if (f->pool_metrics_ignored)
		jw_kbool(w, "pool_metrics_ignored", true);
	put_opt(w, "cpu_count", f->cpu_count);
	if (f->single_threaded)
		jw_kbool(w, "single_threaded", true);
	put_opt(w, "loop_delay_ms", f->loop_delay_ms);
	if (f->cpu_endpoint)
		jw_kstr(w, "cpu_endpoint", f->cpu_endpoint);
	put_opt(w, "cpu_own_ms", f->cpu_own_ns / 1e6);
	put_opt(w, "cpu_own_share", f->cpu_own_share);
	if (f->hot_function) {
		jw_kstr(w, "hot_function", f->hot_function);
		jw_kstr(w, "hot_function_file", f->hot_function_file);
		jw_kstr(w, "hot_profile_type", f->hot_profile_type);
		jw_kdouble(w, "hot_function_share", f->hot_function_share);
	}
	put_opt(w, "episodes_per_hour", f->episodes_per_hour);
	put_opt(w, "growth_bytes_per_hour", f->growth_per_hour);
	put_opt(w, "start_bytes", f->start_value);
	put_opt(w, "end_bytes", f->end_value);
	put_opt(w, "payload_bytes", f->bytes);
	put_opt(w, "argument_sets", (double)f->variants);
}

static void put_evidence(struct json_w *w, const struct finding *f)
{
	jw_kobj_begin(w, "evidence");
	jw_kuint(w, "occurrences", f->occurrences);
	jw_kuint(w, "affected_requests", f->affected_requests);
	jw_kuint(w, "subject_requests", f->subject_requests);
	jw_kuint(w, "total_requests", f->total_requests);
	jw_kdouble(w, "window_s", f->window_s);
	jw_kdouble(w, "per_hour", f->per_hour);
	jw_kdouble(w, "per_request", f->per_request);
	jw_kdouble(w, "avg_ms", f->avg_ns / 1e6);
	put_opt(w, "p50_ms", f->p50_ns / 1e6);
	put_opt(w, "baseline_ms", f->baseline_ns / 1e6);
	put_opt(w, "ratio", f->ratio);
	put_opt(w, "rate", f->rate);
	jw_kdouble(w, "affected_latency_ms", f->affected_latency_ns / 1e6);
	put_kind_evidence(w, f);
	jw_obj_end(w);
}

static void put_finding(struct json_w *w, const struct finding *f, const struct recommendation *r)
{
	jw_obj_begin(w);
	jw_kstr(w, "id", f->id);
	jw_kstr(w, "kind", detect_kind_slug(f->kind));
	jw_kstr(w, "kind_name", detect_kind_name(f->kind));
	jw_kstr(w, "priority", detect_priority_name(f->priority));
	jw_kstr(w, "doc", r->doc);
	jw_kobj_begin(w, "subject");
	jw_kstr(w, "service", f->service);
	jw_kstr(w, "endpoint", f->endpoint);
	jw_kstr(w, "tool", f->tool);
	jw_kstr(w, "detail", f->detail);
	jw_kstr(w, "environment", f->environment);
	jw_obj_end(w);
	put_evidence(w, f);
	jw_kobj_begin(w, "estimate");
	jw_kdouble(w, "saving_ms", f->saving_ns / 1e6);
	jw_kdouble(w, "saving_pct", f->saving_pct);
	jw_kdouble(w, "saved_s_per_hour", f->saved_s_per_hour);
	jw_obj_end(w);
	jw_karr_begin(w, "examples");
	for (unsigned i = 0; i < f->n_examples && i < DETECT_MAX_EXAMPLES; i++)
		jw_hex(w, f->examples[i], 16);
	jw_arr_end(w);
	jw_kobj_begin(w, "recommendation");
	jw_kstr(w, "title", r->title);
	jw_kstr(w, "evidence", r->evidence);
	jw_kstr(w, "change", r->change);
	jw_kstr(w, "gain", r->gain);
	jw_obj_end(w);
	jw_obj_end(w);
}

int recommend_json(struct buf *out, const struct finding *f, const struct recommendation *r)
{
	struct arena a;
	struct recommendation built;
	struct buf tmp;
	struct json_w w;
	int rc;
	arena_init(&a);
	buf_init(&tmp, BUF_NO_LIMIT);
	if (!r) {
		recommend_build(&a, f, &built);
		r = &built;
	}
	jw_init(&w, &tmp);
	put_finding(&w, f, r);
	/* one append, so that a full buffer gets all or nothing */
	rc = buf_append(out, tmp.data, tmp.len);
	buf_release(&tmp);
	arena_release(&a);
	return rc;
}

static const char *upper_priority(enum finding_priority p)
{
	return p == PRIORITY_HIGH ? "HIGH" : p == PRIORITY_MEDIUM ? "MEDIUM" : "LOW";
}

int recommend_markdown(struct buf *b, const struct finding *f, const struct recommendation *r)
{
	struct arena a;
	struct recommendation built;
	int rc;
	arena_init(&a);
	if (!r) {
		recommend_build(&a, f, &built);
		r = &built;
	}
	rc = buf_printf(b, "- **%s** %s: %s. %s. %s. ([how](%s))\n", upper_priority(f->priority), r->title,
			r->evidence, r->change, r->gain, r->doc);
	arena_release(&a);
	return rc;
}
