/*
 * hostile_observability.c: the monitoring exports (metrics, health, history,
 * librdkafka statistics) fed NULLs, unknown enum values, bad sizes, malformed
 * and non-UTF-8 JSON. Each failing call must return its documented
 * kat_result, name the function and the problem in kat_last_error_message(),
 * leave its outputs untouched, and change nothing (epoch, history, kept
 * statistics and history limit are compared with a baseline after every call).
 *
 * tests/native.rs counts the exports called here as covered, like hostile.c.
 */
#include <stdint.h>

#include "check.h"

#define SENTINEL_SIZE ((size_t)0x5A5A5A5A5A5A5A5Aull)

static kat_tracker_t *t;
static kat_group_t *g;
static uint64_t base_epoch;
static size_t base_limit;
static char base_history[4096];
static char base_cgrp[1024];

static const char STATS[] =
    "{\"type\":\"consumer\",\"topics\":{\"orders\":{\"partitions\":{\"0\":{\"partition\":0},"
    "\"1\":{\"partition\":1}}}},\"cgrp\":{\"state\":\"up\",\"join_state\":\"steady\","
    "\"rebalance_age\":10,\"rebalance_cnt\":2,\"rebalance_reason\":\"r\",\"assignment_size\":1}}";

static void read_state(uint64_t *epoch, size_t *limit, char *history, char *cgrp) {
    size_t len = 0;
    CHECK_OK(kat_tracker_epoch(t, epoch));
    CHECK_OK(kat_tracker_history_limit(t, limit));
    CHECK_OK(kat_group_history_json(g, history, sizeof base_history, &len));
    CHECK_OK(kat_group_rdkafka_cgrp_json(g, cgrp, sizeof base_cgrp, &len));
}

static void check_unchanged(int line) {
    uint64_t epoch;
    size_t limit;
    static char history[4096], cgrp[1024];
    read_state(&epoch, &limit, history, cgrp);
    if (epoch != base_epoch || limit != base_limit || strcmp(history, base_history) != 0 ||
        strcmp(cgrp, base_cgrp) != 0) {
        fprintf(stderr, "line %d: a failed call changed the state\n", line);
        exit(1);
    }
}

static void check_names_function(int line, const char *call) {
    char fn[128];
    size_t n = strcspn(call, "(");
    if (n >= sizeof fn) n = sizeof fn - 1;
    memcpy(fn, call, n);
    fn[n] = '\0';
    if (strncmp(check_last_error(), fn, n) != 0) {
        fprintf(stderr, "line %d: last error \"%s\" does not start with %s\n", line,
                check_last_error(), fn);
        exit(1);
    }
}

