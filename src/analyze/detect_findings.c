/*
 * detect_findings.c - judging what the trace detectors accumulated: which
 * keys pass their thresholds, and the numbers and estimates of each finding
 * (formulas in docs/DETECTORS.md).  Pool exhaustion, memory and CPU are
 * judged in detect_metrics.c.
 *
 * Also here: naming call targets by the service that answered them, folding
 * what parts of traces without their entry span saw into the endpoint they
 * belong to, and folding cacheable calls into the N+1 they are part of and
 * into one finding per call shape.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/detect_internal.h"
#include "core/alloc.h"

static double hours_of(const struct detector *d)
{
	return detect_window_s(d) / 3600.0;
}

static uint64_t endpoint_requests(struct detector *d, uint32_t svc, uint32_t ep)
{
	struct acc *a = acc_find(d, T_ENDPOINT, svc, ep, 0, 0, 0, 0);
	return a ? a->n : 0;
}

/*
 * The common estimate: `waste` ns summed over the affected requests.
 *   saving per request = waste / affected
 *   saving %           = saving per request / mean latency of the affected requests
 *   saved per hour     = waste / observed hours
 */
static void estimate(struct detector *d, struct finding *f, double waste)
{
	double hours = hours_of(d);
	if (waste < 0)
		waste = 0;
	f->saving_ns = f->affected_requests ? waste / (double)f->affected_requests : 0;
	if (f->affected_latency_ns > 0)
		f->saving_pct = fmin(100.0, 100.0 * f->saving_ns / f->affected_latency_ns);
	f->saved_s_per_hour = hours > 0 ? waste / NS_PER_S / hours : 0;
	if (hours > 0)
		f->per_hour = (double)f->occurrences / hours;
	if (f->affected_requests)
		f->per_request = (double)f->occurrences / (double)f->affected_requests;
}

static const char *out_str(struct detector *d, const char *s)
{
	return s ? arena_strdup(&d->out, s) : NULL;
}

/* ---- naming targets ----------------------------------------------------------- */

/*
 * Who answers at each target address: target name id -> index into T_TARGET
 * of the callee service seen answering it most often (then the first name).
 */
static void callees_build(struct detector *d, struct u64map *m)
{
	const struct table *t = &d->t[T_TARGET];
	u64map_init(m);
	for (size_t i = 0; i < t->n; i++) {
		const struct acc *a = &t->a[i];
		uint32_t *v = u64map_slot(m, a->detail);
		const struct acc *b = *v == DNONE ? NULL : &t->a[*v];
		if (!b || a->n > b->n ||
		    (a->n == b->n && strcmp(detect_name(d, a->service), detect_name(d, b->service)) < 0))
			*v = (uint32_t)i;
	}
}

/* Whether the host of `addr` ("host" or "host:port") is `name`. */
static int host_is(const char *addr, const char *name)
{
	size_t n = strlen(name);
	return !strncmp(addr, name, n) && (addr[n] == 0 || addr[n] == ':');
}

/*
 * A target for people: "inventory (127.0.0.1:3002)" when the service that
 * answered is known, just "inventory-service" when the address is its name
 * (with any port), else the address.  Appended to buf at *o.
 */
static void target_label(struct detector *d, const struct u64map *callees, const char *addr, size_t len,
			 char *buf, size_t cap, size_t *o)
{
	char tmp[320];
	snprintf(tmp, sizeof(tmp), "%.*s", (int)len, addr);
	uint32_t id = detect_intern(d, tmp, strlen(tmp)); /* interned when it was seen */
	uint32_t at = id ? u64map_get(callees, id) : DNONE;
	const char *svc = at != DNONE ? detect_name(d, d->t[T_TARGET].a[at].service) : NULL;
	int n;
	if (!svc || host_is(tmp, svc))
		n = snprintf(buf + *o, cap - *o, "%s", svc ? svc : tmp);
	else
		n = snprintf(buf + *o, cap - *o, "%s (%s)", svc, tmp);
	if (n > 0)
		*o = *o + (size_t)n < cap ? *o + (size_t)n : cap - 1;
}

