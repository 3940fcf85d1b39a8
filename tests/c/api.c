/*
 * api.c: the whole C API used as an application would use it, every result
 * asserted. Built against include/kat.h and linked to libkat.so and libkat.a.
 */
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "check.h"

#include "fake_list.h"

#define MAX_ELEMS 16

typedef struct list_buf {
    fake_list list;
    fake_topic_partition elems[MAX_ELEMS];
} list_buf;

/* Fills `b` with `n` (topic, partition) pairs. */
static fake_list *make_list(list_buf *b, int n, const char *const *topics, const int32_t *parts) {
    memset(b, 0, sizeof *b);
    CHECK(n <= MAX_ELEMS);
    for (int i = 0; i < n; i++) {
        b->elems[i].topic = (char *)topics[i];
        b->elems[i].partition = parts[i];
        b->elems[i].offset = -1001; /* RD_KAFKA_OFFSET_INVALID, ignored */
    }
    b->list.cnt = n;
    b->list.size = MAX_ELEMS;
    b->list.elems = b->elems;
    return &b->list;
}

static uint64_t epoch_of(const kat_tracker_t *t) {
    uint64_t e = UINT64_MAX;
    CHECK_OK(kat_tracker_epoch(t, &e));
    return e;
}

static uint64_t gen_of(const kat_group_t *g, const char *topic, int32_t p) {
    uint64_t gen = UINT64_MAX;
    CHECK_OK(kat_group_generation(g, topic, p, &gen));
    return gen;
}

static bool assigned_of(const kat_group_t *g, const char *topic, int32_t p) {
    bool a = false;
    CHECK_OK(kat_group_is_assigned(g, topic, p, &a));
    return a;
}

static kat_status status_of(const kat_group_t *g, const char *topic, int32_t p) {
    kat_partition_handle_t *h = NULL;
    kat_partition_state_t st;
    CHECK_OK(kat_group_partition(g, topic, p, &h));
    CHECK_OK(kat_partition_handle_state(h, &st));
    kat_partition_handle_free(h);
    return st.status;
}

static kat_group_stats_t stats_of(const kat_group_t *g) {
    kat_group_stats_t s;
    memset(&s, 0xAB, sizeof s);
    CHECK_OK(kat_group_stats(g, &s));
    return s;
}

static void test_version(void) {
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", KAT_VERSION_MAJOR, KAT_VERSION_MINOR,
             KAT_VERSION_PATCH);
    CHECK_STREQ(kat_version(), expected);
    CHECK_STREQ(kat_version(), KAT_VERSION_STRING);
    CHECK(kat_version() == kat_version());
}

static void test_result_messages(void) {
    const unsigned codes[] = {
        KAT_OK, KAT_ERR_NULL_POINTER, KAT_ERR_INVALID_UTF8, KAT_ERR_INVALID_GROUP,
        KAT_ERR_INVALID_TOPIC, KAT_ERR_INVALID_PARTITION, KAT_ERR_INVALID_LIST,
        KAT_ERR_INVALID_ARGUMENT, KAT_ERR_OUT_OF_RANGE, KAT_ERR_BUFFER_TOO_SMALL,
        KAT_ERR_NOT_FOUND, KAT_ERR_RDKAFKA, KAT_ERR_INTERNAL, KAT_ERR_FORKED,
    };
    const size_t n = sizeof codes / sizeof codes[0];
    /* Numbers are part of the ABI. */
    CHECK(KAT_OK == 0 && KAT_ERR_NULL_POINTER == 1 && KAT_ERR_INTERNAL == 12 &&
          KAT_ERR_FORKED == 13);
    CHECK(KAT_STATUS_NONE == 0 && KAT_STATUS_ASSIGNED == 1 && KAT_STATUS_REVOKED == 2 &&
          KAT_STATUS_LOST == 3);
    for (size_t i = 0; i < n; i++) {
        const char *m = kat_result_message(codes[i]);
        CHECK(m != NULL && m[0] != '\0');
        CHECK(strcmp(m, "unknown result code") != 0);
        for (size_t j = 0; j < i; j++) {
            CHECK(strcmp(m, kat_result_message(codes[j])) != 0);
        }
    }
    CHECK_STREQ(kat_result_message(KAT_OK), "ok");
    CHECK_STREQ(kat_result_message(14), "unknown result code");
    CHECK_STREQ(kat_result_message(0xFFFFFFFFu), "unknown result code");
    CHECK(strstr(kat_result_message(KAT_ERR_BUFFER_TOO_SMALL), "buffer") != NULL);
}

static void test_last_error_message(void) {
    kat_group_t *g = (kat_group_t *)0x1;
    CHECK_RESULT(kat_tracker_group(kat_tracker_global(), "", &g), KAT_ERR_INVALID_GROUP);
    CHECK(g == (kat_group_t *)0x1);
    size_t full = kat_last_error_message(NULL, 0);
    CHECK(full > 0);
    char big[512];
    memset(big, 'Z', sizeof big);
    CHECK(kat_last_error_message(big, sizeof big) == full);
    CHECK(strlen(big) == full);
    CHECK(strncmp(big, "kat_tracker_group: ", 19) == 0);
    /* snprintf-style truncation: cap - 1 bytes and a NUL, full length returned. */
    char small[8];
    memset(small, 'Z', sizeof small);
    CHECK(kat_last_error_message(small, 5) == full);
    CHECK(memcmp(small, big, 4) == 0 && small[4] == '\0' && small[5] == 'Z');
    /* cap 0 writes nothing. */
    small[0] = 'Q';
    CHECK(kat_last_error_message(small, 0) == full);
    CHECK(small[0] == 'Q');
}

/* The detail describes the thread's last call: any successful call clears
 * it, and so do kat_clear_last_error() and kat_set_last_error_message(…,
 * NULL). */
