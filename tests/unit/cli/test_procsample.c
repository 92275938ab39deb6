/*
 * test_procsample.c - the /proc parsers of `hotpath agent`
 * (src/cli/procsample.c) on files as the kernel writes them, and on the
 * odd ones: a command name with spaces and parentheses, negative fields,
 * truncated lines, numbers past 64 bits.
 */
#include <stdio.h>
#include <string.h>

#include "cli/procsample.h"
#include "tap.h"

static void test_stat(void)
{
	static uint64_t t[PROCSAMPLE_MAX_CPUS][PROCSAMPLE_CPU_STATES];
	const char *s = "cpu  10 0 20 300 4 0 1 0 0 0\n"
			"cpu0 5 0 10 150 2 0 1 0 0 0\n"
			"cpu1 5 0 10 150 2 0 0 0 0 0\n"
			"cpu7 1 2\n" /* too short: skipped */
			"intr 123\nctxt 456\n";
	is_int(procsample_parse_stat(s, strlen(s), t, PROCSAMPLE_MAX_CPUS), 2,
	       "two CPUs (the total line and a short one skipped)");
	ok(t[0][0] == 5 && t[0][2] == 10 && t[0][3] == 150 && t[0][6] == 1,
	   "cpu0: user, system, idle, softirq");
	const char *big = "cpu0 99999999999999999999999 1 1 1\n";
	procsample_parse_stat(big, strlen(big), t, PROCSAMPLE_MAX_CPUS);
	ok(t[0][0] == UINT64_MAX, "a number past 64 bits saturates");
}

static void test_pid_stat(void)
{
	char comm[64];
	uint64_t ut, st, th;
	const char *s = "4242 (my (odd) app) S 1 4242 4242 0 -1 4194560 1234 0 0 0 "
			"731 52 0 0 20 0 9 0 100 1000000 2000 18446744073709551615\n";
	ok(procsample_parse_pid_stat(s, strlen(s), comm, sizeof(comm), &ut, &st, &th) == 0, "parses");
	is_str(comm, "my (odd) app", "the command name up to the last ')'");
	is_int(ut, 731, "utime");
	is_int(st, 52, "stime");
	is_int(th, 9, "threads");
	const char *cut = "4242 (app) S 1 2 3";
	ok(procsample_parse_pid_stat(cut, strlen(cut), comm, sizeof(comm), &ut, &st, &th) < 0,
	   "a truncated line is refused");
}

static void on_dev(void *arg, const char *dev, uint64_t a, uint64_t b)
{
	char *out = arg;
	size_t n = strlen(out);
	snprintf(out + n, 256 - n, "%s:%llu/%llu ", dev, (unsigned long long)a, (unsigned long long)b);
}

static void test_devices(void)
{
	char got[256] = "";
	const char *net =
		"Inter-|   Receive                                                |  Transmit\n"
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets\n"
		"    lo:  1000      10    0    0    0     0          0         0     1000      10    0    0  "
		"  0     0       0          0\n"
		"  eth0: 123456    100    0    0    0     0          0         0    654321     90    0    0  "
		"  0     0       0          0\n";
	procsample_parse_net_dev(net, strlen(net), on_dev, got);
	is_str(got, "lo:1000/1000 eth0:123456/654321 ", "received and transmitted bytes per interface");
	got[0] = '\0';
	const char *disk = "   7       0 loop0 5 0 10 0 0 0 0 0 0 0 0\n"
			   " 259       0 nvme0n1 100 5 2048 30 50 7 4096 20 0 40 50\n";
	procsample_parse_diskstats(disk, strlen(disk), on_dev, got);
	is_str(got, "nvme0n1:2048/4096 ", "sectors read and written, loop devices left out");
}

static void test_meminfo_status(void)
{
	uint64_t kb[4], v, i, rss;
	const char *m = "MemTotal:       16316412 kB\nMemFree:         1000000 kB\nMemAvailable: 9 kB\n"
			"Buffers:          200000 kB\nCached:          3000000 kB\nSwapCached: 0 kB\n";
	procsample_parse_meminfo(m, strlen(m), kb);
	ok(kb[0] == 16316412 && kb[1] == 1000000 && kb[2] == 200000 && kb[3] == 3000000,
	   "MemTotal, MemFree, Buffers, Cached (not SwapCached)");
	const char *s = "Name:\tapp\nVmRSS:\t   51200 "
			"kB\nvoluntary_ctxt_switches:\t77\nnonvoluntary_ctxt_switches:\t5\n";
	procsample_parse_status(s, strlen(s), &v, &i, &rss);
	ok(v == 77 && i == 5 && rss == 51200, "context switches and VmRSS");
}

int main(void)
{
	test_stat();
	test_pid_stat();
	test_devices();
	test_meminfo_status();
	return tap_done();
}