/* A list of targets "a, b, c" (T_SEQ: `list` set) or one target, for people, in d->out. */
static const char *targets_label(struct detector *d, const struct u64map *callees, const char *s, int list)
{
	char buf[1024];
	size_t o = 0;
	buf[0] = 0;
	while (s && *s && o + 1 < sizeof(buf)) {
		size_t len = list ? strcspn(s, ",") : strlen(s);
		if (o && o + 2 < sizeof(buf)) {
			memcpy(buf + o, ", ", 3);
			o += 2;
		}
		target_label(d, callees, s, len, buf, sizeof(buf), &o);
		s += len;
		if (*s == ',')
			s += s[1] == ' ' ? 2 : 1;
	}
	return out_str(d, buf);
}

/* ---- sibling patterns: N+1, sequential calls, retries ------------------------------ */

/*
 * A part of a trace without its entry span records its sibling patterns
 * under no endpoint.  Such a key belongs to the key of the same service
 * and detail that has an endpoint (the one with the most affected
 * requests): home[i] is its index, DNONE when there is none or when key i
 * has an endpoint.
 */
static uint32_t *homes_of(struct detector *d, enum acc_table tb)
{
	const struct table *t = &d->t[tb];
	uint32_t *home = xmalloc((t->n + 1) * sizeof(*home));
	for (size_t i = 0; i < t->n; i++) {
		const struct acc *a = &t->a[i];
		home[i] = DNONE;
		for (size_t j = 0; j < t->n && !a->endpoint; j++) {
			const struct acc *b = &t->a[j], *h = home[i] == DNONE ? NULL : &t->a[home[i]];
			if (!b->endpoint || b->service != a->service || b->detail != a->detail)
				continue;
			if (!h || b->affected > h->affected ||
			    (b->affected == h->affected &&
			     strcmp(detect_name(d, b->endpoint), detect_name(d, h->endpoint)) < 0))
				home[i] = (uint32_t)j;
		}
	}
	return home;
}

/* A sibling-pattern key with what keys without an endpoint folded into it saw. */
struct sib {
	uint64_t n, n2, affected, subject;
	double sum, sum2, waste, lat;
};

static double endpoint_latency(struct detector *d, uint32_t svc, uint32_t ep)
{
	struct acc *a = acc_find(d, T_ENDPOINT, svc, ep, 0, 0, 0, 0);
	return a && a->n ? a->sum / (double)a->n : 0;
}

/*
 * Key i of `tb` and the key without an endpoint whose home it is.  Parts
 * without their entry do not know their request's latency: theirs is the
 * endpoint's mean.  Affected requests are at most the endpoint's requests
 * (parts of one trace each count).
 */
static void sib_of(struct detector *d, enum acc_table tb, size_t i, const uint32_t *home, struct sib *x)
{
	const struct acc *a = &d->t[tb].a[i];
	*x = (struct sib){a->n, a->n2, a->affected, 0, a->sum, a->sum2, a->waste, a->lat};
	const struct acc *b = a->endpoint ? acc_find(d, tb, a->service, 0, 0, a->detail, 0, 0) : NULL;
	if (b && home[b - d->t[tb].a] == i) {
		x->n += b->n;
		x->n2 += b->n2;
		x->affected += b->affected;
		x->sum += b->sum;
		x->sum2 += b->sum2;
		x->waste += b->waste;
		x->lat += (double)b->affected * endpoint_latency(d, a->service, a->endpoint);
	}
	x->subject = endpoint_requests(d, a->service, a->endpoint);
	if (x->subject && x->affected > x->subject) {
		x->lat *= (double)x->subject / (double)x->affected;
		x->affected = x->subject;
	}
}

static struct finding *sib_finding(struct detector *d, enum finding_kind k, const struct acc *a,
				   const struct sib *x)
{
	struct finding *f = detect_add_finding(d, k, a);
	f->affected_requests = x->affected;
	f->affected_latency_ns = x->affected ? x->lat / (double)x->affected : 0;
	f->subject_requests = x->subject;
	return f;
}

/* The N+1s reported, by nplus1_tag(): the cacheable calls they hold are folded into them. */
struct tags {
	uint64_t v[256];
	size_t n;
};

static uint64_t tag_of(const struct detector *d, const struct acc *a)
{
	const uint32_t ids[3] = {a->service, a->endpoint, a->detail};
	uint64_t h = DETECT_HASH_INIT;
	for (int i = 0; i < 3; i++) {
		const char *s = ids[i] ? detect_name(d, ids[i]) : "";
		h = detect_hash(h, s, strlen(s) + 1);
	}
	return h | 1; /* as nplus1_tag() of detect_trace.c */
}

