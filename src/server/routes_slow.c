/*
 * routes_slow.c - (being written)
 */
#include "server/http.h"

const struct route slow_routes[] = {
	{0},
};
