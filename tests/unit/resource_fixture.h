/*
 * resource_fixture.h - resources (what sent a batch's spans) built in a
 * batch's arena for the unit tests: a service with an instance, or a
 * service's version deployed in an environment.
 */
#ifndef HOTPATH_TESTS_RESOURCE_FIXTURE_H
#define HOTPATH_TESTS_RESOURCE_FIXTURE_H

#include "ingest/batch.h"

/* A resource of `service`, with a service.instance.id unless NULL. */
static inline struct resource *make_resource(struct batch *b, const char *service, const char *instance)
{
	struct resource *r = arena_zalloc(&b->arena, sizeof(*r));
	r->attrs = arena_zalloc(&b->arena, 2 * sizeof(struct attr));
	r->attrs[r->n_attrs++] = (struct attr){.key = "service.name", .type = ATTR_STRING, .v.s = service};
	if (instance)
		r->attrs[r->n_attrs++] =
			(struct attr){.key = "service.instance.id", .type = ATTR_STRING, .v.s = instance};
	resource_derive(r);
	return r;
}

/* A resource of `version` of `service` in environment `env`. */
static inline struct resource *make_version_resource(struct batch *b, const char *service, const char *env,
						     const char *version)
{
	struct resource *r = arena_zalloc(&b->arena, sizeof(*r));
	r->attrs = arena_zalloc(&b->arena, 3 * sizeof(struct attr));
	r->attrs[r->n_attrs++] = (struct attr){.key = "service.name", .type = ATTR_STRING, .v.s = service};
	r->attrs[r->n_attrs++] =
		(struct attr){.key = "deployment.environment.name", .type = ATTR_STRING, .v.s = env};
	r->attrs[r->n_attrs++] = (struct attr){.key = "service.version", .type = ATTR_STRING, .v.s = version};
	resource_derive(r);
	return r;
}

#endif
