/*
 * readers.c - the threads that run read routes (http.h): a GET of the API
 * is handed here with its connection suspended, so that a slow query
 * holds one of these threads and never the HTTP thread that also carries
 * other clients' ingest.  The queue is bounded: past it, 503.
 */
#include <pthread.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/deadline.h"
#include "core/error.h"
#include "core/log.h"
#include "server/http.h"

struct readers {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct http_request **queue; /* ring of cap */
	size_t cap, head, n;
	int stopping;
	pthread_t *threads;
	unsigned n_threads;
};

/*
 * A read runs under the query time limit (--query-timeout): the store's
 * reads stop once it has passed.  Whatever the route made of that failure
 * (an error of its own, or an answer from less than it asked for), the
 * answer is the timeout: 504 with the limit named.
 */
static void run_read(struct http_request *req)
{
	struct deadline dl;
	deadline_enter(&dl, (uint64_t)req->srv->opt.query_timeout_ms * 1000000ull);
	req->route->handle(req); /* read routes answer at once (HTTP_DONE) */
	if (atomic_load(&dl.passed)) {
		char msg[160];
		deadline_error(msg, sizeof(msg));
		http_refused(req->srv, REFUSE_QUERY_TIMEOUT, "%s %s: %s", req->method, req->url, msg);
		http_error_class(req, ERR_TIMEOUT, "%s; narrow the time range or the query", msg);
	}
	deadline_leave();
}

static void *reader_main(void *arg)
{
	struct readers *r = arg;
	for (;;) {
		pthread_mutex_lock(&r->mu);
		while (!r->n && !r->stopping)
			pthread_cond_wait(&r->cv, &r->mu);
		if (!r->n) { /* stopping, and nothing left */
			pthread_mutex_unlock(&r->mu);
			return NULL;
		}
		struct http_request *req = r->queue[r->head];
		r->head = (r->head + 1) % r->cap;
		r->n--;
		pthread_mutex_unlock(&r->mu);
		run_read(req);
		http_resume(req);
	}
}

struct readers *readers_start(unsigned threads, size_t queue_max)
{
	struct readers *r = xcalloc(1, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->cap = queue_max;
	r->queue = xcalloc(queue_max, sizeof(*r->queue));
	r->threads = xcalloc(threads, sizeof(*r->threads));
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&r->threads[i], NULL, reader_main, r) != 0) {
			log_warn("http: could not start a read thread");
			break;
		}
		r->n_threads++;
	}
	if (!r->n_threads) {
		readers_stop(r);
		return NULL;
	}
	return r;
}

int readers_submit(struct readers *r, struct http_request *req)
{
	pthread_mutex_lock(&r->mu);
	if (r->n == r->cap || r->stopping) {
		pthread_mutex_unlock(&r->mu);
		return -1;
	}
	r->queue[(r->head + r->n) % r->cap] = req;
	r->n++;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return 0;
}

void readers_stop(struct readers *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stopping = 1;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	for (unsigned i = 0; i < r->n_threads; i++)
		pthread_join(r->threads[i], NULL);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r->queue);
	free(r->threads);
	free(r);
}
