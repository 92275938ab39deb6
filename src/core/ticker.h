/*
 * ticker.h - a thread that calls a function every so many seconds until it
 * is stopped: the server's background work (slow-request spike checks, the
 * pattern analysis).  Stopping wakes the thread at once and waits for a
 * call in progress to return.
 */
#ifndef HOTPATH_CORE_TICKER_H
#define HOTPATH_CORE_TICKER_H

#include <pthread.h>
#include <stddef.h>

struct ticker {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	unsigned interval_s;
	void (*fn)(void *arg);
	void *arg;
	int running, stop;
};

#define TICKER_INIT                                                                                          \
	{                                                                                                    \
		.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER                          \
	}

/* Call fn(arg) every interval_s seconds, the first time after one interval.
 * -1 with a message if it runs already or no thread can start. */
int ticker_start(struct ticker *t, unsigned interval_s, void (*fn)(void *arg), void *arg, char *err,
		 size_t errlen);
void ticker_stop(struct ticker *t);

#endif
