/*
 * timeres.c - the timestamp resolution of a trace's resources (see
 * timeres.h).
 */
#include "analyze/timeres.h"

static unsigned slot_of(const struct timeres *t, const struct resource *r)
{
	for (unsigned i = 0; i < t->n; i++)
		if (t->r[i] == r)
			return i;
	return TIMERES_MAX_RESOURCES;
}

void timeres_learn(struct timeres *t, const struct span *spans, size_t n)
{
	t->n = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned s = slot_of(t, spans[i].resource);
		if (s == TIMERES_MAX_RESOURCES && t->n < TIMERES_MAX_RESOURCES) {
			s = t->n++;
			t->r[s] = spans[i].resource;
			t->flags[s] = 0;
		} else if (s == TIMERES_MAX_RESOURCES) {
			s = TIMERES_MAX_RESOURCES - 1; /* the others share the last slot */
		}
		timeres_note(&t->flags[s], spans[i].start_ns);
	}
}

uint64_t timeres_of(const struct timeres *t, const struct span *sp)
{
	unsigned s = slot_of(t, sp->resource);
	if (s == TIMERES_MAX_RESOURCES)
		s = t->n ? t->n - 1 : 0;
	return t->n ? timeres_of_flags(t->flags[s]) : 0;
}
