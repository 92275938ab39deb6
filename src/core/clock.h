/*
 * clock.h - wall-clock time in unix nanoseconds, and the units of time in
 * nanoseconds.  The units are unsigned 64-bit: `ns / NS_PER_S` is whole
 * seconds, `(double)ns / NS_PER_S` a fraction.
 */
#ifndef HOTPATH_CORE_CLOCK_H
#define HOTPATH_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

#define NS_PER_US   1000ull
#define NS_PER_MS   1000000ull
#define NS_PER_S    1000000000ull
#define NS_PER_MIN  (60 * NS_PER_S)
#define NS_PER_HOUR (3600 * NS_PER_S)
#define NS_PER_DAY  (86400 * NS_PER_S)

static inline uint64_t clock_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

#endif