static void tags_add(struct tags *t, uint64_t v)
{
	if (t->n < sizeof(t->v) / sizeof(t->v[0]))
		t->v[t->n++] = v;
}

static void judge_n_plus_one(struct detector *d, struct tags *reported)
{
	struct table *t = &d->t[T_NPLUS1];
	uint32_t *home = homes_of(d, T_NPLUS1);
	for (size_t i = 0; i < t->n; i++) {
		struct acc *a = &t->a[i];
		struct sib x;
		if (home[i] != DNONE)
			continue; /* counted with its home */
		sib_of(d, T_NPLUS1, i, home, &x);
		if (x.affected < d->cfg.min_requests)
			continue;
		struct finding *f = sib_finding(d, FINDING_N_PLUS_ONE, a, &x);
		f->occurrences = x.n;
		f->avg_ns = x.sum / (double)x.n;
		estimate(d, f, x.waste);
		detect_rank(d, f);
		/* its calls, and those of the parts without their entry folded into it */
		tags_add(reported, tag_of(d, a));
		const struct acc *b =
			a->endpoint ? acc_find(d, T_NPLUS1, a->service, 0, 0, a->detail, 0, 0) : NULL;
		if (b && home[b - t->a] == i)
			tags_add(reported, tag_of(d, b));
	}
	free(home);
}

static void judge_sequential(struct detector *d, const struct u64map *callees)
{
	struct table *t = &d->t[T_SEQ];
	uint32_t *home = homes_of(d, T_SEQ);
	for (size_t i = 0; i < t->n; i++) {
		struct acc *a = &t->a[i];
		struct sib x;
		if (home[i] != DNONE)
			continue;
		sib_of(d, T_SEQ, i, home, &x);
		if (x.affected < d->cfg.min_requests ||
		    (double)x.affected < d->cfg.sequential_share * (double)x.subject)
			continue;
		struct finding *f = sib_finding(d, FINDING_SEQUENTIAL, a, &x);
		f->detail = targets_label(d, callees, detect_name(d, a->detail), 1);
		f->occurrences = x.n;
		f->avg_ns = x.sum / (double)x.n2;	/* the run, all calls */
		f->baseline_ns = x.sum2 / (double)x.n2; /* its longest call */
		f->ratio = x.subject ? (double)x.affected / (double)x.subject : 0;
		estimate(d, f, x.waste);
		detect_rank(d, f);
	}
	free(home);
}

/* ---- cacheable calls ----------------------------------------------------------- */

/* A cacheable key that passes its thresholds, and the finding it goes in. */
struct cand {
	const struct acc *a;
	uint64_t n, group; /* calls (a lower bound); the group: service, tool or endpoint, call shape */
	double hit, avg, waste;
};

/* The shape of a call's arguments: a statement or URL with its literals as "?"; a tool's: none. */
static void cache_shape(const struct acc *a, char *out, size_t cap)
{
	out[0] = 0;
	if (a->tool)
		return;
	if (!strncmp(a->text, "http://", 7) || !strncmp(a->text, "https://", 8) || a->text[0] == '/')
		detect_normalize_url(out, cap, a->text);
	else
		detect_normalize_sql(out, cap, a->text);
}

static uint64_t cache_group(const struct detector *d, const struct acc *a, const char *shape)
{
	const char *parts[4] = {detect_name(d, a->service), detect_name(d, a->tool),
				a->tool ? NULL : detect_name(d, a->where), shape};
	uint64_t h = DETECT_HASH_INIT;
	for (int i = 0; i < 4; i++)
		h = detect_hash(h, parts[i] ? parts[i] : "", parts[i] ? strlen(parts[i]) + 1 : 1);
	return h;
}

/* By group, then the most waste first, then by arguments: independent of the table's order. */
static int cand_cmp(const void *pa, const void *pb)
{
	const struct cand *x = pa, *y = pb;
	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	if (x->waste != y->waste)
		return x->waste > y->waste ? -1 : 1;
	return strcmp(x->a->text, y->a->text);
}

static int tags_has(const struct tags *t, uint64_t v)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i] == v)
			return 1;
	return 0;
}

