/*
 * json_libs.h - what the candidates of the JSON library benchmark share.
 *
 * Each lib_*.c parses one OTLP/JSON trace request with one library and walks
 * it, folding every extracted field into a `struct sink` (so two candidates
 * that did the same work print the same checksum).  jansson and json-c
 * declare clashing names, hence one file per library.
 */
#ifndef JSON_LIBS_H
#define JSON_LIBS_H

#include <stddef.h>
#include <stdint.h>

struct sink {
	uint64_t sum;
	size_t spans, attrs;
};

void sink_hex(struct sink *k, const char *s, size_t len);
void sink_u64str(struct sink *k, const char *s);
void sink_str(struct sink *k, const char *s);

int run_cjson(const char *json, size_t len, struct sink *k);
int run_jansson(const char *json, size_t len, struct sink *k);
int run_jsonc(const char *json, size_t len, struct sink *k);
int run_yajl_tree(const char *json, size_t len, struct sink *k);
int run_yajl_events(const char *json, size_t len, struct sink *k);
int run_json_doc(const char *json, size_t len, struct sink *k);
int run_hotpath(const char *json, size_t len, struct sink *k);
const char *version_cjson(void);
const char *version_jansson(void);
const char *version_jsonc(void);
const char *version_yajl(void);

#endif
