/* parallel.c - one function over a few items, side by side (see parallel.h). */
#include "core/parallel.h"

#include <pthread.h>

#include "core/deadline.h"

/* A started thread takes part in its caller's work: the same deadline. */
struct part {
	void *(*fn)(void *);
	void *item;
	struct deadline *dl;
};

static void *part_main(void *arg)
{
	struct part *p = arg;
	deadline_adopt(p->dl);
	return p->fn(p->item);
}

void parallel_run(void *(*fn)(void *), void *items, size_t item_size, unsigned n)
{
	pthread_t th[PARALLEL_MAX];
	struct part parts[PARALLEL_MAX];
	int started[PARALLEL_MAX] = {0};
	char *at = items;
	if (n > PARALLEL_MAX)
		n = PARALLEL_MAX;
	for (unsigned k = 1; k < n; k++) {
		parts[k] = (struct part){fn, at + k * item_size, deadline_current()};
		started[k] = pthread_create(&th[k], NULL, part_main, &parts[k]) == 0;
	}
	for (unsigned k = 0; k < n; k++)
		if (!started[k])
			fn(at + k * item_size);
	for (unsigned k = 1; k < n; k++)
		if (started[k])
			pthread_join(th[k], NULL);
}