static void test_last_error_is_cleared(void) {
    char buf[64];
    kat_tracker_t *t = kat_tracker_new();
    kat_group_t *g = NULL;
    CHECK_OK(kat_tracker_group(t, "errors", &g));
    uint64_t gen = 0;

    /* A failure, then a successful call of another function. */
    CHECK_RESULT(kat_group_generation(g, "bad topic", 0, &gen), KAT_ERR_INVALID_TOPIC);
    CHECK(kat_last_error_message(NULL, 0) > 0);
    CHECK(kat_last_error_message(NULL, 0) > 0); /* reading does not clear */
    CHECK_OK(kat_group_generation(g, "orders", 0, &gen));
    memset(buf, 'Z', sizeof buf);
    CHECK(kat_last_error_message(buf, sizeof buf) == 0);
    CHECK(buf[0] == '\0');

    /* Functions returning a value instead of kat_result clear it too. */
    CHECK(kat_group_name(NULL) == NULL);
    CHECK(kat_last_error_message(NULL, 0) > 0);
    CHECK_STREQ(kat_group_name(g), "errors");
    CHECK(kat_last_error_message(NULL, 0) == 0);

    /* Events: a rejected one sets it, an accepted one clears it. */
    const int32_t bad[] = {-1};
    const int32_t good[] = {1};
    CHECK_RESULT(kat_group_assigned_partitions(g, "orders", bad, 1), KAT_ERR_INVALID_PARTITION);
    CHECK(kat_last_error_message(NULL, 0) > 0);
    CHECK_OK(kat_group_assigned_partitions(g, "orders", good, 1));
    CHECK(kat_last_error_message(NULL, 0) == 0);

    /* kat_result_message and kat_version leave it alone. */
    CHECK_RESULT(kat_tracker_epoch(t, NULL), KAT_ERR_NULL_POINTER);
    const size_t n = kat_last_error_message(NULL, 0);
    CHECK(n > 0);
    CHECK(kat_result_message(KAT_OK) != NULL && kat_version() != NULL);
    CHECK(kat_last_error_message(NULL, 0) == n);

    /* Cleared explicitly. */
    kat_clear_last_error();
    CHECK(kat_last_error_message(NULL, 0) == 0);
    kat_clear_last_error(); /* twice is fine */
    CHECK(kat_last_error_message(NULL, 0) == 0);
    CHECK_RESULT(kat_tracker_epoch(t, NULL), KAT_ERR_NULL_POINTER);
    kat_set_last_error_message(NULL, NULL);
    CHECK(kat_last_error_message(NULL, 0) == 0);
    CHECK_RESULT(kat_tracker_epoch(t, NULL), KAT_ERR_NULL_POINTER);
    kat_set_last_error_message("kat_rebalance", NULL);
    CHECK(kat_last_error_message(NULL, 0) == 0);

    /* Glue code's own detail is cleared the same way. */
    kat_set_last_error_message("glue", "failed");
    CHECK_STREQ(check_last_error(), "glue: failed");
    CHECK_OK(kat_group_generation(g, "orders", 1, &gen));
    CHECK(gen == 1);
    CHECK(kat_last_error_message(NULL, 0) == 0);

    kat_group_free(g);
    kat_tracker_free(t);
}

static void *fresh_thread_error(void *arg) {
    size_t *out = arg;
    *out = kat_last_error_message(NULL, 0);
    return NULL;
}

