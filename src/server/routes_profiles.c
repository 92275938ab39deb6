/*
 * routes_profiles.c - (being written)
 */
#include "server/http.h"

const struct route profile_routes[] = {
	{0},
};
