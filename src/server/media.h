/*
 * media.h - the media type of an ingest request body, from its
 * Content-Type header (parameters such as charset are ignored).
 */
#ifndef HOTPATH_SERVER_MEDIA_H
#define HOTPATH_SERVER_MEDIA_H

enum media { M_PROTOBUF, M_JSON, M_NDJSON, M_UNKNOWN };

/* "application/json; charset=utf-8" -> M_JSON; NULL or anything else M_UNKNOWN. */
enum media media_parse(const char *content_type);

#endif
