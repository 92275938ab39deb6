/*
 * ticker.c - a periodic background thread (see ticker.h).
 */
#include "core/ticker.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

static void *ticker_main(void *arg)
{
	struct ticker *t = arg;
	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += t->interval_s;
		while (!t->stop && pthread_cond_timedwait(&t->wake, &t->lock, &until) != ETIMEDOUT)
			;
		if (t->stop)
			break;
		pthread_mutex_unlock(&t->lock);
		t->fn(t->arg);
		pthread_mutex_lock(&t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int ticker_start(struct ticker *t, unsigned interval_s, void (*fn)(void *arg), void *arg, char *err,
		 size_t errlen)
{
	if (t->running)
		return errf(err, errlen, "background thread already running");
	t->interval_s = interval_s;
	t->fn = fn;
	t->arg = arg;
	t->stop = 0;
	int rc = pthread_create(&t->thread, NULL, ticker_main, t);
	if (rc)
		return errf(err, errlen, "cannot start a background thread: %s", strerror(rc));
	t->running = 1;
	return 0;
}

void ticker_stop(struct ticker *t)
{
	if (!t->running)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = 1;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	t->running = 0;
}
