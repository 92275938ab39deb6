/*
 * procsample.c - /proc read into OTLP metric points (see procsample.h).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/procsample.h"
#include "core/buf.h"

#define FILE_MAX (1u << 20) /* a /proc file read at most */

static const char *const cpu_states[PROCSAMPLE_CPU_STATES] = {"user", "nice",	   "system",  "idle",
							      "wait", "interrupt", "softirq", "steal"};

/* ---- parsing ------------------------------------------------------------------ */

/* The next unsigned number in [*p, end), skipping blanks; -1 when none.  Saturates. */
static int next_u64(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s >= end || *s < '0' || *s > '9')
		return -1;
	uint64_t x = 0;
	for (; s < end && *s >= '0' && *s <= '9'; s++)
		x = x > (UINT64_MAX - 9) / 10 ? UINT64_MAX : x * 10 + (uint64_t)(*s - '0');
	*v = x;
	*p = s;
	return 0;
}

static const char *line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	return nl ? nl : end;
}

int procsample_parse_stat(const char *text, size_t len, uint64_t ticks[][PROCSAMPLE_CPU_STATES], int max_cpus)
{
	const char *p = text, *end = text + len;
	int n = 0;
	for (; p < end; p = line_end(p, end) + 1) {
		const char *e = line_end(p, end);
		if (e - p < 4 || memcmp(p, "cpu", 3) || p[3] < '0' || p[3] > '9')
			continue;
		const char *q = p + 3;
		uint64_t cpu, v[PROCSAMPLE_CPU_STATES] = {0};
		if (next_u64(&q, e, &cpu) < 0 || cpu >= (uint64_t)max_cpus)
			continue;
		int k = 0;
		while (k < PROCSAMPLE_CPU_STATES && next_u64(&q, e, &v[k]) == 0)
			k++;
		if (k < 4)
			continue;
		memcpy(ticks[cpu], v, sizeof(v));
		if ((int)cpu + 1 > n)
			n = (int)cpu + 1;
	}
	return n;
}

void procsample_parse_meminfo(const char *text, size_t len, uint64_t kb[4])
{
	static const char *const keys[4] = {"MemTotal:", "MemFree:", "Buffers:", "Cached:"};
	const char *p = text, *end = text + len;
	memset(kb, 0, 4 * sizeof(*kb));
	for (; p < end; p = line_end(p, end) + 1) {
		const char *e = line_end(p, end);
		for (int i = 0; i < 4; i++) {
			size_t kl = strlen(keys[i]);
			const char *q = p + kl;
			if ((size_t)(e - p) > kl && !memcmp(p, keys[i], kl))
				next_u64(&q, e, &kb[i]);
		}
	}
}

int procsample_parse_pid_stat(const char *text, size_t len, char *comm, size_t commsz, uint64_t *utime,
			      uint64_t *stime, uint64_t *threads)
{
	/* "pid (comm) state ppid ...": comm may hold spaces and parentheses, so up to the last ')' */
	const char *open = memchr(text, '(', len), *close = NULL, *end = text + len;
	for (const char *s = end; s > text; s--)
		if (s[-1] == ')') {
			close = s - 1;
			break;
		}
	if (!open || !close || close < open || !commsz)
		return -1;
	size_t cl = (size_t)(close - open - 1);
	cl = cl < commsz - 1 ? cl : commsz - 1;
	memcpy(comm, open + 1, cl);
	comm[cl] = '\0';
	/* after ") ": field 3 (state) is a letter; utime, stime are fields 14, 15; threads 20 */
	const char *q = close + 1;
	uint64_t v, f[21] = {0};
	while (q < end && (*q == ' ' || (*q >= 'A' && *q <= 'z')))
		q++;
	for (int i = 4; i <= 20; i++) {
		const char *r = q;
		while (r < end && *r == ' ')
			r++;
		if (r < end && *r == '-') /* a negative field (priority, nice): skip it */
			r++;
		q = r;
		if (next_u64(&q, end, &v) < 0)
			return -1;
		f[i] = v;
	}
	*utime = f[14];
	*stime = f[15];
	*threads = f[20];
	return 0;
}