#define FAILS(call, code, detail)               \
    do {                                        \
        CHECK_RESULT(call, code);               \
        check_names_function(__LINE__, #call);  \
        CHECK_ERROR_MENTIONS(detail);           \
        check_unchanged(__LINE__);              \
    } while (0)

int main(void) {
    t = kat_tracker_new();
    CHECK(t != NULL);
    CHECK_OK(kat_tracker_group(t, "billing/0", &g));
    const int32_t parts[] = {0, 1};
    CHECK_OK(kat_group_assigned_partitions(g, "orders", parts, 2));
    CHECK_OK(kat_group_revoked_partitions(g, "orders", parts, 1));
    CHECK_OK(kat_group_rdkafka_stats(g, STATS, sizeof STATS - 1));
    read_state(&base_epoch, &base_limit, base_history, base_cgrp);
    CHECK(strstr(base_history, "\"kind\":\"revoke\"") != NULL);
    CHECK(strstr(base_cgrp, "\"rebalance_cnt\":2") != NULL);

    char buf[64];
    size_t len = SENTINEL_SIZE;

    /* kat_tracker_metrics */
    FAILS(kat_tracker_metrics(NULL, KAT_METRICS_PROMETHEUS, NULL, 0, &len), KAT_ERR_NULL_POINTER,
          "`tracker`");
    FAILS(kat_tracker_metrics(t, 2, NULL, 0, &len), KAT_ERR_INVALID_ARGUMENT,
          "unknown metrics format 2");
    FAILS(kat_tracker_metrics(t, 0xFFFFFFFFu, NULL, 0, &len), KAT_ERR_INVALID_ARGUMENT,
          "unknown metrics format");
    FAILS(kat_tracker_metrics(t, KAT_METRICS_OPENMETRICS, NULL, 0, NULL), KAT_ERR_NULL_POINTER,
          "`out_len`");
    FAILS(kat_tracker_metrics(t, KAT_METRICS_PROMETHEUS, NULL, 10, &len), KAT_ERR_NULL_POINTER,
          "`buf`");
    CHECK(len == SENTINEL_SIZE);
    memset(buf, 'x', sizeof buf);
    FAILS(kat_tracker_metrics(t, KAT_METRICS_PROMETHEUS, buf, sizeof buf, &len),
          KAT_ERR_BUFFER_TOO_SMALL, "need");
    CHECK(len > sizeof buf && len != SENTINEL_SIZE); /* the needed size comes back */
    CHECK(buf[0] == 'x' && buf[sizeof buf - 1] == 'x');

    /* kat_metrics_content_type, kat_health_name: NULL for unknown values */
    CHECK(kat_metrics_content_type(3) == NULL);
    CHECK(kat_metrics_content_type(0xFFFFFFFFu) == NULL);
    CHECK(kat_health_name(6) == NULL);
    CHECK_STREQ(kat_health_name(KAT_HEALTH_STALLED), "stalled");
    CHECK(kat_health_name(0xFFFFFFFFu) == NULL);
    CHECK_STREQ(kat_health_name(KAT_HEALTH_REBALANCING), "rebalancing");

    /* kat_group_health */
    kat_group_health_t h = {KAT_HEALTH_LOST, 77};
    FAILS(kat_group_health(NULL, &h), KAT_ERR_NULL_POINTER, "`group`");
    FAILS(kat_group_health(g, NULL), KAT_ERR_NULL_POINTER, "`out_health`");
    CHECK(h.health == KAT_HEALTH_LOST && h.since_unix_ms == 77);

    /* kat_group_set_stall_after_ms */
    FAILS(kat_group_set_stall_after_ms(NULL, 1500), KAT_ERR_NULL_POINTER, "`group`");

    /* kat_group_set_stall_fraction_permille */
    FAILS(kat_group_set_stall_fraction_permille(NULL, 500), KAT_ERR_NULL_POINTER, "`group`");

    /* kat_group_history_json */
    len = SENTINEL_SIZE;
    FAILS(kat_group_history_json(NULL, NULL, 0, &len), KAT_ERR_NULL_POINTER, "`group`");
    FAILS(kat_group_history_json(g, NULL, 0, NULL), KAT_ERR_NULL_POINTER, "`out_len`");
    FAILS(kat_group_history_json(g, NULL, 1, &len), KAT_ERR_NULL_POINTER, "`buf`");
    CHECK(len == SENTINEL_SIZE);
    FAILS(kat_group_history_json(g, buf, 8, &len), KAT_ERR_BUFFER_TOO_SMALL, "need");
    CHECK(len == strlen(base_history));

    /* kat_group_stats_json */
    len = SENTINEL_SIZE;
    FAILS(kat_group_stats_json(NULL, NULL, 0, &len), KAT_ERR_NULL_POINTER, "`group`");
    FAILS(kat_group_stats_json(g, NULL, 0, NULL), KAT_ERR_NULL_POINTER, "`out_len`");
    FAILS(kat_group_stats_json(g, NULL, 1, &len), KAT_ERR_NULL_POINTER, "`buf`");
    CHECK(len == SENTINEL_SIZE);
    {
        size_t need = 0;
        char stats[1024];
        CHECK_OK(kat_group_stats_json(g, NULL, 0, &need));
        CHECK(need > 0 && need < sizeof stats);
        FAILS(kat_group_stats_json(g, stats, need, &len), KAT_ERR_BUFFER_TOO_SMALL, "need");
        CHECK(len == need);
        CHECK_OK(kat_group_stats_json(g, stats, need + 1, &len));
        CHECK(len == need && strlen(stats) == need);
        CHECK(strstr(stats, "\"glue_failures\":") != NULL);
        CHECK(strstr(stats, "\"drain_held_total\":") != NULL);
    }

    /* kat_tracker_set_history_limit, kat_tracker_history_limit */
    FAILS(kat_tracker_set_history_limit(NULL, 5), KAT_ERR_NULL_POINTER, "`tracker`");
    FAILS(kat_tracker_set_history_limit(t, 0), KAT_ERR_INVALID_ARGUMENT, "at least 1");
    size_t limit = SENTINEL_SIZE;
    FAILS(kat_tracker_history_limit(NULL, &limit), KAT_ERR_NULL_POINTER, "`tracker`");
    FAILS(kat_tracker_history_limit(t, NULL), KAT_ERR_NULL_POINTER, "`out_limit`");
    CHECK(limit == SENTINEL_SIZE);

    /* kat_group_note_rebalance_protocol, kat_group_note_rebalance_error */
    FAILS(kat_group_note_rebalance_protocol(NULL, true), KAT_ERR_NULL_POINTER, "`group`");
    FAILS(kat_group_note_rebalance_error(NULL, "refused"), KAT_ERR_NULL_POINTER, "`group`");
    FAILS(kat_group_note_rebalance_error(g, NULL), KAT_ERR_NULL_POINTER, "`detail`");

    /* kat_group_rdkafka_stats */
    FAILS(kat_group_rdkafka_stats(NULL, STATS, sizeof STATS - 1), KAT_ERR_NULL_POINTER, "`group`");
    FAILS(kat_group_rdkafka_stats(g, NULL, 4), KAT_ERR_NULL_POINTER, "`json`");
    FAILS(kat_group_rdkafka_stats(g, STATS, 20), KAT_ERR_INVALID_ARGUMENT, "at byte 20");
    FAILS(kat_group_rdkafka_stats(g, "", 0), KAT_ERR_INVALID_ARGUMENT, "unexpected end");
    FAILS(kat_group_rdkafka_stats(g, "[1,2]", 5), KAT_ERR_INVALID_ARGUMENT, "not an object");
    FAILS(kat_group_rdkafka_stats(g, "{\"a\":\"\xff\"}", 9), KAT_ERR_INVALID_UTF8, "offset 6");
    FAILS(kat_group_rdkafka_stats(g, "{\"cgrp\":{\"state\":\"up\"}} x", 26),
          KAT_ERR_INVALID_ARGUMENT, "after the JSON value");

    /* kat_group_rdkafka_stats_strip */
    len = SENTINEL_SIZE;
    FAILS(kat_group_rdkafka_stats_strip(NULL, STATS, sizeof STATS - 1, NULL, 0, &len),
          KAT_ERR_NULL_POINTER, "`group`");
    FAILS(kat_group_rdkafka_stats_strip(g, NULL, 3, NULL, 0, &len), KAT_ERR_NULL_POINTER,
          "`json`");
    FAILS(kat_group_rdkafka_stats_strip(g, STATS, sizeof STATS - 1, NULL, 0, NULL),
          KAT_ERR_NULL_POINTER, "`out_len`");
    FAILS(kat_group_rdkafka_stats_strip(g, STATS, 30, NULL, 0, &len), KAT_ERR_INVALID_ARGUMENT,
          "statistics JSON");
    FAILS(kat_group_rdkafka_stats_strip(g, "\"s\"", 3, NULL, 0, &len), KAT_ERR_INVALID_ARGUMENT,
          "not an object");
    FAILS(kat_group_rdkafka_stats_strip(g, "\xc3", 1, NULL, 0, &len), KAT_ERR_INVALID_UTF8,
          "UTF-8");
    CHECK(len == SENTINEL_SIZE);
    FAILS(kat_group_rdkafka_stats_strip(g, STATS, sizeof STATS - 1, buf, 4, &len),
          KAT_ERR_BUFFER_TOO_SMALL, "need");
    CHECK(len != SENTINEL_SIZE && len > 4);

    /* kat_group_rdkafka_cgrp_json */
    len = SENTINEL_SIZE;
    FAILS(kat_group_rdkafka_cgrp_json(NULL, NULL, 0, &len), KAT_ERR_NULL_POINTER, "`group`");
    FAILS(kat_group_rdkafka_cgrp_json(g, NULL, 0, NULL), KAT_ERR_NULL_POINTER, "`out_len`");
    FAILS(kat_group_rdkafka_cgrp_json(g, NULL, 2, &len), KAT_ERR_NULL_POINTER, "`buf`");
    CHECK(len == SENTINEL_SIZE);

    kat_group_free(g);
    kat_tracker_free(t);
    printf("hostile_observability: %lu checks passed\n", check_count);
    return 0;
}
