/*
 * test_collapse_perf.c - `perf script` collapsing against the reference.
 *
 * Data-driven: every input in $HOTPATH_SHARED/testdata/flamegraph (default
 * ../shared) with every option has a result file made by the reference
 * collapser; each (input, option) pair is one test comparing bytes.  Those
 * files are outside data: without them the test reports itself skipped.
 * Then the edge rules, streaming in odd chunk sizes, and the limits.
 *
 * The committed results predate a change of the reference: the current
 * stackcollapse-perf.pl strips the leading 'L' of Java class names
 * ("Lorg/x/Y;.run" -> "org/x/Y:.run") under every option, where the older
 * script compared the process name with its "-PID" suffix to "java" and so
 * kept the 'L' under --pid and --tid.  These six expected files show the
 * older behaviour:
 *   perf-java-faults-01-collapsed-pid.txt  perf-java-faults-01-collapsed-tid.txt
 *   perf-java-stacks-01-collapsed-pid.txt  perf-java-stacks-01-collapsed-tid.txt
 *   perf-java-stacks-02-collapsed-pid.txt  perf-java-stacks-02-collapsed-tid.txt
 * hotpath follows the current script, so for --pid and --tid the expected
 * bytes are the committed ones with that 'L' stripped in java processes
 * (current_script_result), and a test checks that exactly these six files
 * needed it.
 */
#include <dirent.h>
#include <stdlib.h>

#include "core/buf.h"
#include "profile/collapse_perf.h"
#include "tap.h"

static const struct {
	const char *name;
	unsigned flags;
} options[] = {
	{"pid", COLLAPSE_PERF_PID}, {"tid", COLLAPSE_PERF_TID}, {"kernel", COLLAPSE_PERF_KERNEL},
	{"jit", COLLAPSE_PERF_JIT}, {"all", COLLAPSE_PERF_ALL}, {"addrs", COLLAPSE_PERF_ADDRS},
};