void procsample_parse_status(const char *text, size_t len, uint64_t *vol, uint64_t *invol, uint64_t *rss_kb)
{
	static const char *const keys[3] = {
		"voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:", "VmRSS:"};
	uint64_t *out[3] = {vol, invol, rss_kb};
	const char *p = text, *end = text + len;
	*vol = *invol = *rss_kb = 0;
	for (; p < end; p = line_end(p, end) + 1) {
		const char *e = line_end(p, end);
		for (int i = 0; i < 3; i++) {
			size_t kl = strlen(keys[i]);
			const char *q = p + kl;
			if ((size_t)(e - p) > kl && !memcmp(p, keys[i], kl))
				next_u64(&q, e, out[i]);
		}
	}
}

/* The device name of a line: the first word (up to ':' for net/dev), bounded. */
static int device_word(const char **q, const char *e, char *dev, size_t devsz, char stop)
{
	const char *s = *q;
	while (s < e && *s == ' ')
		s++;
	size_t n = 0;
	while (s < e && *s != ' ' && *s != stop && n + 1 < devsz)
		dev[n++] = *s++;
	dev[n] = '\0';
	if (!n)
		return -1;
	while (s < e && *s != ' ' && *s != stop)
		s++; /* a name longer than devsz: the rest is skipped */
	if (stop && s < e && *s == stop)
		s++;
	*q = s;
	return 0;
}

void procsample_parse_net_dev(const char *text, size_t len, procsample_dev_fn fn, void *arg)
{
	const char *p = text, *end = text + len;
	for (; p < end; p = line_end(p, end) + 1) {
		const char *e = line_end(p, end), *q = p;
		char dev[64];
		uint64_t v[9];
		if (!memchr(p, ':', (size_t)(e - p)) || device_word(&q, e, dev, sizeof(dev), ':') < 0)
			continue;
		int k = 0;
		while (k < 9 && next_u64(&q, e, &v[k]) == 0)
			k++;
		if (k == 9) /* received bytes are the first field, transmitted the ninth */
			fn(arg, dev, v[0], v[8]);
	}
}

void procsample_parse_diskstats(const char *text, size_t len, procsample_dev_fn fn, void *arg)
{
	const char *p = text, *end = text + len;
	for (; p < end; p = line_end(p, end) + 1) {
		const char *e = line_end(p, end), *q = p;
		char dev[64];
		uint64_t major, minor, v[7];
		if (next_u64(&q, e, &major) < 0 || next_u64(&q, e, &minor) < 0 ||
		    device_word(&q, e, dev, sizeof(dev), 0) < 0)
			continue;
		int k = 0;
		while (k < 7 && next_u64(&q, e, &v[k]) == 0)
			k++;
		/* reads completed, merged, sectors read, ms; writes completed, merged, sectors written */
		if (k == 7 && strncmp(dev, "loop", 4) && strncmp(dev, "ram", 3))
			fn(arg, dev, v[2], v[6]);
	}
}

/* ---- points ------------------------------------------------------------------ */

static struct resource *make_resource(struct batch *b, const char *service, const char *host, int pid)
{
	struct resource *r = arena_zalloc(&b->arena, sizeof(*r));
	char inst[300];
	r->attrs = arena_zalloc(&b->arena, 4 * sizeof(struct attr));
	r->attrs[r->n_attrs++] = (struct attr){
		.key = "service.name", .type = ATTR_STRING, .v.s = arena_strdup(&b->arena, service)};
	r->attrs[r->n_attrs++] =
		(struct attr){.key = "host.name", .type = ATTR_STRING, .v.s = arena_strdup(&b->arena, host)};
	if (pid > 0) {
		snprintf(inst, sizeof(inst), "%s/%d", host, pid);
		r->attrs[r->n_attrs++] = (struct attr){.key = "service.instance.id",
						       .type = ATTR_STRING,
						       .v.s = arena_strdup(&b->arena, inst)};
		r->attrs[r->n_attrs++] = (struct attr){.key = "process.pid", .type = ATTR_INT, .v.i = pid};
	}
	resource_derive(r);
	return r;
}