/*
 * One finding for the candidates c[0..k) of one group, c[0] the heaviest:
 * the calls of every argument set summed; the detail is the tool's
 * heaviest arguments, or the call's shape.
 */
static void cache_finding(struct detector *d, const struct cand *c, size_t k, const char *shape)
{
	const struct acc *a = c[0].a;
	double n = 0, sum = 0, hits = 0, waste = 0, lat = 0;
	uint64_t affected = 0;
	for (size_t i = 0; i < k; i++) {
		n += (double)c[i].n;
		sum += c[i].a->sum * (double)c[i].n / (double)c[i].a->n;
		hits += c[i].hit * (double)c[i].n;
		waste += c[i].waste;
		affected += c[i].a->affected;
		lat += c[i].a->lat;
	}
	struct finding *f = detect_add_finding(d, FINDING_CACHEABLE, a);
	f->detail = out_str(d, a->tool || k == 1 ? a->text : shape);
	f->endpoint = detect_name(d, a->where);
	f->occurrences = (uint64_t)n;
	f->variants = k;
	f->avg_ns = sum / n;
	f->rate = hits / n;
	if (a->tool) {
		struct acc *calls = acc_find(d, T_ENDPOINT, a->service, 0, a->tool, 0, 0, 0);
		f->subject_requests = calls ? calls->n : 0;
	} else {
		f->subject_requests = endpoint_requests(d, a->service, a->where);
	}
	/* a request may make calls of several argument sets: at most the subject's requests */
	f->affected_requests =
		f->subject_requests && affected > f->subject_requests ? f->subject_requests : affected;
	f->affected_latency_ns = affected ? lat / (double)affected : 0;
	estimate(d, f, waste);
	detect_rank(d, f);
}

/*
 * A cache with time-to-live T in front of calls arriving at rate λ serves
 * all but the first call of every T: hit ratio h = λT / (1 + λT), per
 * argument set.  Calls mostly made inside a reported N+1 are its evidence,
 * not a finding of their own; the argument sets of one call shape (the
 * same statement with other literals, the same tool) make one finding.
 */
static void judge_cacheable(struct detector *d, const struct tags *nplus1, uint64_t *reported,
			    size_t *n_reported, size_t max_reported)
{
	struct table *t = &d->t[T_CACHE];
	double window = detect_window_s(d), hours = window / 3600.0;
	struct cand *c = xmalloc((t->n + 1) * sizeof(*c));
	char shape[512], next[512];
	size_t k = 0;
	for (size_t i = 0; i < t->n; i++) {
		struct acc *a = &t->a[i];
		uint64_t n = a->n > a->err ? a->n - a->err : 0; /* a lower bound */
		if (n < d->cfg.min_requests || hours <= 0 || (double)n / hours < d->cfg.cache_min_per_hour ||
		    !a->text)
			continue;
		if (a->n3 * 2 >= a->n && tags_has(nplus1, a->tag))
			continue; /* folded into the N+1 */
		double lt = (double)n / window * d->cfg.cache_ttl_s, hit = lt / (1 + lt);
		double avg = a->sum / (double)a->n;
		cache_shape(a, shape, sizeof(shape));
		c[k++] = (struct cand){a, n, cache_group(d, a, shape), hit, avg, hit * avg * (double)n};
		if (*n_reported < max_reported)
			reported[(*n_reported)++] = a->hash;
	}
	qsort(c, k, sizeof(*c), cand_cmp);
	for (size_t g0 = 0, g1; g0 < k; g0 = g1) {
		for (g1 = g0 + 1; g1 < k && c[g1].group == c[g0].group; g1++)
			;
		cache_shape(c[g0].a, shape, sizeof(shape));
		/* a hash collision between groups would show as another shape: keep those apart */
		size_t end = g0 + 1;
		for (; end < g1; end++) {
			cache_shape(c[end].a, next, sizeof(next));
			if (strcmp(next, shape))
				break;
		}
		cache_finding(d, c + g0, end - g0, shape);
		g1 = end;
	}
	free(c);
}

static int reported_has(const uint64_t *r, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++)
		if (r[i] == h)
			return 1;
	return 0;
}

