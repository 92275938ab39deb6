/* parallel.c - one function over a few items, side by side (see parallel.h). */
#include "core/parallel.h"

#include <pthread.h>

void parallel_run(void *(*fn)(void *), void *items, size_t item_size, unsigned n)
{
	pthread_t th[PARALLEL_MAX];
	int started[PARALLEL_MAX] = {0};
	char *at = items;
	if (n > PARALLEL_MAX)
		n = PARALLEL_MAX;
	for (unsigned k = 1; k < n; k++)
		started[k] = pthread_create(&th[k], NULL, fn, at + k * item_size) == 0;
	for (unsigned k = 0; k < n; k++)
		if (!started[k])
			fn(at + k * item_size);
	for (unsigned k = 1; k < n; k++)
		if (started[k])
			pthread_join(th[k], NULL);
}