/* A point with up to two string attributes (key NULL: none). */
static void add(struct batch *b, const struct resource *r, const char *name, const char *unit, uint8_t type,
		uint64_t t, double v, const char *k1, const char *v1, const char *k2, const char *v2)
{
	struct metric_point *p = batch_add_point(b);
	*p = (struct metric_point){
		.resource = r, .name = name, .unit = unit, .type = type, .time_ns = t, .value = v};
	p->attrs = arena_zalloc(&b->arena, 2 * sizeof(struct attr));
	if (k1)
		p->attrs[p->n_attrs++] =
			(struct attr){.key = k1, .type = ATTR_STRING, .v.s = arena_strdup(&b->arena, v1)};
	if (k2)
		p->attrs[p->n_attrs++] =
			(struct attr){.key = k2, .type = ATTR_STRING, .v.s = arena_strdup(&b->arena, v2)};
}

static long read_text(const char *path, struct buf *out)
{
	buf_reset(out);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && out->len < FILE_MAX)
		buf_append(out, chunk, n);
	fclose(f);
	return (long)out->len;
}

void procsample_init(struct procsample *ps, const char *root, const char *service)
{
	memset(ps, 0, sizeof(*ps));
	ps->root = root ? root : "/proc";
	ps->service = service;
	ps->hz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
	if (gethostname(ps->host, sizeof(ps->host) - 1) < 0)
		snprintf(ps->host, sizeof(ps->host), "localhost");
}

void procsample_release(struct procsample *ps)
{
	(void)ps;
}

struct dev_ctx {
	struct batch *b;
	const struct resource *r;
	const char *name, *dir_key, *dirs[2];
	double scale;
	uint64_t t;
};

static void on_dev(void *arg, const char *dev, uint64_t a, uint64_t b2)
{
	struct dev_ctx *c = arg;
	add(c->b, c->r, c->name, "By", METRIC_SUM, c->t, (double)a * c->scale, "system.device", dev,
	    c->dir_key, c->dirs[0]);
	add(c->b, c->r, c->name, "By", METRIC_SUM, c->t, (double)b2 * c->scale, "system.device", dev,
	    c->dir_key, c->dirs[1]);
}

/* ROOT/rel read into `txt`; -1 when it cannot be read. */
static long read_proc(const struct procsample *ps, const char *rel, struct buf *txt)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", ps->root, rel);
	return read_text(path, txt);
}

static void host_cpu(struct procsample *ps, struct batch *b, const struct resource *r, struct buf *txt,
		     uint64_t t)
{
	char num[16];
	int n = read_proc(ps, "stat", txt) < 0
			? 0
			: procsample_parse_stat(txt->data, txt->len, ps->cur, PROCSAMPLE_MAX_CPUS);
	if (n <= 0)
		return;
	add(b, r, "system.cpu.logical.count", "{cpu}", METRIC_GAUGE, t, n, NULL, NULL, NULL, NULL);
	for (int c = 0; ps->have_prev && c < n && c < ps->n_cpus; c++) {
		uint64_t total = 0, d[PROCSAMPLE_CPU_STATES];
		for (int k = 0; k < PROCSAMPLE_CPU_STATES; k++) {
			d[k] = ps->cur[c][k] >= ps->prev[c][k] ? ps->cur[c][k] - ps->prev[c][k] : 0;
			total += d[k];
		}
		snprintf(num, sizeof(num), "%d", c);
		for (int k = 0; total && k < PROCSAMPLE_CPU_STATES; k++)
			add(b, r, "system.cpu.utilization", "1", METRIC_GAUGE, t,
			    (double)d[k] / (double)total, "system.cpu.logical_number", num,
			    "system.cpu.state", cpu_states[k]);
	}
	memcpy(ps->prev, ps->cur, sizeof(ps->prev[0]) * (size_t)n);
	ps->n_cpus = n;
	ps->have_prev = 1;
}