/* Print the first line where got and want differ, as TAP comments. */
static void show_first_difference(const char *got, size_t glen, const char *want, size_t wlen)
{
	size_t i = 0, line = 1, start = 0;
	while (i < glen && i < wlen && got[i] == want[i]) {
		if (got[i] == '\n') {
			line++;
			start = i + 1;
		}
		i++;
	}
	const char *ge = memchr(got + start, '\n', glen - start);
	const char *we = memchr(want + start, '\n', wlen - start);
	int gl = (int)((ge ? ge : got + glen) - (got + start));
	int wl = (int)((we ? we : want + wlen) - (want + start));
	printf("#   first difference at line %zu\n", line);
	printf("#   got:  %.*s%s\n", gl > 300 ? 300 : gl, got + start, start < glen ? "" : "(end of output)");
	printf("#   want: %.*s%s\n", wl > 300 ? 300 : wl, want + start,
	       start < wlen ? "" : "(end of output)");
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One line of a result: the stack (NUL-terminated in place) and its count. */
struct result_line {
	char *stack;
	unsigned long long count;
};

static int cmp_stack(const void *a, const void *b)
{
	return strcmp(((const struct result_line *)a)->stack, ((const struct result_line *)b)->stack);
}

/* Whether a --pid/--tid stack is of a java process: "java-PID[/TID];...". */
static int java_process(const char *stack)
{
	size_t name = strcspn(stack, ";");
	return name > 5 && !strncmp(stack, "java-", 5) && strspn(stack + 5, "0123456789?/") == name - 5;
}

/* Drop the 'L' of the frames "L.../..." after the process name; 1 if any. */
static int strip_java_l(char *stack)
{
	int changed = 0;
	for (char *f = strchr(stack, ';'); f; f = strchr(f + 1, ';')) {
		char *s = f + 1;
		size_t n = strcspn(s, ";");
		if (n && s[0] == 'L' && memchr(s, '/', n)) {
			memmove(s, s + 1, strlen(s));
			changed = 1;
		}
	}
	return changed;
}

/*
 * A committed --pid/--tid result as the current script prints it (see the
 * top of this file): the 'L' stripped in java processes, lines sorted again
 * and equal stacks summed.  Returns 1 if that changed anything.
 */
static int current_script_result(struct buf *want)
{
	struct result_line *lines = calloc(want->len / 2 + 1, sizeof(*lines));
	size_t n = 0;
	int changed = 0;
	for (char *p = want->data, *nl; p && *p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = 0;
		char *sp = strrchr(p, ' ');
		if (!sp)
			continue;
		*sp = 0;
		lines[n] = (struct result_line){.stack = p, .count = strtoull(sp + 1, NULL, 10)};
		if (java_process(p))
			changed |= strip_java_l(p);
		n++;
	}
	qsort(lines, n, sizeof(*lines), cmp_stack);
	struct buf out;
	buf_init(&out, BUF_NO_LIMIT);
	for (size_t i = 0; i < n; i++) {
		unsigned long long count = lines[i].count;
		while (i + 1 < n && !strcmp(lines[i].stack, lines[i + 1].stack))
			count += lines[++i].count;
		buf_printf(&out, "%s %llu\n", lines[i].stack, count);
	}
	free(lines);
	buf_release(want);
	*want = out;
	return changed;
}

static void test_reference_files(void)
{
	const char *shared = getenv("HOTPATH_SHARED");
	char dir[4096], path[4096 + 256], reason[4200];
	char *names[256];
	size_t n = 0;
	struct buf adjusted;

	snprintf(dir, sizeof(dir), "%s/testdata/flamegraph", shared && *shared ? shared : "../shared");
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(reason, sizeof(reason), "no reference data in %s (set HOTPATH_SHARED)", dir);
		tap_skip("perf script inputs against the reference collapser's results", reason);
		return;
	}
	buf_init(&adjusted, BUF_NO_LIMIT);
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < 256) {
		size_t len = strlen(e->d_name);
		if (len > 4 && !strcmp(e->d_name + len - 4, ".txt"))
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_name);
	ok(n >= 8, "found %zu perf script inputs in %s", n, dir);

	for (size_t i = 0; i < n; i++) {
		struct buf in, want, got;
		buf_init(&in, BUF_NO_LIMIT);
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (!ok(buf_read_file(&in, path) == 0, "read %s", names[i]))
			continue;
		for (size_t k = 0; k < sizeof(options) / sizeof(options[0]); k++) {
			char err[256] = "";
			struct collapse_perf_opts o = {.flags = options[k].flags};
			buf_init(&want, BUF_NO_LIMIT);
			buf_init(&got, BUF_NO_LIMIT);
			snprintf(path, sizeof(path), "%s/results/%.*s-collapsed-%s.txt", dir,
				 (int)strlen(names[i]) - 4, names[i], options[k].name);
			int have = buf_read_file(&want, path) == 0;
			if (have && (options[k].flags & (COLLAPSE_PERF_PID | COLLAPSE_PERF_TID)) &&
			    current_script_result(&want))
				buf_printf(&adjusted, "%s%s", adjusted.len ? " " : "",
					   strrchr(path, '/') + 1);
			int r = collapse_perf_buffer(in.data, in.len, &o, &got, err, sizeof(err));
			int same = have && r == 0 && got.len == want.len &&
				   memcmp(got.data, want.data, got.len) == 0;
			if (!ok(same, "%s --%s matches the reference byte for byte", names[i],
				options[k].name)) {
				if (!have)
					printf("#   no expected result %s\n", path);
				else if (r)
					printf("#   error: %s\n", err);
				else
					show_first_difference(got.data ? got.data : "", got.len, want.data,
							      want.len);
			}
			buf_release(&want);
			buf_release(&got);
		}
		buf_release(&in);
		free(names[i]);
	}
	is_str(adjusted.data ? adjusted.data : "",
	       "perf-java-faults-01-collapsed-pid.txt perf-java-faults-01-collapsed-tid.txt "
	       "perf-java-stacks-01-collapsed-pid.txt perf-java-stacks-01-collapsed-tid.txt "
	       "perf-java-stacks-02-collapsed-pid.txt perf-java-stacks-02-collapsed-tid.txt",
	       "only the Java --pid/--tid results predate the current script");
	buf_release(&adjusted);
}

