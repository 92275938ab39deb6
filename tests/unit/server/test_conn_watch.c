/*
 * test_conn_watch.c - the header deadline: a connection still waiting for
 * its headers past the deadline has its socket shut down and is counted
 * once; one whose headers are in is left alone until its answer, then its
 * next headers have the deadline again; a removed one is never touched.
 */
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/conn_watch.h"
#include "tap.h"

static _Atomic int late;

static void on_late(void *arg)
{
	(void)arg;
	atomic_fetch_add(&late, 1);
}

/* 1 when the peer of `fd` sees the end of the stream (shut down). */
static int shut(int fd)
{
	char c;
	return recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

int main(void)
{
	int waiting[2], served[2], removed[2];
	ok(socketpair(AF_UNIX, SOCK_STREAM, 0, waiting) == 0 &&
		   socketpair(AF_UNIX, SOCK_STREAM, 0, served) == 0 &&
		   socketpair(AF_UNIX, SOCK_STREAM, 0, removed) == 0,
	   "three socket pairs");
	struct conn_watch *cw = conn_watch_start(1, 4, on_late, NULL);
	ok(cw != NULL, "the watch starts");
	struct conn_slot *a = conn_watch_add(cw, waiting[0]);
	struct conn_slot *b = conn_watch_add(cw, served[0]);
	struct conn_slot *c = conn_watch_add(cw, removed[0]);
	ok(a && b && c, "three connections watched");
	conn_watch_headers_done(cw, b);
	conn_watch_remove(cw, c);
	sleep_ms(400);
	ok(!shut(waiting[1]) && !shut(served[1]), "within the deadline nothing is closed");
	sleep_ms(1300);
	ok(shut(waiting[1]), "a connection still waiting for headers past the deadline is shut down");
	ok(!shut(served[1]), "a connection whose headers are in is left alone");
	ok(!shut(removed[1]), "a removed connection is never touched");
	is_int(atomic_load(&late), 1, "the late connection is counted once");
	sleep_ms(700);
	is_int(atomic_load(&late), 1, "and not again");
	conn_watch_request_done(cw, b); /* answered: kept alive, its next headers have the deadline */
	sleep_ms(1700);
	ok(shut(served[1]), "a kept-alive connection idle past the deadline after its answer is shut down");
	is_int(atomic_load(&late), 2, "counted");
	struct conn_slot *more[4];
	int n = 0;
	conn_watch_remove(cw, a);
	conn_watch_remove(cw, b);
	for (int i = 0; i < 5; i++)
		n += (more[i < 4 ? i : 3] = conn_watch_add(cw, waiting[1])) != NULL;
	is_int(n, 4, "slots are reused, and no more than the maximum are given");
	conn_watch_stop(cw);
	for (int i = 0; i < 2; i++) {
		close(waiting[i]);
		close(served[i]);
		close(removed[i]);
	}
	return tap_done();
}