static void host_rest(struct procsample *ps, struct batch *b, const struct resource *r, struct buf *txt,
		      uint64_t t)
{
	static const char *const loads[3] = {"system.cpu.load_average.1m", "system.cpu.load_average.5m",
					     "system.cpu.load_average.15m"};
	uint64_t kb[4];
	if (read_proc(ps, "loadavg", txt) > 0) {
		char *s = txt->data, *e;
		for (int i = 0; i < 3; i++, s = e) {
			double v = strtod(s, &e);
			if (e == s)
				break;
			add(b, r, loads[i], "{thread}", METRIC_GAUGE, t, v, NULL, NULL, NULL, NULL);
		}
	}
	if (read_proc(ps, "meminfo", txt) > 0) {
		procsample_parse_meminfo(txt->data, txt->len, kb);
		double total = (double)kb[0] * 1024, fre = (double)kb[1] * 1024,
		       buffers = (double)kb[2] * 1024, cached = (double)kb[3] * 1024,
		       used = total - fre - buffers - cached;
		add(b, r, "system.memory.limit", "By", METRIC_GAUGE, t, total, NULL, NULL, NULL, NULL);
		add(b, r, "system.memory.usage", "By", METRIC_GAUGE, t, used > 0 ? used : 0,
		    "system.memory.state", "used", NULL, NULL);
		add(b, r, "system.memory.usage", "By", METRIC_GAUGE, t, fre, "system.memory.state", "free",
		    NULL, NULL);
		add(b, r, "system.memory.usage", "By", METRIC_GAUGE, t, buffers, "system.memory.state",
		    "buffers", NULL, NULL);
		add(b, r, "system.memory.usage", "By", METRIC_GAUGE, t, cached, "system.memory.state",
		    "cached", NULL, NULL);
	}
	struct dev_ctx nc = {b, r, "system.network.io", "network.io.direction", {"receive", "transmit"},
			     1, t};
	if (read_proc(ps, "net/dev", txt) > 0)
		procsample_parse_net_dev(txt->data, txt->len, on_dev, &nc);
	struct dev_ctx dc = {b, r, "system.disk.io", "disk.io.direction", {"read", "write"}, 512, t};
	if (read_proc(ps, "diskstats", txt) > 0)
		procsample_parse_diskstats(txt->data, txt->len, on_dev, &dc);
}

static struct procsample_proc *proc_state(struct procsample *ps, int pid)
{
	for (size_t i = 0; i < ps->n_procs; i++)
		if (ps->procs[i].pid == pid)
			return &ps->procs[i];
	if (ps->n_procs == PROCSAMPLE_MAX_PROCS)
		return NULL;
	struct procsample_proc *p = &ps->procs[ps->n_procs++];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	return p;
}