static void test_last_error_is_per_thread(void) {
    size_t other = 12345;
    pthread_t th;
    CHECK(kat_last_error_message(NULL, 0) > 0); /* set by test_last_error_message */
    CHECK(pthread_create(&th, NULL, fresh_thread_error, &other) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(other == 0);
}

static void test_trackers_and_groups(void) {
    const kat_tracker_t *global = kat_tracker_global();
    CHECK(global != NULL);
    CHECK(kat_tracker_global() == global);
    kat_tracker_free((kat_tracker_t *)global); /* a no-op on the global tracker */
    CHECK(kat_tracker_global() == global);
    (void)epoch_of(global);

    kat_tracker_t *a = kat_tracker_new();
    kat_tracker_t *b = kat_tracker_new();
    CHECK(a != NULL && b != NULL && a != b);
    CHECK(epoch_of(a) == 0);
    size_t limit = 0;
    CHECK_OK(kat_tracker_generations_topics_limit(a, &limit));
    CHECK(limit == KAT_DEFAULT_GENERATIONS_TOPICS_LIMIT);

    kat_group_t *g1 = NULL, *g1_again = NULL, *g2 = NULL, *b_g1 = NULL;
    CHECK_OK(kat_tracker_group(a, "billing", &g1));
    CHECK_OK(kat_tracker_group(a, "billing", &g1_again));
    CHECK_OK(kat_tracker_group(a, "shipping", &g2));
    CHECK_OK(kat_tracker_group(b, "billing", &b_g1));
    CHECK(g1 != NULL && g1_again != NULL && g1 != g1_again);
    CHECK_STREQ(kat_group_name(g1), "billing");
    CHECK_STREQ(kat_group_name(g2), "shipping");
    /* Getting a group creates no state. */
    CHECK(epoch_of(a) == 0);

    const int32_t parts[] = {0, 1};
    CHECK_OK(kat_group_assigned_partitions(g1, "orders", parts, 2));
    /* Same name, same group: the second handle sees the first one's event. */
    CHECK(gen_of(g1_again, "orders", 1) == 1);
    CHECK(assigned_of(g1_again, "orders", 0));
    /* Another group with the same topic is independent. */
    CHECK(gen_of(g2, "orders", 0) == 0);
    CHECK(!assigned_of(g2, "orders", 0));
    /* Another tracker is independent. */
    CHECK(gen_of(b_g1, "orders", 0) == 0);
    CHECK(epoch_of(b) == 0);

    /* Tracker-level reads by group name. */
    uint64_t gen = 0;
    bool is = false;
    CHECK_OK(kat_tracker_generation(a, "billing", "orders", 0, &gen));
    CHECK(gen == 1);
    CHECK_OK(kat_tracker_is_assigned(a, "billing", "orders", 1, &is));
    CHECK(is);
    CHECK_OK(kat_tracker_generation(a, "nobody", "orders", 0, &gen));
    CHECK(gen == 0);
    CHECK_OK(kat_tracker_is_assigned(a, "nobody", "orders", 0, &is));
    CHECK(!is);

    /* Group names: any UTF-8, up to 1024 bytes. */
    kat_group_t *u = NULL;
    CHECK_OK(kat_tracker_group(a, "gr\xc3\xbcppe \xe2\x9c\x93 with spaces", &u));
    CHECK_STREQ(kat_group_name(u), "gr\xc3\xbcppe \xe2\x9c\x93 with spaces");
    kat_group_free(u);
    char longest[KAT_MAX_GROUP_NAME_LEN + 2];
    memset(longest, 'g', KAT_MAX_GROUP_NAME_LEN);
    longest[KAT_MAX_GROUP_NAME_LEN] = '\0';
    CHECK_OK(kat_tracker_group(a, longest, &u));
    kat_group_free(u);

    /* A group keeps its tracker alive after kat_tracker_free. */
    kat_group_free(g1_again);
    kat_tracker_free(a);
    CHECK(gen_of(g1, "orders", 0) == 1);
    const int32_t more[] = {2};
    CHECK_OK(kat_group_assigned_partitions(g1, "orders", more, 1));
    CHECK(gen_of(g1, "orders", 2) == 1);
    CHECK(gen_of(g2, "orders", 2) == 0);

    kat_group_free(g1);
    kat_group_free(g2);
    kat_group_free(b_g1);
    kat_tracker_free(b);

    /* kat_tracker_new_with_limit. */
    kat_tracker_t *lim = NULL;
    CHECK_OK(kat_tracker_new_with_limit(7, &lim));
    CHECK(lim != NULL);
    CHECK_OK(kat_tracker_generations_topics_limit(lim, &limit));
    CHECK(limit == 7);
    CHECK_OK(kat_tracker_set_generations_topics_limit(lim, 3));
    CHECK_OK(kat_tracker_generations_topics_limit(lim, &limit));
    CHECK(limit == 3);
    kat_tracker_free(lim);
}

/* SPEC §3, row by row, through the librdkafka list entry points. */
static void test_spec_rows(void) {
    kat_tracker_t *t = kat_tracker_new();
    kat_group_t *g = NULL;
    CHECK_OK(kat_tracker_group(t, "rows", &g));
    list_buf b;

    /* assigned: +1 per listed key; topics sorted; epoch +1. */
    {
        const char *topics[] = {"orders", "orders", "orders", "audit"};
        const int32_t parts[] = {2, 0, 1, 0};
        CHECK_OK(kat_group_assigned(g, make_list(&b, 4, topics, parts)));
    }
    CHECK(epoch_of(t) == 1);
    CHECK(gen_of(g, "orders", 0) == 1 && gen_of(g, "orders", 1) == 1 &&
          gen_of(g, "orders", 2) == 1 && gen_of(g, "audit", 0) == 1);
    CHECK(assigned_of(g, "orders", 2) && assigned_of(g, "audit", 0));
    CHECK(status_of(g, "orders", 0) == KAT_STATUS_ASSIGNED);
    CHECK(gen_of(g, "orders", 3) == 0 && !assigned_of(g, "orders", 3));
    CHECK(status_of(g, "orders", 3) == KAT_STATUS_NONE);

    /* An empty list is valid and changes nothing. */
    CHECK_OK(kat_group_assigned(g, make_list(&b, 0, NULL, NULL)));
    CHECK_OK(kat_group_revoked(g, make_list(&b, 0, NULL, NULL)));
    CHECK(epoch_of(t) == 1);
    CHECK(stats_of(g).assigned_events == 1);

    /* revoked: removes listed ones, unknown ones ignored; generations kept. */
    {
        const char *topics[] = {"orders", "orders", "nowhere"};
        const int32_t parts[] = {1, 9, 4};
        CHECK_OK(kat_group_revoked(g, make_list(&b, 3, topics, parts)));
    }
    CHECK(epoch_of(t) == 2);
    CHECK(!assigned_of(g, "orders", 1) && gen_of(g, "orders", 1) == 1);
    CHECK(status_of(g, "orders", 1) == KAT_STATUS_REVOKED);
    CHECK(assigned_of(g, "orders", 0));
    CHECK(gen_of(g, "orders", 9) == 0 && gen_of(g, "nowhere", 4) == 0);
    /* Revoking only unknown partitions changes nothing. */
    {
        const char *topics[] = {"orders"};
        const int32_t parts[] = {42};
        CHECK_OK(kat_group_revoked(g, make_list(&b, 1, topics, parts)));
    }
    CHECK(epoch_of(t) == 2);

    /* assigned again: +1, also for a partition that is still assigned. */
    {
        const char *topics[] = {"orders", "orders"};
        const int32_t parts[] = {1, 0};
        CHECK_OK(kat_group_assigned(g, make_list(&b, 2, topics, parts)));
    }
    CHECK(epoch_of(t) == 3);
    CHECK(gen_of(g, "orders", 1) == 2 && assigned_of(g, "orders", 1));
    CHECK(gen_of(g, "orders", 0) == 2 && assigned_of(g, "orders", 0));
    CHECK(gen_of(g, "orders", 2) == 1);

    /* lost: everything goes, status lost, generations kept. */
    CHECK_OK(kat_group_lost(g));
    CHECK(epoch_of(t) == 4);
    CHECK(!assigned_of(g, "orders", 0) && !assigned_of(g, "audit", 0));
    CHECK(status_of(g, "orders", 0) == KAT_STATUS_LOST);
    CHECK(status_of(g, "orders", 1) == KAT_STATUS_LOST);
    CHECK(status_of(g, "audit", 0) == KAT_STATUS_LOST);
    CHECK(gen_of(g, "orders", 0) == 2 && gen_of(g, "audit", 0) == 1);
    /* lost with nothing owned changes nothing. */
    CHECK_OK(kat_group_lost(g));
    CHECK(epoch_of(t) == 4);
    CHECK(stats_of(g).lost_events == 1);

    /* reset: like lost, counted as a reset. */
    {
        const char *topics[] = {"orders"};
        const int32_t parts[] = {0};
        CHECK_OK(kat_group_assigned(g, make_list(&b, 1, topics, parts)));
    }
    CHECK(epoch_of(t) == 5 && gen_of(g, "orders", 0) == 3);
    CHECK_OK(kat_group_reset(g));
    CHECK(epoch_of(t) == 6);
    CHECK(!assigned_of(g, "orders", 0) && gen_of(g, "orders", 0) == 3);
    CHECK(status_of(g, "orders", 0) == KAT_STATUS_LOST);
    CHECK(stats_of(g).reset_events == 1 && stats_of(g).lost_events == 1);
    CHECK_OK(kat_group_reset(g));
    CHECK(epoch_of(t) == 6);

    /* replace: exactly the list; listed +1, owned-but-unlisted revoked. */
    {
        const char *topics[] = {"orders", "orders"};
        const int32_t parts[] = {0, 1};
        CHECK_OK(kat_group_assigned(g, make_list(&b, 2, topics, parts)));
    }
    CHECK(epoch_of(t) == 7);
    CHECK(gen_of(g, "orders", 0) == 4 && gen_of(g, "orders", 1) == 3);
    {
        const char *topics[] = {"orders", "orders", "fresh"};
        const int32_t parts[] = {1, 5, 0};
        CHECK_OK(kat_group_replace(g, make_list(&b, 3, topics, parts)));
    }
    CHECK(epoch_of(t) == 8);
    CHECK(!assigned_of(g, "orders", 0) && gen_of(g, "orders", 0) == 4);
    CHECK(status_of(g, "orders", 0) == KAT_STATUS_REVOKED);
    CHECK(assigned_of(g, "orders", 1) && gen_of(g, "orders", 1) == 4);
    CHECK(assigned_of(g, "orders", 5) && gen_of(g, "orders", 5) == 1);
    CHECK(assigned_of(g, "fresh", 0) && gen_of(g, "fresh", 0) == 1);
    /* replace with an empty list revokes everything. */
    CHECK_OK(kat_group_replace(g, make_list(&b, 0, NULL, NULL)));
    CHECK(epoch_of(t) == 9);
    CHECK(!assigned_of(g, "orders", 1) && status_of(g, "orders", 1) == KAT_STATUS_REVOKED);
    CHECK(!assigned_of(g, "fresh", 0) && gen_of(g, "fresh", 0) == 1);

    /* Per-group counters: only changing events count. */
    kat_group_stats_t s = stats_of(g);
    CHECK(s.assigned_events == 5); /* 4 assigns + 1 replace that assigned */
    CHECK(s.revoked_events == 3);  /* 1 revoke + 2 replaces that removed */
    CHECK(s.lost_events == 1);
    CHECK(s.reset_events == 1);
    CHECK(s.last_change_unix_ms > 0);

    /* clear: everything goes, generations too; epoch +1 once. */
    CHECK_OK(kat_tracker_clear(t));
    CHECK(epoch_of(t) == 10);
    CHECK(gen_of(g, "orders", 0) == 0 && gen_of(g, "fresh", 0) == 0);
    CHECK(status_of(g, "orders", 1) == KAT_STATUS_NONE);
    CHECK_OK(kat_tracker_clear(t));
    CHECK(epoch_of(t) == 10);
    {
        const char *topics[] = {"orders"};
        const int32_t parts[] = {0};
        CHECK_OK(kat_group_assigned(g, make_list(&b, 1, topics, parts)));
    }
    CHECK(gen_of(g, "orders", 0) == 1);
    CHECK(epoch_of(t) == 11);

    kat_group_free(g);
    kat_tracker_free(t);
}

/* The (topic, partitions[]) and (topic, partition) pair entry points. */
static void test_pairs_and_arrays(void) {
    kat_tracker_t *t = kat_tracker_new();
    kat_group_t *g = NULL;
    CHECK_OK(kat_tracker_group(t, "arrays", &g));

    const int32_t p012[] = {2, 0, 1, 1};
    CHECK_OK(kat_group_assigned_partitions(g, "a", p012, 4));
    CHECK(gen_of(g, "a", 0) == 1 && gen_of(g, "a", 1) == 1 && gen_of(g, "a", 2) == 1);
    CHECK_OK(kat_group_assigned_partitions(g, "a", NULL, 0));
    CHECK(epoch_of(t) == 1);
    const int32_t p1[] = {1};
    CHECK_OK(kat_group_revoked_partitions(g, "a", p1, 1));
    CHECK(!assigned_of(g, "a", 1) && status_of(g, "a", 1) == KAT_STATUS_REVOKED);
    const int32_t p13[] = {1, 3};
    CHECK_OK(kat_group_replace_partitions(g, "a", p13, 2));
    CHECK(assigned_of(g, "a", 1) && gen_of(g, "a", 1) == 2);
    CHECK(assigned_of(g, "a", 3) && gen_of(g, "a", 3) == 1);
    CHECK(!assigned_of(g, "a", 0) && status_of(g, "a", 0) == KAT_STATUS_REVOKED);
    CHECK(!assigned_of(g, "a", 2));
    CHECK(epoch_of(t) == 3);

    const kat_topic_partition_t pairs[] = {{"b", 0}, {"c", 7}, {"b", 1}, {"a", 1}};
    CHECK_OK(kat_group_assigned_pairs(g, pairs, 4));
    CHECK(gen_of(g, "b", 0) == 1 && gen_of(g, "c", 7) == 1 && gen_of(g, "a", 1) == 3);
    CHECK(epoch_of(t) == 4);
    const kat_topic_partition_t rev[] = {{"c", 7}, {"b", 1}};
    CHECK_OK(kat_group_revoked_pairs(g, rev, 2));
    CHECK(!assigned_of(g, "c", 7) && !assigned_of(g, "b", 1) && assigned_of(g, "b", 0));
    const kat_topic_partition_t rep[] = {{"c", 7}};
    CHECK_OK(kat_group_replace_pairs(g, rep, 1));
    CHECK(assigned_of(g, "c", 7) && gen_of(g, "c", 7) == 2);
    CHECK(!assigned_of(g, "b", 0) && !assigned_of(g, "a", 1) && !assigned_of(g, "a", 3));
    CHECK_OK(kat_group_assigned_pairs(g, NULL, 0));
    CHECK_OK(kat_group_revoked_pairs(g, NULL, 0));
    CHECK(epoch_of(t) == 6);

    kat_group_free(g);
    kat_tracker_free(t);
}

/* Snapshots: iteration without copying, sorted, immutable while held. */
static void test_snapshot(void) {
    kat_tracker_t *t = kat_tracker_new();
    kat_group_t *zeta = NULL, *alpha = NULL, *idle = NULL;
    CHECK_OK(kat_tracker_group(t, "zeta", &zeta));
    CHECK_OK(kat_tracker_group(t, "alpha", &alpha));
    CHECK_OK(kat_tracker_group(t, "idle", &idle));

    const int32_t p[] = {5, 3, 4};
    CHECK_OK(kat_group_assigned_partitions(zeta, "t2", p, 3));
    CHECK_OK(kat_group_assigned_partitions(zeta, "t1", p, 1));
    CHECK_OK(kat_group_assigned_partitions(alpha, "t1", p + 1, 2));
    CHECK_OK(kat_group_assigned_partitions(alpha, "t1", p + 1, 1)); /* t1/3 -> gen 2 */
    CHECK_OK(kat_group_assigned_partitions(idle, "gone", p, 1));
    CHECK_OK(kat_group_revoked_partitions(idle, "gone", p, 1));

    kat_snapshot_t *s = NULL;
    CHECK_OK(kat_tracker_snapshot(t, &s));
    CHECK(s != NULL);
    uint64_t e = 0;
    CHECK_OK(kat_snapshot_epoch(s, &e));
    CHECK(e == 6 && e == epoch_of(t));
    size_t ng = 0, np = 0;
    CHECK_OK(kat_snapshot_group_count(s, &ng));
    CHECK(ng == 3); /* a group that owns nothing now is still listed */
    CHECK_OK(kat_snapshot_partition_count(s, &np));
    CHECK(np == 6);

    const char *group_names[] = {"alpha", "idle", "zeta"};
    const size_t topic_counts[] = {1, 0, 2};
    const size_t part_counts[] = {2, 0, 4};
    size_t total = 0;
    for (size_t gi = 0; gi < ng; gi++) {
        kat_group_view_t gv;
        CHECK_OK(kat_snapshot_group(s, gi, &gv));
        CHECK_STREQ(gv.name, group_names[gi]);
        CHECK(gv.name_len == strlen(group_names[gi]));
        CHECK(gv.topic_count == topic_counts[gi]);
        CHECK(gv.partition_count == part_counts[gi]);
        /* The view borrows: asking again gives the same pointer. */
        kat_group_view_t again;
        CHECK_OK(kat_snapshot_group(s, gi, &again));
        CHECK(again.name == gv.name);
        const char *prev_topic = "";
        for (size_t ti = 0; ti < gv.topic_count; ti++) {
            kat_topic_view_t tv, tv2;
            CHECK_OK(kat_snapshot_topic(s, gi, ti, &tv));
            CHECK_OK(kat_snapshot_topic(s, gi, ti, &tv2));
            CHECK(tv.partitions == tv2.partitions && tv.name == tv2.name);
            CHECK_STREQ(tv.group, group_names[gi]);
            CHECK(tv.group_len == gv.name_len);
            CHECK(tv.name_len == strlen(tv.name));
            CHECK(strcmp(prev_topic, tv.name) < 0);
            prev_topic = tv.name;
            CHECK(tv.partition_count >= 1);
            for (size_t pi = 0; pi < tv.partition_count; pi++) {
                if (pi > 0) {
                    CHECK(tv.partitions[pi - 1].partition < tv.partitions[pi].partition);
                }
                CHECK(tv.partitions[pi].generation >= 1);
                total++;
            }
        }
        kat_topic_view_t none;
        memset(&none, 0x5A, sizeof none);
        CHECK_RESULT(kat_snapshot_topic(s, gi, gv.topic_count, &none), KAT_ERR_OUT_OF_RANGE);
        CHECK(((const unsigned char *)&none)[0] == 0x5A);
    }
    CHECK(total == np);
    kat_group_view_t gv;
    memset(&gv, 0x5A, sizeof gv);
    CHECK_RESULT(kat_snapshot_group(s, ng, &gv), KAT_ERR_OUT_OF_RANGE);
    CHECK_ERROR_MENTIONS("out of range");
    CHECK(gv.name_len == (size_t)0x5A5A5A5A5A5A5A5Aull);

    /* zeta: t1 = [5], t2 = [3, 4, 5]; alpha t1 = [3 (gen 2), 4 (gen 1)]. */
    kat_topic_view_t tv;
    CHECK_OK(kat_snapshot_find_topic(s, "zeta", "t2", &tv));
    CHECK(tv.partition_count == 3);
    CHECK(tv.partitions[0].partition == 3 && tv.partitions[1].partition == 4 &&
          tv.partitions[2].partition == 5);
    CHECK_STREQ(tv.name, "t2");
    CHECK_STREQ(tv.group, "zeta");
    CHECK_OK(kat_snapshot_find_topic(s, "alpha", "t1", &tv));
    CHECK(tv.partition_count == 2);
    CHECK(tv.partitions[0].partition == 3 && tv.partitions[0].generation == 2);
    CHECK(tv.partitions[1].partition == 4 && tv.partitions[1].generation == 1);
    /* find_topic borrows the same array kat_snapshot_topic lends. */
    kat_topic_view_t by_index;
    CHECK_OK(kat_snapshot_topic(s, 0, 0, &by_index));
    CHECK(by_index.partitions == tv.partitions);
    memset(&tv, 0x5A, sizeof tv);
    CHECK_RESULT(kat_snapshot_find_topic(s, "idle", "gone", &tv), KAT_ERR_NOT_FOUND);
    CHECK(tv.partition_count == (size_t)0x5A5A5A5A5A5A5A5Aull);
    CHECK_RESULT(kat_snapshot_find_topic(s, "nobody", "t1", &tv), KAT_ERR_NOT_FOUND);
    CHECK_RESULT(kat_snapshot_find_topic(s, "zeta", "t3", &tv), KAT_ERR_NOT_FOUND);

    uint64_t gen = 0;
    bool is = true;
    CHECK_OK(kat_snapshot_generation(s, "alpha", "t1", 3, &gen));
    CHECK(gen == 2);
    CHECK_OK(kat_snapshot_generation(s, "idle", "gone", 5, &gen));
    CHECK(gen == 1);
    CHECK_OK(kat_snapshot_is_assigned(s, "idle", "gone", 5, &is));
    CHECK(!is);
    CHECK_OK(kat_snapshot_is_assigned(s, "zeta", "t1", 5, &is));
    CHECK(is);

    /* A held snapshot never changes. */
    const kat_assigned_partition_t *zeta_t1 = NULL;
    CHECK_OK(kat_snapshot_find_topic(s, "zeta", "t1", &tv));
    zeta_t1 = tv.partitions;
    CHECK_OK(kat_group_lost(zeta));
    CHECK_OK(kat_snapshot_epoch(s, &e));
    CHECK(e == 6);
    CHECK_OK(kat_snapshot_is_assigned(s, "zeta", "t1", 5, &is));
    CHECK(is);
    CHECK_OK(kat_snapshot_find_topic(s, "zeta", "t1", &tv));
    CHECK(tv.partitions == zeta_t1 && tv.partitions[0].partition == 5 &&
          tv.partitions[0].generation == 1);
    CHECK_OK(kat_snapshot_partition_count(s, &np));
    CHECK(np == 6);

    kat_snapshot_t *s2 = NULL;
    CHECK_OK(kat_tracker_snapshot(t, &s2));
    CHECK_OK(kat_snapshot_epoch(s2, &e));
    CHECK(e == 7);
    CHECK_OK(kat_snapshot_partition_count(s2, &np));
    CHECK(np == 2);
    CHECK_RESULT(kat_snapshot_find_topic(s2, "zeta", "t1", &tv), KAT_ERR_NOT_FOUND);

    /* Snapshots outlive their tracker and groups. */
    kat_group_free(zeta);
    kat_group_free(alpha);
    kat_group_free(idle);
    kat_tracker_free(t);
    CHECK_OK(kat_snapshot_find_topic(s, "zeta", "t2", &tv));
    CHECK(tv.partition_count == 3);
    kat_snapshot_free(s);
    CHECK_OK(kat_snapshot_find_topic(s2, "alpha", "t1", &tv));
    CHECK(tv.partition_count == 2);
    kat_snapshot_free(s2);
}

static void test_generations(void) {
    kat_tracker_t *t = kat_tracker_new();
    kat_group_t *g = NULL, *h = NULL;
    CHECK_OK(kat_tracker_group(t, "g", &g));
    CHECK_OK(kat_tracker_group(t, "h", &h));
    const int32_t p[] = {1, 0};
    CHECK_OK(kat_group_assigned_partitions(h, "x", p, 1));
    CHECK_OK(kat_group_assigned_partitions(g, "y", p, 2));
    CHECK_OK(kat_group_revoked_partitions(g, "y", p, 1));
    CHECK_OK(kat_group_assigned_partitions(g, "x", p + 1, 1));
    CHECK_OK(kat_group_assigned_partitions(g, "x", p + 1, 1));
    CHECK_OK(kat_group_lost(h));

    kat_generations_t *gens = NULL;
    CHECK_OK(kat_tracker_generations(t, &gens));
    size_t n = 0;
    uint64_t e = 0;
    CHECK_OK(kat_generations_count(gens, &n));
    CHECK(n == 4);
    CHECK_OK(kat_generations_epoch(gens, &e));
    CHECK(e == 6);

    struct {
        const char *group, *topic;
        int32_t partition;
        uint64_t generation;
        kat_status status;
    } expected[] = {
        {"g", "x", 0, 2, KAT_STATUS_ASSIGNED},
        {"g", "y", 0, 1, KAT_STATUS_ASSIGNED},
        {"g", "y", 1, 1, KAT_STATUS_REVOKED},
        {"h", "x", 1, 1, KAT_STATUS_LOST},
    };
    for (size_t i = 0; i < n; i++) {
        kat_generation_entry_t en;
        CHECK_OK(kat_generations_get(gens, i, &en));
        CHECK_STREQ(en.group, expected[i].group);
        CHECK_STREQ(en.topic, expected[i].topic);
        CHECK(en.group_len == strlen(expected[i].group));
        CHECK(en.topic_len == strlen(expected[i].topic));
        CHECK(en.partition == expected[i].partition);
        CHECK(en.generation == expected[i].generation);
        CHECK(en.status == expected[i].status);
    }
    kat_generation_entry_t en;
    memset(&en, 0x5A, sizeof en);
    CHECK_RESULT(kat_generations_get(gens, n, &en), KAT_ERR_OUT_OF_RANGE);
    CHECK(en.partition == 0x5A5A5A5A);

    const char *json =
        "{\"epoch\":6,\"groups\":{\"g\":{\"x\":{\"0\":{\"generation\":2,\"status\":\"assigned\"}},"
        "\"y\":{\"0\":{\"generation\":1,\"status\":\"assigned\"},\"1\":{\"generation\":1,"
        "\"status\":\"revoked\"}}},\"h\":{\"x\":{\"1\":{\"generation\":1,\"status\":"
        "\"lost\"}}}}}";
    size_t len = 0;
    CHECK_OK(kat_generations_to_json(gens, NULL, 0, &len));
    CHECK(len == strlen(json));
    char buf[512];
    CHECK_OK(kat_generations_to_json(gens, buf, sizeof buf, &len));
    CHECK_STREQ(buf, json);

    /* A frozen copy: later events do not show. */
    CHECK_OK(kat_tracker_clear(t));
    CHECK_OK(kat_generations_count(gens, &n));
    CHECK(n == 4);
    kat_generations_free(gens);
    CHECK_OK(kat_tracker_generations(t, &gens));
    CHECK_OK(kat_generations_count(gens, &n));
    CHECK(n == 0);
    CHECK_OK(kat_generations_to_json(gens, buf, sizeof buf, &len));
    CHECK_STREQ(buf, "{\"epoch\":7,\"groups\":{}}");
    kat_generations_free(gens);

    kat_group_free(g);
    kat_group_free(h);
    kat_tracker_free(t);
}

static kat_partition_state_t state_of(kat_partition_handle_t *h) {
    kat_partition_state_t st;
    memset(&st, 0x5A, sizeof st);
    CHECK_OK(kat_partition_handle_state(h, &st));
    CHECK(st.assigned == (st.status == KAT_STATUS_ASSIGNED));
    return st;
}

static void test_handles(void) {
    kat_tracker_t *t = kat_tracker_new();
    kat_group_t *g = NULL;
    CHECK_OK(kat_tracker_group(t, "handles", &g));

    /* A handle on a key never assigned. */
    kat_partition_handle_t *h = NULL;
    CHECK_OK(kat_group_partition(g, "orders", 3, &h));
    CHECK(h != NULL);
    kat_partition_state_t st = state_of(h);
    CHECK(st.generation == 0 && st.status == KAT_STATUS_NONE && !st.assigned);
    CHECK(!kat_partition_handle_owned_at(h, 0));

    const int32_t p3[] = {3};
    CHECK_OK(kat_group_assigned_partitions(g, "orders", p3, 1));
    st = state_of(h);
    CHECK(st.generation == 1 && st.status == KAT_STATUS_ASSIGNED && st.assigned);
    CHECK(kat_partition_handle_owned_at(h, 1));
    CHECK(!kat_partition_handle_owned_at(h, 2));

    /* Fencing: a job started at generation 1 is fenced after revoke + assign. */
    CHECK_OK(kat_group_revoked_partitions(g, "orders", p3, 1));
    st = state_of(h);
    CHECK(st.generation == 1 && st.status == KAT_STATUS_REVOKED && !st.assigned);
    CHECK(!kat_partition_handle_owned_at(h, 1));
    CHECK_OK(kat_group_assigned_partitions(g, "orders", p3, 1));
    st = state_of(h);
    CHECK(st.generation == 2 && st.assigned);
    CHECK(!kat_partition_handle_owned_at(h, 1));
    CHECK(kat_partition_handle_owned_at(h, 2));

    /* A second handle on the same key sees the same state. */
    kat_partition_handle_t *h2 = NULL;
    CHECK_OK(kat_group_partition(g, "orders", 3, &h2));
    CHECK(state_of(h2).generation == 2);

    CHECK_OK(kat_group_lost(g));
    st = state_of(h);
    CHECK(st.generation == 2 && st.status == KAT_STATUS_LOST && !st.assigned);
    CHECK_OK(kat_group_assigned_partitions(g, "orders", p3, 1));
    CHECK_OK(kat_group_reset(g));
    st = state_of(h);
    CHECK(st.generation == 3 && st.status == KAT_STATUS_LOST);

    /* Valid after clear: generation 0, then counts again from 1. */
    CHECK_OK(kat_tracker_clear(t));
    st = state_of(h);
    CHECK(st.generation == 0 && st.status == KAT_STATUS_NONE);
    CHECK_OK(kat_group_assigned_partitions(g, "orders", p3, 1));
    CHECK(state_of(h).generation == 1 && kat_partition_handle_owned_at(h, 1));
    CHECK(state_of(h2).generation == 1);
    kat_partition_handle_free(h2);

    /* Valid after its tracker and group are freed. */
    kat_group_free(g);
    kat_tracker_free(t);
    CHECK(kat_partition_handle_owned_at(h, 1));
    kat_partition_handle_free(h);
}

/* SPEC §5 through the C ABI: eviction past the limit, pinned by handles. */
static void test_generations_limit(void) {
    kat_tracker_t *t = NULL;
    CHECK_OK(kat_tracker_new_with_limit(1, &t));
    kat_group_t *g = NULL;
    CHECK_OK(kat_tracker_group(t, "bounded", &g));
    const int32_t p0[] = {0, 1};
    CHECK_OK(kat_group_assigned_partitions(g, "a", p0, 2));
    CHECK_OK(kat_group_assigned_partitions(g, "a", p0, 1));
    CHECK(gen_of(g, "a", 0) == 2);
    CHECK_OK(kat_group_revoked_partitions(g, "a", p0, 2));
    /* (bounded, a) is evictable now: assigning b evicts it. */
    CHECK_OK(kat_group_assigned_partitions(g, "b", p0, 1));
    CHECK(gen_of(g, "a", 0) == 0 && gen_of(g, "b", 0) == 1);
    /* Evicted topics start again at 1; b is assigned, so the limit is exceeded. */
    CHECK_OK(kat_group_assigned_partitions(g, "a", p0, 1));
    CHECK(gen_of(g, "a", 0) == 1 && gen_of(g, "b", 0) == 1);

    /* A live handle pins its entry. */
    kat_partition_handle_t *h = NULL;
    CHECK_OK(kat_group_partition(g, "a", 0, &h));
    CHECK_OK(kat_group_revoked_partitions(g, "a", p0, 1));
    CHECK_OK(kat_group_revoked_partitions(g, "b", p0, 1));
    CHECK_OK(kat_group_assigned_partitions(g, "c", p0, 1));
    CHECK(gen_of(g, "a", 0) == 1);
    CHECK(gen_of(g, "b", 0) == 0);
    CHECK(state_of(h).generation == 1 && state_of(h).status == KAT_STATUS_REVOKED);
    kat_partition_handle_free(h);

    kat_group_free(g);
    kat_tracker_free(t);
}

typedef struct waiter {
    const kat_tracker_t *tracker;
    uint64_t from;
    uint64_t seen;
    kat_result result;
} waiter;

static void *wait_thread(void *arg) {
    waiter *w = arg;
    /* The timeout only bounds a broken run; the event wakes the waiter. */
    w->result = kat_tracker_wait_for_change(w->tracker, w->from, 600000, &w->seen);
    return NULL;
}

static void test_epoch_and_wait(void) {
    kat_tracker_t *t = kat_tracker_new();
    uint64_t seen = 99;
    /* Nothing changes: a short wait times out and reports the same epoch. */
    CHECK_OK(kat_tracker_wait_for_change(t, 0, 20, &seen));
    CHECK(seen == 0);
    CHECK_OK(kat_tracker_wait_for_change(t, 0, 0, &seen));
    CHECK(seen == 0);
    /* An epoch that differs from the current one returns at once. */
    CHECK_OK(kat_tracker_wait_for_change(t, 41, 600000, &seen));
    CHECK(seen == 0);

    kat_group_t *g = NULL;
    CHECK_OK(kat_tracker_group(t, "waited", &g));
    waiter w = {t, 0, 0, KAT_ERR_INTERNAL};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, wait_thread, &w) == 0);
    const int32_t p[] = {0};
    CHECK_OK(kat_group_assigned_partitions(g, "t", p, 1));
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(w.result == KAT_OK);
    CHECK(w.seen == 1);
    CHECK(epoch_of(t) == 1);

    kat_group_free(g);
    kat_tracker_free(t);
}

