/*
 * metrics.c: the Prometheus / OpenMetrics exposition through the C ABI.
 *
 * Sizes like snprintf (the needed length also on a short buffer), one series
 * per owned partition carrying its generation, a revoked partition's series
 * gone from the next scrape, OpenMetrics' `# EOF`, and bad arguments
 * rejected with nothing written. With an argument, also writes the final
 * Prometheus text to that file (tests/native.rs hands it to promtool).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* The exposition in a malloc'd buffer: ask for the size, then fetch with
 * headroom (the text may grow a little meanwhile: a clock second passing). */
static char *scrape(const kat_tracker_t *tracker, unsigned format) {
    size_t need = 0;
    CHECK_OK(kat_tracker_metrics(tracker, format, NULL, 0, &need));
    size_t cap = need + 4096;
    char *buf = malloc(cap);
    CHECK(buf != NULL);
    size_t len = 0;
    CHECK_OK(kat_tracker_metrics(tracker, format, buf, cap, &len));
    CHECK(strlen(buf) == len);
    return buf;
}

static const char *ORDERS_1 =
    "kat_partition_generation{messaging_consumer_group_name=\"billing\",kat_group=\"billing/0\","
    "messaging_destination_name=\"orders\",messaging_destination_partition_id=\"1\"} ";

int main(int argc, char **argv) {
    kat_tracker_t *tracker = kat_tracker_new();
    CHECK(tracker != NULL);
    kat_group_t *group = NULL;
    CHECK_OK(kat_tracker_group(tracker, "billing/0", &group));
    const int32_t parts[] = {0, 1, 2};
    CHECK_OK(kat_group_assigned_partitions(group, "orders", parts, 3));

    /* A short buffer: the needed length comes back and nothing is written. */
    char small[8];
    memset(small, 'x', sizeof small);
    size_t need = 0;
    CHECK_RESULT(kat_tracker_metrics(tracker, KAT_METRICS_PROMETHEUS, small, sizeof small, &need),
                 KAT_ERR_BUFFER_TOO_SMALL);
    CHECK(need > sizeof small);
    for (size_t i = 0; i < sizeof small; i++) CHECK(small[i] == 'x');

    char *text = scrape(tracker, KAT_METRICS_PROMETHEUS);
    char expected[512];
    snprintf(expected, sizeof expected, "%s1\n", ORDERS_1);
    CHECK(strstr(text, expected) != NULL);
    CHECK(strstr(text, "# TYPE kat_rebalance_total counter\n") != NULL);
    CHECK(strstr(text, "# EOF") == NULL);
    free(text);

    /* Revoked: its series is gone. Assigned again: generation 2. */
    const int32_t one[] = {1};
    CHECK_OK(kat_group_revoked_partitions(group, "orders", one, 1));
    text = scrape(tracker, KAT_METRICS_PROMETHEUS);
    CHECK(strstr(text, ORDERS_1) == NULL);
    CHECK(strstr(text, "messaging_destination_partition_id=\"2\"} 1\n") != NULL);
    free(text);
    CHECK_OK(kat_group_assigned_partitions(group, "orders", one, 1));
    text = scrape(tracker, KAT_METRICS_OPENMETRICS);
    snprintf(expected, sizeof expected, "%s2\n", ORDERS_1);
    CHECK(strstr(text, expected) != NULL);
    CHECK(strstr(text, "# TYPE kat_rebalance counter\n") != NULL);
    size_t len = strlen(text);
    CHECK(len > 6 && strcmp(text + len - 6, "# EOF\n") == 0);
    free(text);

    CHECK_STREQ(kat_metrics_content_type(KAT_METRICS_PROMETHEUS),
                "text/plain; version=0.0.4; charset=utf-8");
    CHECK_STREQ(kat_metrics_content_type(KAT_METRICS_OPENMETRICS),
                "application/openmetrics-text; version=1.0.0; charset=utf-8");
    CHECK(kat_metrics_content_type(42) == NULL);

    /* Bad arguments: an error that says why, and nothing written. */
    size_t untouched = 12345;
    CHECK_RESULT(kat_tracker_metrics(NULL, KAT_METRICS_PROMETHEUS, NULL, 0, &untouched),
                 KAT_ERR_NULL_POINTER);
    CHECK_ERROR_MENTIONS("tracker");
    CHECK_RESULT(kat_tracker_metrics(tracker, 7, NULL, 0, &untouched), KAT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("unknown metrics format 7");
    CHECK_RESULT(kat_tracker_metrics(tracker, KAT_METRICS_PROMETHEUS, NULL, 5, &untouched),
                 KAT_ERR_NULL_POINTER);
    CHECK_RESULT(kat_tracker_metrics(tracker, KAT_METRICS_PROMETHEUS, small, sizeof small, NULL),
                 KAT_ERR_NULL_POINTER);
    CHECK(untouched == 12345);

    if (argc > 1) {
        text = scrape(tracker, KAT_METRICS_PROMETHEUS);
        FILE *f = fopen(argv[1], "w");
        CHECK(f != NULL);
        CHECK(fputs(text, f) >= 0);
        CHECK(fclose(f) == 0);
        free(text);
    }

    kat_group_free(group);
    kat_tracker_free(tracker);
    printf("metrics: %lu checks passed\n", check_count);
    return 0;
}
