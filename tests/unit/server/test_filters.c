/* test_filters.c - times and ranges in query parameters (and profiles'
 * times): the accepted window. */
#include <stdint.h>

#include "server/filters.h"
#include "tap.h"

int main(void)
{
	uint64_t ns = 0;
	ok(filters_parse_time("2024-02-29T00:00:00Z", &ns) == 0 && ns == 1709164800000000000ull,
	   "a leap day exists in 2024");
	ok(filters_parse_time("2024-02-30T00:00:00Z", &ns) < 0, "2024-02-30 does not");
	ok(filters_parse_time("2023-02-29T00:00:00Z", &ns) < 0, "nor 2023-02-29");
	ok(filters_parse_time("1900-02-29T00:00:00Z", &ns) < 0, "nor a date before 1970");
	ok(filters_parse_time("2000-02-29T12:00:00+01:00", &ns) == 0, "2000 is a leap year");
	ok(filters_parse_time("2024-04-31T00:00:00Z", &ns) < 0, "April has 30 days");
	ok(filters_parse_time("2500-01-01T00:00:00Z", &ns) < 0, "year 2500 is outside the window");
	ok(filters_parse_time("2199-12-31T23:59:59Z", &ns) == 0, "2199 is inside");
	ok(filters_parse_time("1700000000000", &ns) == 0 && ns == 1700000000000000000ull,
	   "unix milliseconds");
	ok(filters_parse_time("16725225600000", &ns) < 0, "milliseconds of the year 2500 are not");
	ok(filters_parse_time("", &ns) < 0 && filters_parse_time("12ab", &ns) < 0, "garbage is not");
	ok(filters_parse_range("30d", &ns) == 0 && ns == 30ull * 86400 * 1000000000, "30d");
	ok(filters_parse_range("3660d", &ns) == 0, "ten years and a bit");
	ok(filters_parse_range("1000000d", &ns) < 0, "not centuries");
	ok(filters_parse_range("0h", &ns) < 0 && filters_parse_range("5x", &ns) < 0,
	   "nor zero or a bad unit");
	/* profiles' times, as Pyroscope's clients send them */
	const uint64_t now = 1750000000000000000ull;
	ok(filters_parse_pyroscope_time("1700000000", now, &ns) == 0 && ns == 1700000000000000000ull,
	   "pyroscope: unix seconds");
	ok(filters_parse_pyroscope_time("1700000000000", now, &ns) == 0 && ns == 1700000000000000000ull,
	   "pyroscope: unix milliseconds");
	ok(filters_parse_pyroscope_time("1700000000000000", now, &ns) == 0 && ns == 1700000000000000000ull,
	   "pyroscope: unix microseconds");
	ok(filters_parse_pyroscope_time("1700000000000000000", now, &ns) == 0 && ns == 1700000000000000000ull,
	   "pyroscope: unix nanoseconds");
	ok(filters_parse_pyroscope_time("20000000000", now, &ns) < 0,
	   "pyroscope: seconds of the year 2603 are refused, not wrapped around into 2019");
	ok(filters_parse_pyroscope_time("99999999999", now, &ns) < 0, "pyroscope: nor those of 5138");
	ok(filters_parse_pyroscope_time("now-1h", now, &ns) == 0 && ns == now - 3600000000000ull,
	   "pyroscope: now-1h");
	ok(filters_parse_pyroscope_time("now+1h", now, &ns) < 0, "pyroscope: not now+1h");
	return tap_done();
}
