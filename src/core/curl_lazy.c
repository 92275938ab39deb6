/*
 * curl_lazy.c - libcurl, loaded the first time it is used.
 *
 * hotpath is one binary whose subcommands need different libraries: the
 * server and most commands talk HTTP through libcurl, `hotpath agent`
 * (docs/AGENT.md) sends to a plain http:// target without it.  Linked
 * directly, libcurl brings some thirty libraries (OpenSSL, GnuTLS and
 * p11-kit, Kerberos, LDAP, SSH, ...) that the loader maps and relocates,
 * and whose constructors run, at every start: about 8 MB resident before
 * main(), most of the agent's memory.  So the binary is not linked with
 * libcurl: this file defines the libcurl functions hotpath calls, and each
 * opens libcurl (by its soname, the search the loader does for a linked
 * library) on the first call and forwards to it.  The call sites are plain
 * libcurl; a libcurl function used elsewhere must be added here (the link
 * fails until it is).
 *
 * When libcurl cannot be opened, the calls fail as libcurl's do when it
 * cannot start: curl_easy_init() answers NULL, the others
 * CURLE_FAILED_INIT, and curl_easy_strerror() says why.
 *
 * Thread-safe: the library is opened once (pthread_once).
 */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#define CURL_SONAME "libcurl.so.4"

static struct {
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	void (*easy_cleanup)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_reset)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	char *(*easy_escape)(CURL *, const char *, int);
	void (*free)(void *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	time_t (*getdate)(const char *, const time_t *);
} fn;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;
static char why[256] = "libcurl is not loaded";

/* dlsym() answers a void *; POSIX lets it be read as a function pointer. */
#define BIND(field, name)                                                                                    \
	do {                                                                                                 \
		*(void **)&fn.field = dlsym(h, name);                                                        \
		if (!fn.field) {                                                                             \
			snprintf(why, sizeof(why), "%s has no %s", CURL_SONAME, name);                       \
			return;                                                                              \
		}                                                                                            \
	} while (0)

static void load(void)
{
	void *h = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(why, sizeof(why), "%s could not be loaded: %s", CURL_SONAME, dlerror());
		return;
	}
	BIND(global_init, "curl_global_init");
	BIND(global_cleanup, "curl_global_cleanup");
	BIND(easy_init, "curl_easy_init");
	BIND(easy_setopt, "curl_easy_setopt");
	BIND(easy_perform, "curl_easy_perform");
	BIND(easy_cleanup, "curl_easy_cleanup");
	BIND(easy_getinfo, "curl_easy_getinfo");
	BIND(easy_reset, "curl_easy_reset");
	BIND(easy_strerror, "curl_easy_strerror");
	BIND(easy_escape, "curl_easy_escape");
	BIND(free, "curl_free");
	BIND(slist_append, "curl_slist_append");
	BIND(slist_free_all, "curl_slist_free_all");
	BIND(getdate, "curl_getdate");
	loaded = 1;
}

static int ready(void)
{
	pthread_once(&once, load);
	return loaded;
}

CURLcode curl_global_init(long flags)
{
	return ready() ? fn.global_init(flags) : CURLE_FAILED_INIT;
}

void curl_global_cleanup(void)
{
	if (ready())
		fn.global_cleanup();
}

CURL *curl_easy_init(void)
{
	return ready() ? fn.easy_init() : NULL;
}

/* The one argument after the option has the type the option's number range
 * says (curl.h: CURLOPTTYPE_*); it is read as that type and passed on. */
CURLcode(curl_easy_setopt)(CURL *curl, CURLoption option, ...)
{
	va_list ap;
	CURLcode rc;
	if (!ready() || !curl)
		return CURLE_FAILED_INIT;
	va_start(ap, option);
	if (option < CURLOPTTYPE_OBJECTPOINT)
		rc = fn.easy_setopt(curl, option, va_arg(ap, long));
	else if (option < CURLOPTTYPE_FUNCTIONPOINT)
		rc = fn.easy_setopt(curl, option, va_arg(ap, void *));
	else if (option < CURLOPTTYPE_OFF_T)
		rc = fn.easy_setopt(curl, option, va_arg(ap, void (*)(void)));
	else if (option < CURLOPTTYPE_BLOB)
		rc = fn.easy_setopt(curl, option, va_arg(ap, curl_off_t));
	else
		rc = fn.easy_setopt(curl, option, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLcode curl_easy_perform(CURL *curl)
{
	return ready() && curl ? fn.easy_perform(curl) : CURLE_FAILED_INIT;
}

void curl_easy_cleanup(CURL *curl)
{
	if (ready() && curl)
		fn.easy_cleanup(curl);
}

/* Every CURLINFO takes a pointer to where the answer goes. */
CURLcode(curl_easy_getinfo)(CURL *curl, CURLINFO info, ...)
{
	va_list ap;
	if (!ready() || !curl)
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	CURLcode rc = fn.easy_getinfo(curl, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

void curl_easy_reset(CURL *curl)
{
	if (ready() && curl)
		fn.easy_reset(curl);
}

const char *curl_easy_strerror(CURLcode code)
{
	return ready() ? fn.easy_strerror(code) : why;
}

char *curl_easy_escape(CURL *curl, const char *s, int len)
{
	return ready() ? fn.easy_escape(curl, s, len) : NULL;
}

void curl_free(void *p)
{
	if (ready())
		fn.free(p);
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
	return ready() ? fn.slist_append(list, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *list)
{
	if (ready())
		fn.slist_free_all(list);
}

time_t curl_getdate(const char *s, const time_t *unused)
{
	return ready() ? fn.getdate(s, unused) : -1;
}
