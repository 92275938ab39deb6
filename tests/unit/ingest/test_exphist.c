/*
 * test_exphist.c - OTLP exponential histograms (src/ingest/exphist.c,
 * through the protobuf decoder) become explicit buckets whose quantiles
 * are those of the exponential form, worked out by hand; points that cannot
 * be converted are rejected with a message.
 */
#include <math.h>
#include <string.h>

#include "ingest/batch.h"
#include "ingest/otlp_json.h"
#include "ingest/otlp_pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "query/metrics.h"
#include "tap.h"

typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint exp_point;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets exp_buckets;

/* One request with one exponential histogram point; decoded into b. */
static int decode_one(struct batch *b, int32_t scale, int32_t offset, uint64_t *pos, size_t n, uint64_t zero,
		      uint64_t *neg, size_t n_neg, char *err, size_t errlen)
{
	Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest req =
		OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
	Opentelemetry__Proto__Metrics__V1__ResourceMetrics rm =
		OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
	Opentelemetry__Proto__Metrics__V1__ScopeMetrics sm =
		OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
	Opentelemetry__Proto__Metrics__V1__Metric m = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
	Opentelemetry__Proto__Metrics__V1__ExponentialHistogram eh =
		OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM__INIT;
	exp_point p = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__INIT;
	exp_buckets bp = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__BUCKETS__INIT;
	exp_buckets bn = OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__BUCKETS__INIT;
	Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rms[] = {&rm};
	Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sms[] = {&sm};
	Opentelemetry__Proto__Metrics__V1__Metric *ms[] = {&m};
	exp_point *ps[] = {&p};
	bp.offset = offset;
	bp.n_bucket_counts = n;
	bp.bucket_counts = pos;
	bn.n_bucket_counts = n_neg;
	bn.bucket_counts = neg;
	p.scale = scale;
	p.zero_count = zero;
	p.positive = &bp;
	p.negative = &bn;
	p.time_unix_nano = 1700000000000000000ull;
	p.count = zero;
	for (size_t i = 0; i < n; i++)
		p.count += pos[i];
	for (size_t i = 0; i < n_neg; i++)
		p.count += neg[i];
	p.sum = 60;
	eh.n_data_points = 1;
	eh.data_points = ps;
	eh.aggregation_temporality =
		OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_DELTA;
	m.name = "http.server.request.duration";
	m.unit = "s";
	m.data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM;
	m.exponential_histogram = &eh;
	sm.n_metrics = 1;
	sm.metrics = ms;
	rm.n_scope_metrics = 1;
	rm.scope_metrics = sms;
	req.n_resource_metrics = 1;
	req.resource_metrics = rms;
	uint8_t buf[4096];
	size_t len =
		opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__pack(&req, buf);
	return otlp_pb_decode_metrics(b, buf, len, err, errlen);
}

int main(void)
{
	char err[256];
	struct batch b;
	batch_init(&b);
	/* scale 0: base 2; offset 2: the buckets (4, 8] and (8, 16]; 2 zeros */
	uint64_t pos[] = {4, 4};
	ok(decode_one(&b, 0, 2, pos, 2, 2, NULL, 0, err, sizeof(err)) == 0 && b.n_points == 1, "decoded: %s",
	   err);
	struct metric_point *p = &b.points[0];
	ok(p->type == METRIC_HISTOGRAM && p->delta && p->count == 10, "a delta histogram of 10 observations");
	is_int(p->n_bounds, 4, "bounds 0, 4, 8, 16");
	ok(p->n_bounds == 4 && p->bounds[0] == 0 && p->bounds[1] == 4 && p->bounds[2] == 8 &&
		   p->bounds[3] == 16,
	   "base^offset .. base^(offset + n)");
	ok(p->bucket_counts[0] == 2 && p->bucket_counts[1] == 0 && p->bucket_counts[2] == 4 &&
		   p->bucket_counts[3] == 4 && p->bucket_counts[4] == 0,
	   "zeros, an empty (0, 4], the two buckets, an empty overflow");
	/* rank 5 of 10: 2 zeros, then (4, 8] holds ranks 2..6: 4 + 4 * 3 / 4 */
	double q = metrics_quantile_buckets(p->bounds, p->n_bounds, p->bucket_counts, 0.5);
	ok(fabs(q - 7) < 1e-9, "p50 = 7 (got %g)", q);
	/* rank 9: (8, 16] holds 6..10: 8 + 8 * 3 / 4 */
	q = metrics_quantile_buckets(p->bounds, p->n_bounds, p->bucket_counts, 0.9);
	ok(fabs(q - 14) < 1e-9, "p90 = 14 (got %g)", q);

	/* scale 1: base sqrt 2; negatives fold into the first bucket */
	batch_reset(&b);
	uint64_t one[] = {3}, neg[] = {1, 1};
	ok(decode_one(&b, 1, -2, one, 1, 0, neg, 2, err, sizeof(err)) == 0 && b.n_points == 1,
	   "scale 1 decoded");
	p = &b.points[0];
	ok(fabs(p->bounds[1] - 0.5) < 1e-12 && fabs(p->bounds[2] - sqrt(0.5)) < 1e-12,
	   "(2^-1, 2^-0.5] for offset -2 at scale 1");
	is_int(p->bucket_counts[0], 2, "the negative values counted at or below 0");

	batch_reset(&b);
	ok(decode_one(&b, 25, 0, pos, 2, 0, NULL, 0, err, sizeof(err)) == 0,
	   "a bad point does not fail the request");
	ok(b.n_points == 0 && b.rejected == 1 && strstr(b.reject_msg, "scale 25"),
	   "it is rejected, naming the scale: %s", b.reject_msg);

	/* the same point in OTLP/JSON */
	batch_reset(&b);
	const char *json =
		"{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"d\",\"unit\":\"s\","
		"\"exponentialHistogram\":{\"aggregationTemporality\":1,\"dataPoints\":[{\"timeUnixNano\":"
		"\"1700000000000000000\",\"count\":\"10\",\"sum\":60,\"scale\":0,\"zeroCount\":\"2\","
		"\"positive\":{\"offset\":2,\"bucketCounts\":[\"4\",\"4\"]}}]}}]}]}]}";
	ok(otlp_json_decode_metrics(&b, json, strlen(json), err, sizeof(err)) == 0 && b.n_points == 1,
	   "JSON decoded: %s", err);
	if (b.n_points == 1) {
		p = &b.points[0];
		q = metrics_quantile_buckets(p->bounds, p->n_bounds, p->bucket_counts, 0.5);
		ok(p->delta && fabs(q - 7) < 1e-9, "the JSON point gives the same p50 = 7 (got %g)", q);
	}
	batch_release(&b);
	return tap_done();
}