static double median_of(double *v, size_t n)
{
	/* n is small: insertion sort */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && v[j] < v[j - 1]; j--) {
			double x = v[j];
			v[j] = v[j - 1];
			v[j - 1] = x;
		}
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * Whether a statement's time is a wait it asks for: a sleep or a lock
 * (pg_sleep, SLEEP(), WAITFOR DELAY, advisory and named locks).  No index
 * makes it faster, so it is no slow-statement finding.
 */
static int statement_waits_by_design(const char *stmt)
{
	static const char *const waits[] = {"pg_sleep",
					    "sleep(",
					    "waitfor delay",
					    "pg_advisory_lock",
					    "pg_advisory_xact_lock",
					    "get_lock(",
					    "lock table",
					    NULL};
	for (size_t i = 0; stmt && waits[i]; i++)
		if (strcasestr(stmt, waits[i]))
			return 1;
	return 0;
}

/*
 * A statement is slow when its p50 is at least slow_query_factor times the
 * median p50 of the other statements of the same database (and at least
 * slow_query_min_ms), unless it waits by design.  A statement mostly run
 * inside a call already reported as cacheable is left to that finding.
 */
static void judge_statements(struct detector *d, const uint64_t *reported, size_t n_reported)
{
	struct table *t = &d->t[T_STMT];
	size_t *idx = xmalloc((t->n + 1) * sizeof(*idx)), n = 0;
	double *p50 = xmalloc((t->n + 1) * sizeof(*p50)), *others = xmalloc((t->n + 1) * sizeof(*others));
	for (size_t i = 0; i < t->n; i++) {
		if (t->a[i].n < d->cfg.min_requests || !t->a[i].sk)
			continue;
		p50[n] = sketch_quantile(t->a[i].sk, 0.5);
		idx[n++] = i;
	}
	for (size_t x = 0; x < n; x++) {
		struct acc *a = &t->a[idx[x]];
		size_t k = 0;
		for (size_t y = 0; y < n; y++)
			if (y != x && t->a[idx[y]].endpoint == a->endpoint &&
			    t->a[idx[y]].detail != a->detail)
				others[k++] = p50[y];
		if (!k)
			continue;
		double base = median_of(others, k);
		if (p50[x] < d->cfg.slow_query_factor * base || p50[x] < d->cfg.slow_query_min_ms * 1e6)
			continue;
		if (a->n2 * 2 >= a->n && reported_has(reported, n_reported, a->tag))
			continue;
		if (statement_waits_by_design(detect_name(d, a->detail)))
			continue;
		struct finding *f = detect_add_finding(d, FINDING_MISSING_INDEX, a);
		f->endpoint = NULL;
		f->environment = NULL;
		f->tool = detect_name(d, a->endpoint); /* the database */
		f->occurrences = a->n;
		f->avg_ns = a->sum / (double)a->n;
		f->p50_ns = p50[x];
		f->baseline_ns = base;
		f->ratio = p50[x] / base;
		f->subject_requests = a->n;
		estimate(d, f, a->sum - (double)a->n * base);
		detect_rank(d, f);
	}
	free(others);
	free(p50);
	free(idx);
}

static void judge_payloads(struct detector *d)
{
	struct table *t = &d->t[T_PAYLOAD];
	for (size_t i = 0; i < t->n; i++) {
		struct acc *a = &t->a[i];
		if (a->n2 < d->cfg.min_requests || (double)a->n2 < d->cfg.large_payload_share * (double)a->n)
			continue;
		struct finding *f = detect_add_finding(d, FINDING_LARGE_PAYLOAD, a);
		f->occurrences = a->n2;
		f->subject_requests = a->n;
		f->avg_ns = a->sum2 / (double)a->n2;
		f->baseline_ns = a->n > a->n2 ? a->sum / (double)(a->n - a->n2) : 0;
		f->bytes = a->sum3 / (double)a->n2;
		f->rate = (double)a->n2 / (double)a->n;
		/* What the large bodies cost over the same operation's small ones. */
		double extra = f->baseline_ns > 0 ? f->avg_ns - f->baseline_ns : 0;
		estimate(d, f, extra * (double)a->n2);
		detect_rank(d, f);
	}
}

