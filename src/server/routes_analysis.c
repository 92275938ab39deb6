/*
 * routes_analysis.c - (being written)
 */
#include "server/http.h"

const struct route analysis_routes[] = {
	{0},
};
