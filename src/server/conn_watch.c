/* conn_watch.c - the header deadline of every connection (see conn_watch.h). */
#include "server/conn_watch.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "core/alloc.h"
#include "core/clock.h"

#define LOOK_EVERY_NS (500 * NS_PER_MS)

struct conn_slot {
	int fd;		   /* -1: free */
	int waiting;	   /* for headers: the deadline runs */
	uint64_t since_ns; /* CLOCK_MONOTONIC: accepted, or last answer sent */
	struct conn_slot *next_free;
};

struct conn_watch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	int stopping;
	uint64_t timeout_ns;
	struct conn_slot *slots, *free;
	unsigned max;
	void (*on_late)(void *arg);
	void *arg;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Shut down the sockets past their deadline; lock held.  How many. */
static unsigned close_late(struct conn_watch *cw, uint64_t now)
{
	unsigned n = 0;
	for (unsigned i = 0; i < cw->max; i++) {
		struct conn_slot *s = &cw->slots[i];
		if (s->fd < 0 || !s->waiting || now - s->since_ns < cw->timeout_ns)
			continue;
		shutdown(s->fd, SHUT_RDWR);
		s->waiting = 0; /* once */
		n++;
	}
	return n;
}

static void *watch_main(void *arg)
{
	struct conn_watch *cw = arg;
	pthread_mutex_lock(&cw->mu);
	while (!cw->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		uint64_t t = (uint64_t)until.tv_nsec + LOOK_EVERY_NS;
		until.tv_sec += (time_t)(t / NS_PER_S);
		until.tv_nsec = (long)(t % NS_PER_S);
		pthread_cond_timedwait(&cw->cv, &cw->mu, &until);
		if (cw->stopping)
			break;
		unsigned late = close_late(cw, mono_ns());
		pthread_mutex_unlock(&cw->mu);
		while (late--)
			cw->on_late(cw->arg);
		pthread_mutex_lock(&cw->mu);
	}
	pthread_mutex_unlock(&cw->mu);
	return NULL;
}

struct conn_watch *conn_watch_start(unsigned header_timeout_s, unsigned max, void (*on_late)(void *arg),
				    void *arg)
{
	struct conn_watch *cw = xcalloc(1, sizeof(*cw));
	pthread_mutex_init(&cw->mu, NULL);
	pthread_cond_init(&cw->cv, NULL);
	cw->timeout_ns = (uint64_t)header_timeout_s * NS_PER_S;
	cw->max = max;
	cw->on_late = on_late;
	cw->arg = arg;
	cw->slots = xcalloc(max, sizeof(*cw->slots));
	for (unsigned i = max; i-- > 0;) {
		cw->slots[i].fd = -1;
		cw->slots[i].next_free = cw->free;
		cw->free = &cw->slots[i];
	}
	if (pthread_create(&cw->thread, NULL, watch_main, cw) != 0) {
		free(cw->slots);
		pthread_cond_destroy(&cw->cv);
		pthread_mutex_destroy(&cw->mu);
		free(cw);
		return NULL;
	}
	return cw;
}

void conn_watch_stop(struct conn_watch *cw)
{
	if (!cw)
		return;
	pthread_mutex_lock(&cw->mu);
	cw->stopping = 1;
	pthread_cond_signal(&cw->cv);
	pthread_mutex_unlock(&cw->mu);
	pthread_join(cw->thread, NULL);
	pthread_cond_destroy(&cw->cv);
	pthread_mutex_destroy(&cw->mu);
	free(cw->slots);
	free(cw);
}

struct conn_slot *conn_watch_add(struct conn_watch *cw, int fd)
{
	pthread_mutex_lock(&cw->mu);
	struct conn_slot *s = cw->free;
	if (s) {
		cw->free = s->next_free;
		s->fd = fd;
		s->waiting = 1;
		s->since_ns = mono_ns();
	}
	pthread_mutex_unlock(&cw->mu);
	return s;
}

void conn_watch_headers_done(struct conn_watch *cw, struct conn_slot *s)
{
	pthread_mutex_lock(&cw->mu);
	s->waiting = 0;
	pthread_mutex_unlock(&cw->mu);
}

void conn_watch_request_done(struct conn_watch *cw, struct conn_slot *s)
{
	pthread_mutex_lock(&cw->mu);
	if (s->fd >= 0) {
		s->waiting = 1;
		s->since_ns = mono_ns();
	}
	pthread_mutex_unlock(&cw->mu);
}

void conn_watch_remove(struct conn_watch *cw, struct conn_slot *s)
{
	pthread_mutex_lock(&cw->mu);
	s->fd = -1;
	s->waiting = 0;
	s->next_free = cw->free;
	cw->free = s;
	pthread_mutex_unlock(&cw->mu);
}