static void judge_retries(struct detector *d, const struct u64map *callees)
{
	struct table *t = &d->t[T_RETRY];
	uint32_t *home = homes_of(d, T_RETRY);
	for (size_t i = 0; i < t->n; i++) {
		struct acc *a = &t->a[i];
		struct sib x;
		if (home[i] != DNONE)
			continue;
		sib_of(d, T_RETRY, i, home, &x);
		if (x.affected < d->cfg.min_requests)
			continue;
		struct finding *f = sib_finding(d, FINDING_RETRY_STORM, a, &x);
		f->detail = targets_label(d, callees, detect_name(d, a->detail), 0);
		f->occurrences = x.n;
		f->avg_ns = x.sum / (double)x.n;
		f->rate = x.n2 ? (double)x.n / (double)x.n2 : 0;
		estimate(d, f, x.waste);
		detect_rank(d, f);
	}
	free(home);
}

static void judge_timeouts(struct detector *d, const struct u64map *callees)
{
	struct table *t = &d->t[T_TIMEOUT];
	for (size_t i = 0; i < t->n; i++) {
		struct acc *a = &t->a[i];
		if (a->n2 < d->cfg.timeout_min || (double)a->n2 < d->cfg.timeout_rate * (double)a->n)
			continue;
		struct finding *f = detect_add_finding(d, FINDING_TIMEOUTS, a);
		f->detail = targets_label(d, callees, detect_name(d, a->detail), 0);
		f->occurrences = a->n2;
		f->subject_requests = a->n;
		f->avg_ns = a->sum2 / (double)a->n2;
		f->baseline_ns = a->n3 ? a->sum3 / (double)a->n3 : 0;
		f->rate = (double)a->n2 / (double)a->n;
		/* The wait past a normal call: what failing fast would give back. */
		estimate(d, f, (f->avg_ns - f->baseline_ns) * (double)a->n2);
		detect_rank(d, f);
	}
}

/* ---- version regressions ---------------------------------------------------- */

static int name_cmp(const struct detector *d, uint32_t a, uint32_t b)
{
	if (a == b)
		return 0;
	if (!a || !b)
		return a ? 1 : -1;
	return strcmp(detect_name(d, a), detect_name(d, b));
}

/* By names, not name ids: the ids depend on the order things were seen in. */
static int version_cmp(const void *pa, const void *pb, void *ctx)
{
	const struct detector *d = ctx;
	const struct acc *t = d->t[T_VERSION].a;
	const struct acc *a = &t[*(const size_t *)pa], *b = &t[*(const size_t *)pb];
	const uint32_t ka[4] = {a->service, a->endpoint, a->version, a->env};
	const uint32_t kb[4] = {b->service, b->endpoint, b->version, b->env};
	for (int i = 0; i < 4; i++) {
		int c = name_cmp(d, ka[i], kb[i]);
		if (c)
			return c;
	}
	return 0;
}

static double acc_mean(const struct acc *a)
{
	return a->n ? a->sum / (double)a->n : 0;
}

static double acc_var(const struct acc *a)
{
	if (a->n < 2)
		return 0;
	double m = acc_mean(a);
	return fmax(0, (a->sumsq - (double)a->n * m * m) / (double)(a->n - 1));
}