static void test_snapshot_json(void) {
    kat_tracker_t *t = kat_tracker_new();
    kat_group_t *g = NULL, *q = NULL;
    CHECK_OK(kat_tracker_group(t, "billing", &g));
    CHECK_OK(kat_tracker_group(t, "quote\"d", &q));
    const int32_t p[] = {10, 2};
    CHECK_OK(kat_group_assigned_partitions(g, "orders", p, 2));
    CHECK_OK(kat_group_assigned_partitions(g, "orders", p + 1, 1));
    CHECK_OK(kat_group_assigned_partitions(q, "x", p + 1, 1));
    kat_snapshot_t *s = NULL;
    CHECK_OK(kat_tracker_snapshot(t, &s));
    const char *json =
        "{\"epoch\":3,\"groups\":{\"billing\":{\"orders\":{\"2\":2,\"10\":1}},"
        "\"quote\\\"d\":{\"x\":{\"2\":1}}}}";
    const size_t n = strlen(json);

    /* Size query. */
    size_t len = 777;
    CHECK_OK(kat_snapshot_to_json(s, NULL, 0, &len));
    CHECK(len == n);

    /* Too small (a buffer of the text's length has no room for the NUL):
     * the buffer is untouched, and out_len still receives the length. */
    char buf[256];
    memset(buf, '#', sizeof buf);
    len = 777;
    CHECK_RESULT(kat_snapshot_to_json(s, buf, n, &len), KAT_ERR_BUFFER_TOO_SMALL);
    CHECK_ERROR_MENTIONS("kat_snapshot_to_json");
    CHECK_ERROR_MENTIONS("out_len");
    CHECK(len == n);
    for (size_t i = 0; i < sizeof buf; i++) {
        CHECK(buf[i] == '#');
    }
    len = 777;
    CHECK_RESULT(kat_snapshot_to_json(s, buf, 1, &len), KAT_ERR_BUFFER_TOO_SMALL);
    CHECK(buf[0] == '#' && len == n);

    /* Exactly large enough: length + 1 bytes. */
    len = 777;
    CHECK_OK(kat_snapshot_to_json(s, buf, n + 1, &len));
    CHECK(len == n);
    CHECK_STREQ(buf, json);
    CHECK(buf[n + 1] == '#');

    /* The grow-and-retry loop the contract allows: start small, allocate
     * out_len + 1 after one failure, succeed on the second call. */
    char small[4];
    size_t need = 0;
    CHECK_RESULT(kat_snapshot_to_json(s, small, sizeof small, &need), KAT_ERR_BUFFER_TOO_SMALL);
    CHECK(need == n);
    char *grown = malloc(need + 1);
    CHECK(grown != NULL);
    size_t got = 0;
    CHECK_OK(kat_snapshot_to_json(s, grown, need + 1, &got));
    CHECK(got == need && strlen(grown) == need);
    CHECK_STREQ(grown, json);
    free(grown);

    /* Generations JSON follows the same buffer rules. */
    kat_generations_t *gens = NULL;
    CHECK_OK(kat_tracker_generations(t, &gens));
    size_t glen = 0;
    CHECK_OK(kat_generations_to_json(gens, NULL, 0, &glen));
    memset(buf, '#', sizeof buf);
    CHECK(glen < sizeof buf);
    len = 777;
    CHECK_RESULT(kat_generations_to_json(gens, buf, glen, &len), KAT_ERR_BUFFER_TOO_SMALL);
    CHECK(buf[0] == '#' && len == glen);
    len = 777;
    CHECK_RESULT(kat_generations_to_json(gens, buf, 0, &len), KAT_ERR_BUFFER_TOO_SMALL);
    CHECK(buf[0] == '#' && len == glen);
    CHECK_OK(kat_generations_to_json(gens, buf, glen + 1, &len));
    CHECK(len == glen && strlen(buf) == glen);
    kat_generations_free(gens);

    kat_snapshot_free(s);
    kat_group_free(g);
    kat_group_free(q);
    kat_tracker_free(t);
}

