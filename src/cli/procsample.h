/*
 * procsample.h - samples of a Linux host and some of its processes, read
 * from /proc, as OTLP metric points with the semantic-convention names
 * (`hotpath agent`, docs/AGENT.md):
 *
 *   host      system.cpu.utilization (by system.cpu.logical_number and
 *             system.cpu.state), system.cpu.logical.count,
 *             system.cpu.load_average.{1m,5m,15m}, system.memory.usage (by
 *             system.memory.state), system.memory.limit, system.disk.io and
 *             system.network.io (cumulative bytes by system.device and
 *             disk.io.direction / network.io.direction)
 *   process   process.cpu.utilization (by process.cpu.state, a share of the
 *             whole host, as the host-metrics packages send it),
 *             process.cpu.time, process.memory.usage (RSS),
 *             process.thread.count, process.open_file_descriptor.count,
 *             process.context_switches (by process.context_switch_type)
 *
 * The parsers take the text of one /proc file and never trust it: every
 * number is bounded, a malformed line is skipped.  Rates need two samples:
 * the first sample of a CPU or a process gives no utilisation.
 *
 * Ownership: a struct procsample is the caller's (procsample_release());
 * the points and resources of a sample live in the batch passed in.
 */
#ifndef HOTPATH_CLI_PROCSAMPLE_H
#define HOTPATH_CLI_PROCSAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/batch.h"

#define PROCSAMPLE_MAX_CPUS   256
#define PROCSAMPLE_MAX_PROCS  64
#define PROCSAMPLE_CPU_STATES 8 /* user nice system idle iowait irq softirq steal */

/* /proc/stat: the ticks of each CPU "cpuN" in the order above; returns CPUs read. */
int procsample_parse_stat(const char *text, size_t len, uint64_t ticks[][PROCSAMPLE_CPU_STATES],
			  int max_cpus);
/* /proc/meminfo: kB of MemTotal, MemFree, Buffers, Cached (0 when absent). */
void procsample_parse_meminfo(const char *text, size_t len, uint64_t kb[4]);
/* /proc/PID/stat: utime and stime in ticks, threads; the command name into comm. -1: malformed. */
int procsample_parse_pid_stat(const char *text, size_t len, char *comm, size_t commsz, uint64_t *utime,
			      uint64_t *stime, uint64_t *threads);
/* /proc/PID/status: voluntary and non-voluntary context switches, VmRSS in kB. */
void procsample_parse_status(const char *text, size_t len, uint64_t *vol, uint64_t *invol, uint64_t *rss_kb);
/* /proc/net/dev and /proc/diskstats: call fn(device, a, b) for each device:
 * received / transmitted bytes, read / written sectors. */
typedef void (*procsample_dev_fn)(void *arg, const char *dev, uint64_t a, uint64_t b);
void procsample_parse_net_dev(const char *text, size_t len, procsample_dev_fn fn, void *arg);
void procsample_parse_diskstats(const char *text, size_t len, procsample_dev_fn fn, void *arg);

struct procsample_proc {
	int pid;
	uint64_t ticks[2]; /* user, system at the last sample */
	uint64_t t_ns;
};

struct procsample {
	const char *root; /* "/proc" */
	char host[256];
	const char *service; /* of the processes' resource; NULL: their command name */
	int n_cpus;
	uint64_t prev[PROCSAMPLE_MAX_CPUS][PROCSAMPLE_CPU_STATES];
	uint64_t cur[PROCSAMPLE_MAX_CPUS][PROCSAMPLE_CPU_STATES];
	int have_prev;
	long hz;
	struct procsample_proc procs[PROCSAMPLE_MAX_PROCS];
	size_t n_procs;
};

void procsample_init(struct procsample *ps, const char *root, const char *service);
void procsample_release(struct procsample *ps);
/*
 * One sample at now_ns into `b`: the host, and each process of `pids`
 * (n_pids) and every process whose command name is one of `names`.
 * Returns the points added, or -1 with a message when /proc cannot be read.
 */
long procsample_collect(struct procsample *ps, struct batch *b, const int *pids, size_t n_pids,
			const char *const *names, size_t n_names, uint64_t now_ns, char *err, size_t errlen);

#endif
