/*
 * temp_store.h - a store in a temporary directory for the unit tests that
 * read and write a real one, and the removal of that directory after.
 * Failures are said in TAP comments; the callers decide what they fail.
 */
#ifndef HOTPATH_TESTS_TEMP_STORE_H
#define HOTPATH_TESTS_TEMP_STORE_H

#include <stdio.h>
#include <stdlib.h>

#include "store/store.h"

/* A store opened in the existing directory `dir`, or NULL.  The caller
 * closes it. */
static inline struct store *temp_store_open(const char *dir)
{
	struct store *s = NULL;
	struct store_options o = {.dir = dir};
	char err[256];
	if (store_open(&s, &o, err, sizeof(err)) < 0) {
		printf("# store_open: %s\n", err);
		return NULL;
	}
	return s;
}

/* mkdtemp(`tmpl`) (the template is changed in place) and a store opened in
 * it, or NULL. */
static inline struct store *temp_store_make(char *tmpl)
{
	if (!mkdtemp(tmpl)) {
		printf("# mkdtemp %s failed\n", tmpl);
		return NULL;
	}
	return temp_store_open(tmpl);
}

/* Remove `dir` and all in it: 0, or -1. */
static inline int temp_dir_remove(const char *dir)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0) {
		printf("# could not remove %s\n", dir);
		return -1;
	}
	return 0;
}

#endif
