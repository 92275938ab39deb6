/* gzip.c - bounded inflate with zlib (see gzip.h). */
#include "core/gzip.h"

#include <zlib.h>

#include "core/log.h"

int gzip_inflate(const void *in, size_t len, struct buf *out, char *err, size_t errlen)
{
	z_stream zs = {0};
	int ret = -1;
	/* 15 + 32: detect gzip or zlib headers automatically */
	if (inflateInit2(&zs, 15 + 32) != Z_OK)
		return errf(err, errlen, "cannot initialise zlib");
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
	if (len > UINT32_MAX) {
		errf(err, errlen, "compressed body too large");
		goto out;
	}
	for (;;) {
		size_t room = out->max - out->len;
		if (room == 0) {
			ret = ERR_TOO_BIG;
			goto out;
		}
		size_t chunk = room < 65536 ? room : 65536;
		if (buf_reserve(out, chunk) < 0) {
			ret = ERR_TOO_BIG;
			goto out;
		}
		zs.next_out = (Bytef *)out->data + out->len;
		zs.avail_out = (uInt)chunk;
		int rc = inflate(&zs, Z_NO_FLUSH);
		out->len += chunk - zs.avail_out;
		out->data[out->len] = 0;
		if (rc == Z_STREAM_END) {
			if (zs.avail_in) {
				/* gzip allows concatenated members; continue with the next */
				if (inflateReset(&zs) != Z_OK)
					goto corrupt;
				continue;
			}
			ret = 0;
			goto out;
		}
		if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
			errf(err, errlen, "invalid gzip body: unexpected end of data");
			goto out;
		}
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			goto corrupt;
	}
corrupt:
	errf(err, errlen, "invalid gzip body: %s", zs.msg ? zs.msg : "corrupt data");
	ret = -1;
out:
	inflateEnd(&zs);
	return ret;
}