/* Count the entries of ROOT/PID/fd; -1 when it cannot be read (another user's process). */
static long count_fds(const struct procsample *ps, int pid)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%d/fd", ps->root, pid);
	DIR *d = opendir(path);
	long n = 0;
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* One process's points; 0 when it is gone. */
static int process_points(struct procsample *ps, struct batch *b, int pid, struct buf *txt, uint64_t t)
{
	char rel[64], comm[64];
	uint64_t ut, st, threads, vol, invol, rss;
	snprintf(rel, sizeof(rel), "%d/stat", pid);
	if (read_proc(ps, rel, txt) <= 0 ||
	    procsample_parse_pid_stat(txt->data, txt->len, comm, sizeof(comm), &ut, &st, &threads) < 0)
		return 0;
	snprintf(rel, sizeof(rel), "%d/status", pid);
	vol = invol = rss = 0;
	if (read_proc(ps, rel, txt) > 0)
		procsample_parse_status(txt->data, txt->len, &vol, &invol, &rss);
	const struct resource *r = make_resource(b, ps->service ? ps->service : comm, ps->host, pid);
	double hz = (double)ps->hz, n_cpus = ps->n_cpus > 0 ? ps->n_cpus : 1;
	struct procsample_proc *pp = proc_state(ps, pid);
	if (pp && pp->t_ns && t > pp->t_ns) {
		double secs = (double)(t - pp->t_ns) / 1e9;
		double du = ut >= pp->ticks[0] ? (double)(ut - pp->ticks[0]) : 0;
		double ds = st >= pp->ticks[1] ? (double)(st - pp->ticks[1]) : 0;
		/* a share of the whole host, as the host-metrics packages send it */
		add(b, r, "process.cpu.utilization", "1", METRIC_GAUGE, t, du / hz / secs / n_cpus,
		    "process.cpu.state", "user", NULL, NULL);
		add(b, r, "process.cpu.utilization", "1", METRIC_GAUGE, t, ds / hz / secs / n_cpus,
		    "process.cpu.state", "system", NULL, NULL);
	}
	if (pp) {
		pp->ticks[0] = ut;
		pp->ticks[1] = st;
		pp->t_ns = t;
	}
	add(b, r, "process.cpu.time", "s", METRIC_SUM, t, (double)ut / hz, "process.cpu.state", "user", NULL,
	    NULL);
	add(b, r, "process.cpu.time", "s", METRIC_SUM, t, (double)st / hz, "process.cpu.state", "system",
	    NULL, NULL);
	add(b, r, "process.memory.usage", "By", METRIC_GAUGE, t, (double)rss * 1024, NULL, NULL, NULL, NULL);
	add(b, r, "process.thread.count", "{thread}", METRIC_GAUGE, t, (double)threads, NULL, NULL, NULL,
	    NULL);
	long fds = count_fds(ps, pid);
	if (fds >= 0)
		add(b, r, "process.open_file_descriptor.count", "{file_descriptor}", METRIC_GAUGE, t,
		    (double)fds, NULL, NULL, NULL, NULL);
	add(b, r, "process.context_switches", "{context_switch}", METRIC_SUM, t, (double)vol,
	    "process.context_switch_type", "voluntary", NULL, NULL);
	add(b, r, "process.context_switches", "{context_switch}", METRIC_SUM, t, (double)invol,
	    "process.context_switch_type", "involuntary", NULL, NULL);
	return 1;
}

/* Whether the command name of ROOT/PID is one of `names`. */
static int name_matches(const struct procsample *ps, int pid, const char *const *names, size_t n,
			struct buf *txt)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "%d/comm", pid);
	if (read_proc(ps, rel, txt) <= 0)
		return 0;
	while (txt->len && (txt->data[txt->len - 1] == '\n'))
		txt->data[--txt->len] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!strcmp(txt->data, names[i]))
			return 1;
	return 0;
}

long procsample_collect(struct procsample *ps, struct batch *b, const int *pids, size_t n_pids,
			const char *const *names, size_t n_names, uint64_t now_ns, char *err, size_t errlen)
{
	struct buf txt;
	size_t n0 = b->n_points;
	buf_init(&txt, FILE_MAX + 8192);
	const struct resource *host = make_resource(b, "host", ps->host, 0);
	host_cpu(ps, b, host, &txt, now_ns);
	if (!ps->have_prev) {
		snprintf(err, errlen, "cannot read %s/stat", ps->root);
		buf_release(&txt);
		return -1;
	}
	host_rest(ps, b, host, &txt, now_ns);
	for (size_t i = 0; i < n_pids; i++)
		process_points(ps, b, pids[i], &txt, now_ns);
	if (n_names) {
		DIR *d = opendir(ps->root);
		for (struct dirent *e; d && (e = readdir(d));) {
			char *end;
			long pid = strtol(e->d_name, &end, 10);
			if (*end || pid <= 0 || pid > 1 << 22)
				continue;
			if (name_matches(ps, (int)pid, names, n_names, &txt))
				process_points(ps, b, (int)pid, &txt, now_ns);
		}
		if (d)
			closedir(d);
	}
	buf_release(&txt);
	return (long)(b->n_points - n0);
}