/* Compare version block [s0, s1) with the fastest [f0, f1), environment by environment. */
static void compare_versions(struct detector *d, const size_t *idx, size_t s0, size_t s1, size_t f0,
			     size_t f1)
{
	const struct acc *t = d->t[T_VERSION].a;
	double w_sum = 0, r_mean = 0, r_p50 = 0, z_sum = 0, min_r = INFINITY;
	double n_slow = 0, sum_slow = 0, n_fast = 0, sum_fast = 0;
	unsigned k = 0;
	struct sketch slow;
	sketch_init(&slow);
	for (size_t i = s0; i < s1; i++) {
		const struct acc *s = &t[idx[i]];
		for (size_t j = f0; j < f1; j++) {
			const struct acc *f = &t[idx[j]];
			if (f->env != s->env || s->n < d->cfg.version_min_samples ||
			    f->n < d->cfg.version_min_samples)
				continue;
			double ms = acc_mean(s), mf = acc_mean(f);
			double ps = sketch_quantile(s->sk, 0.5), pf = sketch_quantile(f->sk, 0.5);
			double se = sqrt(acc_var(s) / (double)s->n + acc_var(f) / (double)f->n);
			double w = (double)(s->n < f->n ? s->n : f->n);
			if (mf <= 0 || pf <= 0)
				continue;
			r_mean += w * ms / mf;
			r_p50 += w * ps / pf;
			w_sum += w;
			min_r = fmin(min_r, ms / mf);
			z_sum += se > 0 ? (ms - mf) / se : 0;
			n_slow += (double)s->n;
			sum_slow += s->sum;
			n_fast += (double)f->n;
			sum_fast += f->sum;
			sketch_merge(&slow, s->sk);
			k++;
		}
	}
	if (!k)
		goto out;
	r_mean /= w_sum;
	r_p50 /= w_sum;
	if (r_mean < d->cfg.version_ratio || r_p50 < d->cfg.version_ratio || min_r < 1.0 ||
	    z_sum / sqrt((double)k) < d->cfg.version_min_z)
		goto out;
	const struct acc *a = &t[idx[s0]];
	char buf[256];
	const char *vs = detect_name(d, a->version), *vf = detect_name(d, t[idx[f0]].version);
	snprintf(buf, sizeof(buf), "%s vs %s", vs ? vs : "(none)", vf ? vf : "(none)");
	struct finding *f = detect_add_finding(d, FINDING_VERSION_REGRESSION, a);
	f->environment = NULL;
	f->detail = arena_strdup(&d->out, buf);
	f->occurrences = (uint64_t)n_slow;
	f->affected_requests = (uint64_t)n_slow;
	f->subject_requests = endpoint_requests(d, a->service, a->endpoint);
	f->avg_ns = sum_slow / n_slow;
	f->p50_ns = sketch_quantile(&slow, 0.5);
	f->baseline_ns = sum_fast / n_fast;
	f->ratio = r_mean;
	f->rate = r_p50;
	/* The saving is measured on the service's own span, so the share is of it too. */
	f->affected_latency_ns = f->avg_ns;
	estimate(d, f, (f->avg_ns - f->baseline_ns) * n_slow);
	detect_rank(d, f);
out:
	sketch_release(&slow);
}

/*
 * Same service and endpoint, per environment: a version whose mean and p50
 * are version_ratio times those of the fastest version (weighted over the
 * environments where both have version_min_samples requests), with a mean
 * no better in any of them, and with a combined z of the mean difference
 * of at least version_min_z.
 */
static void judge_versions(struct detector *d)
{
	struct table *t = &d->t[T_VERSION];
	size_t *idx = xmalloc((t->n + 1) * sizeof(*idx));
	for (size_t i = 0; i < t->n; i++)
		idx[i] = i;
	qsort_r(idx, t->n, sizeof(*idx), version_cmp, d);
	for (size_t b0 = 0, b1; b0 < t->n; b0 = b1) {
		const struct acc *a = &t->a[idx[b0]];
		for (b1 = b0; b1 < t->n && t->a[idx[b1]].service == a->service &&
			      t->a[idx[b1]].endpoint == a->endpoint;
		     b1++)
			;
		/* the fastest version by mean over all environments */
		size_t best0 = b0, best1 = b0;
		double best = INFINITY;
		for (size_t v0 = b0, v1; v0 < b1; v0 = v1) {
			double n = 0, s = 0;
			for (v1 = v0; v1 < b1 && t->a[idx[v1]].version == t->a[idx[v0]].version; v1++) {
				n += (double)t->a[idx[v1]].n;
				s += t->a[idx[v1]].sum;
			}
			if (n > 0 && s / n < best) {
				best = s / n;
				best0 = v0;
				best1 = v1;
			}
		}
		for (size_t v0 = b0, v1; v0 < b1; v0 = v1) {
			for (v1 = v0; v1 < b1 && t->a[idx[v1]].version == t->a[idx[v0]].version; v1++)
				;
			if (v0 != best0)
				compare_versions(d, idx, v0, v1, best0, best1);
		}
	}
	free(idx);
}

void detect_finish_traces(struct detector *d)
{
	uint64_t reported[256];
	size_t n_reported = 0;
	struct tags nplus1 = {.n = 0};
	struct u64map callees;
	callees_build(d, &callees);
	judge_n_plus_one(d, &nplus1);
	judge_sequential(d, &callees);
	judge_cacheable(d, &nplus1, reported, &n_reported, sizeof(reported) / sizeof(reported[0]));
	judge_statements(d, reported, n_reported);
	judge_payloads(d);
	judge_retries(d, &callees);
	judge_timeouts(d, &callees);
	judge_versions(d);
	u64map_release(&callees);
}