static void test_stats(void) {
    kat_tracker_t *t = kat_tracker_new();
    kat_group_t *g = NULL;
    CHECK_OK(kat_tracker_group(t, "stats", &g));
    kat_group_stats_t s = stats_of(g);
    CHECK(s.assigned_events == 0 && s.revoked_events == 0 && s.lost_events == 0 &&
          s.reset_events == 0 && s.last_change_unix_ms == 0);

    const uint64_t before_ms = (uint64_t)time(NULL) * 1000u;
    const int32_t p[] = {0, 1};
    CHECK_OK(kat_group_assigned_partitions(g, "t", p, 2));
    CHECK_OK(kat_group_revoked_partitions(g, "t", p, 1));
    CHECK_OK(kat_group_lost(g));
    CHECK_OK(kat_group_assigned_partitions(g, "t", p, 1));
    CHECK_OK(kat_group_reset(g));
    const uint64_t after_ms = ((uint64_t)time(NULL) + 1u) * 1000u;
    s = stats_of(g);
    CHECK(s.assigned_events == 2 && s.revoked_events == 1 && s.lost_events == 1 &&
          s.reset_events == 1);
    CHECK(s.last_change_unix_ms >= before_ms);
    CHECK(s.last_change_unix_ms <= after_ms);

    /* The snapshot's group view carries the same counters. */
    kat_snapshot_t *snap = NULL;
    CHECK_OK(kat_tracker_snapshot(t, &snap));
    kat_group_view_t gv;
    CHECK_OK(kat_snapshot_group(snap, 0, &gv));
    CHECK(gv.stats.assigned_events == 2 && gv.stats.revoked_events == 1 &&
          gv.stats.lost_events == 1 && gv.stats.reset_events == 1 &&
          gv.stats.last_change_unix_ms == s.last_change_unix_ms);
    kat_snapshot_free(snap);

    kat_group_free(g);
    kat_tracker_free(t);
}

int main(void) {
    test_version();
    test_result_messages();
    test_last_error_message();
    test_last_error_is_per_thread();
    test_last_error_is_cleared();
    test_trackers_and_groups();
    test_spec_rows();
    test_pairs_and_arrays();
    test_snapshot();
    test_generations();
    test_handles();
    test_generations_limit();
    test_epoch_and_wait();
    test_snapshot_json();
    test_stats();
    printf("api: %lu checks passed\n", check_count);
    return 0;
}