static const char synthetic[] = "# comment lines are skipped\n"
				"java 123/456 [001] 1.0: 100 cycles: \n"
				"\t1 foo->bar+0x1f (/tmp/perf-123.map)\n"
				"\t2 Lorg/x/Y;.run(I)V (/tmp/perf-123.map)\n"
				"\t3 [unknown] (/usr/lib/libz.so)\n"
				"\t4 do_sys_open+0x12 ([kernel.kallsyms])\n"
				"\n"
				"java 123/457 [001] 1.1: 100 cycles: \n"
				"\t5 [unknown] ([unknown])\n"
				"\n"
				"V8 WorkerThread 7 2.0: 5 instructions: \n"
				"\t6 x (y)\n"
				"\n"
				"ab 9 3.0: cycles: \n"
				"\t7 (anonymous namespace)::f(int) (/bin/ab)\n"
				"\t8 net/http.(*Client).Do (/bin/ab)\n"
				"\n"
				"ab 9 3.0: cycles: \n"
				"\t9 no_blank_line_after_this_sample (/bin/ab)\n";

/* Expected outputs come from the reference collapser run on `synthetic`;
 * with --pid and --tid, "Lorg/x/Y" loses its 'L' as the current script
 * strips it (see the top of this file). */
static void test_synthetic(void)
{
	static const struct {
		unsigned flags;
		const char *want;
	} cases[] = {
		{0, "ab;net/http.(*Client).Do 1\n"
		    "java;[unknown] 100\n"
		    "java;do_sys_open;[libz.so];org/x/Y:.run;foo;bar_[i] 100\n"},
		{COLLAPSE_PERF_PID, "ab-?;net/http.(*Client).Do 1\n"
				    "java-123;[unknown] 100\n"
				    "java-123;do_sys_open;[libz.so];org/x/Y:.run;foo;bar_[i] 100\n"},
		{COLLAPSE_PERF_TID, "ab-?/9;net/http.(*Client).Do 1\n"
				    "java-123/456;do_sys_open;[libz.so];org/x/Y:.run;foo;bar_[i] 100\n"
				    "java-123/457;[unknown] 100\n"},
		{COLLAPSE_PERF_ALL, "ab;net/http.(*Client).Do 1\n"
				    "java;[unknown] 100\n"
				    "java;do_sys_open_[k];[libz.so];org/x/Y:.run_[j];foo_[j];bar_[i] 100\n"},
		{COLLAPSE_PERF_ADDRS, "ab;net/http.(*Client).Do 1\n"
				      "java;[unknown <5>] 100\n"
				      "java;do_sys_open;[libz.so <3>];org/x/Y:.run;foo;bar_[i] 100\n"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf got;
		char err[256] = "";
		struct collapse_perf_opts o = {.flags = cases[i].flags};
		buf_init(&got, BUF_NO_LIMIT);
		int r = collapse_perf_buffer(synthetic, sizeof(synthetic) - 1, &o, &got, err, sizeof(err));
		is_int(r, 0, "synthetic input, flags %#x: no error (%s)", cases[i].flags, err);
		is_str(got.data ? got.data : "", cases[i].want, "synthetic input, flags %#x", cases[i].flags);
		buf_release(&got);
	}

	struct collapse_perf *c = collapse_perf_new(NULL);
	char err[256];
	collapse_perf_feed(c, synthetic, sizeof(synthetic) - 1, err, sizeof(err));
	collapse_perf_finish(c, err, sizeof(err));
	const struct collapse_perf_stats *st = collapse_perf_stats(c);
	is_int(st->samples, 3, "three samples counted: one skipped, one without a blank line after it");
	is_int(st->filtered, 1, "one sample of a second event type is skipped");
	is_str(st->kept_event, "cycles", "the first event type is kept");
	is_str(st->filtered_event, "instructions", "the skipped event type is reported");
	is_int(st->unrecognized, 0, "every line is recognized");
	collapse_perf_free(c);
}

/* Only a java command's class names lose the 'L', under every option. */
static void test_java_names(void)
{
	static const char in[] = "java 1/2 1.0: 1 cycles: \n"
				 "\t1 Lorg/x/Y;.run (/tmp/perf-1.map)\n"
				 "\t2 Lnoslash (/tmp/perf-1.map)\n"
				 "\n"
				 "javac 3/4 1.0: 1 cycles: \n"
				 "\t3 Lorg/x/Y;.run (/tmp/perf-3.map)\n"
				 "\n";
	static const struct {
		unsigned flags;
		const char *want;
	} cases[] = {
		{0, "java;Lnoslash;org/x/Y:.run 1\njavac;Lorg/x/Y:.run 1\n"},
		{COLLAPSE_PERF_PID, "java-1;Lnoslash;org/x/Y:.run 1\njavac-3;Lorg/x/Y:.run 1\n"},
		{COLLAPSE_PERF_TID, "java-1/2;Lnoslash;org/x/Y:.run 1\njavac-3/4;Lorg/x/Y:.run 1\n"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf got;
		char err[256] = "";
		struct collapse_perf_opts o = {.flags = cases[i].flags};
		buf_init(&got, BUF_NO_LIMIT);
		collapse_perf_buffer(in, sizeof(in) - 1, &o, &got, err, sizeof(err));
		is_str(got.data ? got.data : "", cases[i].want,
		       "Java class names, flags %#x: 'L' stripped for java only, with a '/' only",
		       cases[i].flags);
		buf_release(&got);
	}
}

static int append(void *ctx, const char *data, size_t len)
{
	return buf_append(ctx, data, len);
}

/* Feeding in chunks of any size gives the same bytes as one call. */
static void test_streaming(void)
{
	static const size_t sizes[] = {1, 2, 3, 7, 64, 4096};
	struct buf whole;
	char err[256];
	buf_init(&whole, BUF_NO_LIMIT);
	collapse_perf_buffer(synthetic, sizeof(synthetic) - 1, NULL, &whole, err, sizeof(err));
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct collapse_perf *c = collapse_perf_new(NULL);
		struct buf got;
		int r = 0;
		buf_init(&got, BUF_NO_LIMIT);
		for (size_t i = 0; i < sizeof(synthetic) - 1 && !r; i += sizes[k]) {
			size_t n =
				sizeof(synthetic) - 1 - i < sizes[k] ? sizeof(synthetic) - 1 - i : sizes[k];
			r = collapse_perf_feed(c, synthetic + i, n, err, sizeof(err));
		}
		if (!r)
			r = collapse_perf_finish(c, err, sizeof(err));
		collapse_perf_write(c, append, &got);
		ok(r == 0 && got.len == whole.len && !memcmp(got.data, whole.data, got.len),
		   "chunks of %zu bytes give the same output", sizes[k]);
		buf_release(&got);
		collapse_perf_free(c);
	}
	buf_release(&whole);
}

static void expect_error(const char *in, const struct collapse_perf_opts *o, const char *needle,
			 const char *what)
{
	struct buf got;
	char err[256] = "";
	buf_init(&got, BUF_NO_LIMIT);
	int r = collapse_perf_buffer(in, strlen(in), o, &got, err, sizeof(err));
	if (!ok(r < 0 && strstr(err, needle) != NULL, "%s: an error naming '%s'", what, needle))
		printf("#   returned %d, message \"%s\"\n", r, err);
	buf_release(&got);
}

static void test_limits(void)
{
	struct collapse_perf_opts o = {.max_line = 40};
	expect_error("ab 1 x: \n\t1 f (m)\n\t2 a_very_long_function_name_that_is_too_long (m)\n\n", &o,
		     "line 3", "line longer than max_line");
	o = (struct collapse_perf_opts){.max_depth = 2};
	expect_error("ab 1 x: \n\t1 f (m)\n\t2 g (m)\n\t3 h (m)\n\n", &o, "line 4: stack deeper",
		     "stack deeper than max_depth");
	o = (struct collapse_perf_opts){.max_depth = 2};
	expect_error("ab 1 x: \n\t1 f (m)\n\t2 g->h->i (m)\n\n", &o, "line 3: stack deeper",
		     "inlined frames count towards max_depth");
	o = (struct collapse_perf_opts){.max_stack = 10};
	expect_error("ab 1 x: \n\t1 fffff (m)\n\t2 ggggg (m)\n\n", &o, "line 3: stack longer",
		     "stack longer than max_stack");
	o = (struct collapse_perf_opts){.max_memory = 100000};
	struct buf many;
	buf_init(&many, BUF_NO_LIMIT);
	for (int i = 0; i < 5000; i++)
		buf_printf(&many, "ab 1 x: \n\t1 function_%d (m)\n\n", i);
	expect_error(many.data, &o, "memory limit", "distinct stacks beyond max_memory");
	buf_release(&many);
	expect_error("ab 1 x: 99999999999999999999999 ev: \n\t1 f (m)\n\n", NULL, "line 1: sample period",
		     "period beyond 64 bits");
}

int main(void)
{
	test_reference_files();
	test_synthetic();
	test_java_names();
	test_streaming();
	test_limits();
	return tap_done();
}
