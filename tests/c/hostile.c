/*
 * hostile.c: every exported function fed NULLs, bad names, malformed lists
 * and absurd counts. Each failing call must return its documented kat_result,
 * name the function and the problem in kat_last_error_message(), leave its
 * outputs untouched, and change nothing (epoch, snapshot and generations are
 * compared with a baseline after every call).
 *
 * The test driver (tests/native.rs) checks that every `kat_` function
 * libkat.so exports is called in this file (kat_test_panic in panic.c).
 */
#include <stdint.h>

#include "check.h"

#include "fake_list.h"

#define SENTINEL_U64 0x5A5A5A5A5A5A5A5Aull
#define SENTINEL_SIZE ((size_t)0x5A5A5A5A5A5A5A5Aull)
#define SENTINEL_PTR ((void *)(uintptr_t)0x5A5A5A50u)

static kat_tracker_t *t;
static kat_group_t *g;
static char baseline_snapshot[4096];
static char baseline_generations[4096];
static uint64_t baseline_epoch;

static void read_state(uint64_t *epoch, char *snap_json, char *gens_json, size_t cap) {
    kat_snapshot_t *s = NULL;
    kat_generations_t *gens = NULL;
    size_t len = 0;
    CHECK_OK(kat_tracker_epoch(t, epoch));
    CHECK_OK(kat_tracker_snapshot(t, &s));
    CHECK_OK(kat_snapshot_to_json(s, snap_json, cap, &len));
    kat_snapshot_free(s);
    CHECK_OK(kat_tracker_generations(t, &gens));
    CHECK_OK(kat_generations_to_json(gens, gens_json, cap, &len));
    kat_generations_free(gens);
}

static void take_baseline(void) {
    read_state(&baseline_epoch, baseline_snapshot, baseline_generations,
               sizeof baseline_snapshot);
}

/* Reads the whole state (successful calls, which clear the thread's error
 * detail) and puts the detail of the failure under test back, so that the
 * checks after it still see it. */
static void check_unchanged(int line) {
    uint64_t epoch = 0;
    char snap[4096], gens[4096];
    char detail[2048];
    kat_last_error_message(detail, sizeof detail);
    read_state(&epoch, snap, gens, sizeof snap);
    CHECK(kat_last_error_message(NULL, 0) == 0);
    kat_set_last_error_message(NULL, detail);
    if (epoch != baseline_epoch || strcmp(snap, baseline_snapshot) != 0 ||
        strcmp(gens, baseline_generations) != 0) {
        fprintf(stderr, "%s:%d: the tracker changed after a failed call\n  was %s\n  now %s\n",
                __FILE__, line, baseline_snapshot, snap);
        exit(1);
    }
    ++check_count;
}

/* The function name of a stringified call: "kat_x(a, b)" -> "kat_x". */
static void check_names_function(int line, const char *call_text) {
    char fn[96];
    size_t n = strcspn(call_text, "( ");
    CHECK(n + 2 < sizeof fn);
    memcpy(fn, call_text, n);
    fn[n] = ':';
    fn[n + 1] = ' ';
    fn[n + 2] = '\0';
    const char *m = check_last_error();
    if (strncmp(m, fn, n + 2) != 0) {
        fprintf(stderr, "%s:%d: last error \"%s\" does not start with \"%s\"\n", __FILE__, line,
                m, fn);
        exit(1);
    }
    ++check_count;
}

/*
 * FAILS(call, code, detail): `call` returns `code`, the last error names the
 * function and contains `detail`, and the tracker did not change.
 */
#define FAILS(call, code, detail)               \
    do {                                        \
        CHECK_RESULT(call, code);               \
        check_names_function(__LINE__, #call);  \
        CHECK_ERROR_MENTIONS(detail);           \
        check_unchanged(__LINE__);              \
    } while (0)

static fake_list make_list(fake_topic_partition *elems, int cnt, int size) {
    fake_list l;
    l.cnt = cnt;
    l.size = size;
    l.elems = elems;
    return l;
}

static void set_elem(fake_topic_partition *e, const char *topic, int32_t partition) {
    memset(e, 0, sizeof *e);
    e->topic = (char *)topic;
    e->partition = partition;
}

/* Bad topic names: each with the detail the error must mention. */
static char too_long[251];
static const char *bad_topics[][2] = {
    {"", "empty"},
    {too_long, "250 bytes"},
    {"a b", "illegal byte 0x20"},
    {"orders/1", "illegal byte 0x2f"},
    {"caf\xc3\xa9", "illegal byte 0xc3"},
    {"\xff\xfe", "illegal byte 0xff"},
    {".", "reserved"},
    {"..", "reserved"},
};
#define N_BAD_TOPICS (sizeof bad_topics / sizeof bad_topics[0])

static void test_tracker_functions(void) {
    uint64_t e = SENTINEL_U64;
    size_t n = SENTINEL_SIZE;
    kat_tracker_t *out_t = SENTINEL_PTR;
    kat_group_t *out_g = SENTINEL_PTR;
    kat_snapshot_t *out_s = SENTINEL_PTR;
    kat_generations_t *out_gens = SENTINEL_PTR;
    bool b = true;

    FAILS(kat_tracker_new_with_limit(5, NULL), KAT_ERR_NULL_POINTER, "out_tracker");
    FAILS(kat_tracker_new_with_limit(0, &out_t), KAT_ERR_INVALID_ARGUMENT, "at least 1");
    CHECK(out_t == SENTINEL_PTR);

    FAILS(kat_tracker_group(NULL, "g", &out_g), KAT_ERR_NULL_POINTER, "`tracker`");
    FAILS(kat_tracker_group(t, NULL, &out_g), KAT_ERR_NULL_POINTER, "`name`");
    FAILS(kat_tracker_group(t, "g", NULL), KAT_ERR_NULL_POINTER, "`out_group`");
    FAILS(kat_tracker_group(t, "bad\xff", &out_g), KAT_ERR_INVALID_UTF8, "offset 3");
    FAILS(kat_tracker_group(t, "\xe2\x9c", &out_g), KAT_ERR_INVALID_UTF8, "UTF-8");
    FAILS(kat_tracker_group(t, "\xc0\x80", &out_g), KAT_ERR_INVALID_UTF8, "offset 0");
    FAILS(kat_tracker_group(t, "", &out_g), KAT_ERR_INVALID_GROUP, "empty");
    char long_group[KAT_MAX_GROUP_NAME_LEN + 2];
    memset(long_group, 'g', KAT_MAX_GROUP_NAME_LEN + 1);
    long_group[KAT_MAX_GROUP_NAME_LEN + 1] = '\0';
    FAILS(kat_tracker_group(t, long_group, &out_g), KAT_ERR_INVALID_GROUP, "1025 bytes");
    CHECK(out_g == SENTINEL_PTR);

    FAILS(kat_tracker_clear(NULL), KAT_ERR_NULL_POINTER, "`tracker`");

    /* Takes nothing and cannot fail; reads work as before after it. */
    {
        uint64_t g0 = SENTINEL_U64;
        CHECK_OK(kat_tracker_generation(t, "g", "orders", 0, &g0));
        kat_release_thread_read_cache();
        kat_release_thread_read_cache();
        uint64_t g1 = SENTINEL_U64;
        CHECK_OK(kat_tracker_generation(t, "g", "orders", 0, &g1));
        CHECK(g0 == g1 && g1 != SENTINEL_U64);
    }
    FAILS(kat_tracker_epoch(NULL, &e), KAT_ERR_NULL_POINTER, "`tracker`");
    FAILS(kat_tracker_epoch(t, NULL), KAT_ERR_NULL_POINTER, "`out_epoch`");
    FAILS(kat_tracker_wait_for_change(NULL, 0, 0, &e), KAT_ERR_NULL_POINTER, "`tracker`");
    FAILS(kat_tracker_wait_for_change(t, 0, 0, NULL), KAT_ERR_NULL_POINTER, "`out_epoch`");
    CHECK(e == SENTINEL_U64);

    FAILS(kat_tracker_generation(NULL, "g", "orders", 0, &e), KAT_ERR_NULL_POINTER, "`tracker`");
    FAILS(kat_tracker_generation(t, NULL, "orders", 0, &e), KAT_ERR_NULL_POINTER, "`group`");
    FAILS(kat_tracker_generation(t, "g", NULL, 0, &e), KAT_ERR_NULL_POINTER, "`topic`");
    FAILS(kat_tracker_generation(t, "g", "orders", 0, NULL), KAT_ERR_NULL_POINTER,
          "`out_generation`");
    FAILS(kat_tracker_generation(t, "\xff", "orders", 0, &e), KAT_ERR_INVALID_UTF8, "`group`");
    FAILS(kat_tracker_generation(t, "g", "orders", -1, &e), KAT_ERR_INVALID_PARTITION,
          "partition -1 is negative");
    FAILS(kat_tracker_generation(t, "g", "orders", INT32_MIN, &e), KAT_ERR_INVALID_PARTITION,
          "-2147483648");
    CHECK(e == SENTINEL_U64);

    FAILS(kat_tracker_is_assigned(NULL, "g", "orders", 0, &b), KAT_ERR_NULL_POINTER,
          "`tracker`");
    FAILS(kat_tracker_is_assigned(t, NULL, "orders", 0, &b), KAT_ERR_NULL_POINTER, "`group`");
    FAILS(kat_tracker_is_assigned(t, "g", NULL, 0, &b), KAT_ERR_NULL_POINTER, "`topic`");
    FAILS(kat_tracker_is_assigned(t, "g", "orders", 0, NULL), KAT_ERR_NULL_POINTER,
          "`out_assigned`");
    FAILS(kat_tracker_is_assigned(t, "\xc3", "orders", 0, &b), KAT_ERR_INVALID_UTF8, "`group`");
    FAILS(kat_tracker_is_assigned(t, "g", "orders", -7, &b), KAT_ERR_INVALID_PARTITION,
          "-7");
    CHECK(b == true);

    for (size_t i = 0; i < N_BAD_TOPICS; i++) {
        FAILS(kat_tracker_generation(t, "g", bad_topics[i][0], 0, &e), KAT_ERR_INVALID_TOPIC,
              bad_topics[i][1]);
        FAILS(kat_tracker_is_assigned(t, "g", bad_topics[i][0], 0, &b), KAT_ERR_INVALID_TOPIC,
              bad_topics[i][1]);
    }
    CHECK(e == SENTINEL_U64 && b == true);

    FAILS(kat_tracker_snapshot(NULL, &out_s), KAT_ERR_NULL_POINTER, "`tracker`");
    FAILS(kat_tracker_snapshot(t, NULL), KAT_ERR_NULL_POINTER, "`out_snapshot`");
    CHECK(out_s == SENTINEL_PTR);
    FAILS(kat_tracker_generations(NULL, &out_gens), KAT_ERR_NULL_POINTER, "`tracker`");
    FAILS(kat_tracker_generations(t, NULL), KAT_ERR_NULL_POINTER, "`out_generations`");
    CHECK(out_gens == SENTINEL_PTR);

    FAILS(kat_tracker_set_generations_topics_limit(NULL, 5), KAT_ERR_NULL_POINTER, "`tracker`");
    FAILS(kat_tracker_set_generations_topics_limit(t, 0), KAT_ERR_INVALID_ARGUMENT, "limit");
    FAILS(kat_tracker_generations_topics_limit(NULL, &n), KAT_ERR_NULL_POINTER, "`tracker`");
    FAILS(kat_tracker_generations_topics_limit(t, NULL), KAT_ERR_NULL_POINTER, "`out_limit`");
    CHECK(n == SENTINEL_SIZE);
    CHECK_OK(kat_tracker_generations_topics_limit(t, &n));
    CHECK(n == KAT_DEFAULT_GENERATIONS_TOPICS_LIMIT);

    /* Free functions accept NULL; the global tracker is never freed. */
    kat_tracker_free(NULL);
    const kat_tracker_t *global = kat_tracker_global();
    kat_tracker_free((kat_tracker_t *)global);
    kat_tracker_free((kat_tracker_t *)kat_tracker_global());
    CHECK(kat_tracker_global() == global);
    kat_group_t *gg = NULL;
    CHECK_OK(kat_tracker_group(global, "hostile-global", &gg));
    const int32_t p0[] = {0};
    CHECK_OK(kat_group_assigned_partitions(gg, "still-works", p0, 1));
    CHECK_OK(kat_tracker_generation(global, "hostile-global", "still-works", 0, &e));
    CHECK(e == 1);
    kat_group_free(gg);

    /* kat_tracker_new never returns NULL. */
    kat_tracker_t *fresh = kat_tracker_new();
    CHECK(fresh != NULL);
    kat_tracker_free(fresh);
}

/* The three librdkafka-list events, with every malformed list. */
typedef kat_result (*list_event)(kat_group_t *, const struct rd_kafka_topic_partition_list_s *);

static void check_list_event(list_event ev, const char *name) {
    fake_topic_partition el[5];
    fake_list l;
    char fn[64];
    snprintf(fn, sizeof fn, "%s: ", name);

#define LIST_FAILS(call, code, detail)                                \
    do {                                                              \
        CHECK_RESULT(call, code);                                     \
        CHECK(strncmp(check_last_error(), fn, strlen(fn)) == 0);      \
        CHECK_ERROR_MENTIONS(detail);                                 \
        check_unchanged(__LINE__);                                    \
    } while (0)

    for (int i = 0; i < 5; i++) {
        set_elem(&el[i], "fresh", 10 + i);
    }
    l = make_list(el, 5, 5);
    LIST_FAILS(ev(NULL, &l), KAT_ERR_NULL_POINTER, "`group`");
    LIST_FAILS(ev(g, NULL), KAT_ERR_NULL_POINTER, "`partitions`");

    l = make_list(el, -1, 5);
    LIST_FAILS(ev(g, &l), KAT_ERR_INVALID_LIST, "count -1 is negative");
    l = make_list(el, INT32_MIN, 5);
    LIST_FAILS(ev(g, &l), KAT_ERR_INVALID_LIST, "negative");
    l = make_list(el, 6, 5);
    LIST_FAILS(ev(g, &l), KAT_ERR_INVALID_LIST, "count 6 exceeds its capacity 5");
    l = make_list(el, 1, -3);
    LIST_FAILS(ev(g, &l), KAT_ERR_INVALID_LIST, "capacity -3");
    l = make_list(NULL, 2, 2);
    LIST_FAILS(ev(g, &l), KAT_ERR_INVALID_LIST, "`elems` is NULL");
    l = make_list(NULL, INT32_MAX, INT32_MAX);
    LIST_FAILS(ev(g, &l), KAT_ERR_INVALID_LIST, "`elems` is NULL");

    /* The largest count a librdkafka list can claim, over 5 real elements
     * ending in a NULL topic: refused at the first bad element, and nothing
     * is reserved by the claimed count (2^31 elements would be an allocation
     * failure, which aborts the process). */
    el[4].topic = NULL;
    l = make_list(el, INT32_MAX, INT32_MAX);
    LIST_FAILS(ev(g, &l), KAT_ERR_INVALID_LIST, "element 4: topic is NULL");
    el[4].topic = (char *)"fresh";

    /* A NULL topic in element 1. */
    el[1].topic = NULL;
    l = make_list(el, 5, 5);
    LIST_FAILS(ev(g, &l), KAT_ERR_INVALID_LIST, "element 1: topic is NULL");
    el[1].topic = (char *)"fresh";

    /* An invalid topic in element 3 of 5: elements 0-2 are not applied. */
    for (size_t i = 0; i < N_BAD_TOPICS; i++) {
        el[3].topic = (char *)bad_topics[i][0];
        LIST_FAILS(ev(g, &l), KAT_ERR_INVALID_TOPIC, "element 3");
        CHECK_ERROR_MENTIONS(bad_topics[i][1]);
    }
    el[3].topic = (char *)"fresh";

    /* A negative partition in element 4. */
    el[4].partition = -1;
    LIST_FAILS(ev(g, &l), KAT_ERR_INVALID_PARTITION, "element 4: partition -1 is negative");
    el[4].partition = INT32_MIN;
    LIST_FAILS(ev(g, &l), KAT_ERR_INVALID_PARTITION, "element 4");
    el[4].partition = 14;

    /* Elements past cnt are never read, even if garbage. (An empty replace
     * is a real change, so only the other two events are fed empty lists.) */
    el[2].topic = (char *)"..";
    el[3].topic = NULL;
    el[4].partition = -1;
    if (ev != kat_group_replace) {
        l = make_list(el, 0, 5);
        CHECK_OK(ev(g, &l));
        l = make_list(NULL, 0, 0);
        CHECK_OK(ev(g, &l));
        check_unchanged(__LINE__);
    }

#undef LIST_FAILS
}

typedef kat_result (*array_event)(kat_group_t *, const char *, const int32_t *, size_t);
typedef kat_result (*pairs_event)(kat_group_t *, const kat_topic_partition_t *, size_t);

static void check_array_event(array_event ev, const char *name) {
    const int32_t parts[] = {10, 11, -5, 12};
    const int32_t good[] = {10, 11};
    char fn[64];
    snprintf(fn, sizeof fn, "%s: ", name);

#define ARRAY_FAILS(call, code, detail)                               \
    do {                                                              \
        CHECK_RESULT(call, code);                                     \
        CHECK(strncmp(check_last_error(), fn, strlen(fn)) == 0);      \
        CHECK_ERROR_MENTIONS(detail);                                 \
        check_unchanged(__LINE__);                                    \
    } while (0)

    ARRAY_FAILS(ev(NULL, "fresh", good, 2), KAT_ERR_NULL_POINTER, "`group`");
    ARRAY_FAILS(ev(g, NULL, good, 2), KAT_ERR_NULL_POINTER, "`topic`");
    ARRAY_FAILS(ev(g, NULL, NULL, 0), KAT_ERR_NULL_POINTER, "`topic`");
    ARRAY_FAILS(ev(g, "fresh", NULL, 2), KAT_ERR_NULL_POINTER, "`partitions`");
    ARRAY_FAILS(ev(g, "fresh", NULL, SIZE_MAX), KAT_ERR_NULL_POINTER, "`partitions`");
    ARRAY_FAILS(ev(g, "fresh", good, SIZE_MAX), KAT_ERR_INVALID_LIST, "impossibly large");
    ARRAY_FAILS(ev(g, "fresh", good, SIZE_MAX / 2), KAT_ERR_INVALID_LIST, "impossibly large");
    /* Counts no partition list can have (above INT32_MAX) with a 2-element
     * array: refused before any element is read or any memory reserved. */
    ARRAY_FAILS(ev(g, "fresh", good, (size_t)1 << 40), KAT_ERR_INVALID_LIST,
                "count 1099511627776 is impossibly large");
    ARRAY_FAILS(ev(g, "fresh", good, (size_t)INT32_MAX + 1), KAT_ERR_INVALID_LIST,
                "at most 2147483647 elements");
    ARRAY_FAILS(ev(g, "fresh", parts, 4), KAT_ERR_INVALID_PARTITION,
                "element 2: partition -5 is negative");
    for (size_t i = 0; i < N_BAD_TOPICS; i++) {
        ARRAY_FAILS(ev(g, bad_topics[i][0], good, 2), KAT_ERR_INVALID_TOPIC, bad_topics[i][1]);
        /* Also with an empty list: the topic is still checked. */
        ARRAY_FAILS(ev(g, bad_topics[i][0], NULL, 0), KAT_ERR_INVALID_TOPIC, bad_topics[i][1]);
    }
    if (ev != kat_group_replace_partitions) {
        CHECK_OK(ev(g, "fresh", NULL, 0));
        check_unchanged(__LINE__);
    }
#undef ARRAY_FAILS
}

static void check_pairs_event(pairs_event ev, const char *name) {
    kat_topic_partition_t items[5];
    char fn[64];
    snprintf(fn, sizeof fn, "%s: ", name);

#define PAIRS_FAILS(call, code, detail)                               \
    do {                                                              \
        CHECK_RESULT(call, code);                                     \
        CHECK(strncmp(check_last_error(), fn, strlen(fn)) == 0);      \
        CHECK_ERROR_MENTIONS(detail);                                 \
        check_unchanged(__LINE__);                                    \
    } while (0)

    for (int i = 0; i < 5; i++) {
        items[i].topic = "fresh";
        items[i].partition = 10 + i;
    }
    PAIRS_FAILS(ev(NULL, items, 5), KAT_ERR_NULL_POINTER, "`group`");
    PAIRS_FAILS(ev(g, NULL, 5), KAT_ERR_NULL_POINTER, "`items`");
    PAIRS_FAILS(ev(g, NULL, SIZE_MAX), KAT_ERR_NULL_POINTER, "`items`");
    PAIRS_FAILS(ev(g, items, SIZE_MAX), KAT_ERR_INVALID_LIST, "impossibly large");
    PAIRS_FAILS(ev(g, items, SIZE_MAX / 8), KAT_ERR_INVALID_LIST, "impossibly large");
    PAIRS_FAILS(ev(g, items, (size_t)1 << 40), KAT_ERR_INVALID_LIST,
                "count 1099511627776 is impossibly large");
    PAIRS_FAILS(ev(g, items, (size_t)INT32_MAX + 1), KAT_ERR_INVALID_LIST,
                "at most 2147483647 elements");
    /* A count that fits the bound but not the 5-element array, whose last
     * element is bad: refused there, with no reservation by the count. */
    items[4].topic = NULL;
    PAIRS_FAILS(ev(g, items, INT32_MAX), KAT_ERR_INVALID_LIST, "element 4: topic is NULL");
    items[4].topic = "fresh";

    items[1].topic = NULL;
    PAIRS_FAILS(ev(g, items, 5), KAT_ERR_INVALID_LIST, "element 1: topic is NULL");
    items[1].topic = "fresh";
    for (size_t i = 0; i < N_BAD_TOPICS; i++) {
        items[3].topic = bad_topics[i][0];
        PAIRS_FAILS(ev(g, items, 5), KAT_ERR_INVALID_TOPIC, "element 3");
        CHECK_ERROR_MENTIONS(bad_topics[i][1]);
    }
    items[3].topic = "fresh";
    items[4].partition = -1;
    PAIRS_FAILS(ev(g, items, 5), KAT_ERR_INVALID_PARTITION, "element 4: partition -1");
    /* Elements past count are never read. */
    items[0].topic = NULL;
    if (ev != kat_group_replace_pairs) {
        CHECK_OK(ev(g, items, 0));
        check_unchanged(__LINE__);
    }
#undef PAIRS_FAILS
}

static void test_group_functions(void) {
    uint64_t e = SENTINEL_U64;
    bool b = true;
    kat_group_stats_t st;
    memset(&st, 0x5A, sizeof st);
    kat_partition_handle_t *h = SENTINEL_PTR;

    kat_group_free(NULL);
    CHECK(kat_group_name(NULL) == NULL);
    check_names_function(__LINE__, "kat_group_name(NULL)");
    CHECK_ERROR_MENTIONS("`group`");

    check_list_event(kat_group_assigned, "kat_group_assigned");
    check_list_event(kat_group_revoked, "kat_group_revoked");
    check_list_event(kat_group_replace, "kat_group_replace");
    check_array_event(kat_group_assigned_partitions, "kat_group_assigned_partitions");
    check_array_event(kat_group_revoked_partitions, "kat_group_revoked_partitions");
    check_array_event(kat_group_replace_partitions, "kat_group_replace_partitions");
    check_pairs_event(kat_group_assigned_pairs, "kat_group_assigned_pairs");
    check_pairs_event(kat_group_revoked_pairs, "kat_group_revoked_pairs");
    check_pairs_event(kat_group_replace_pairs, "kat_group_replace_pairs");

    FAILS(kat_group_lost(NULL), KAT_ERR_NULL_POINTER, "`group`");
    FAILS(kat_group_reset(NULL), KAT_ERR_NULL_POINTER, "`group`");

    FAILS(kat_group_generation(NULL, "orders", 0, &e), KAT_ERR_NULL_POINTER, "`group`");
    FAILS(kat_group_generation(g, NULL, 0, &e), KAT_ERR_NULL_POINTER, "`topic`");
    FAILS(kat_group_generation(g, "orders", 0, NULL), KAT_ERR_NULL_POINTER, "`out_generation`");
    FAILS(kat_group_generation(g, "orders", -1, &e), KAT_ERR_INVALID_PARTITION, "-1");
    FAILS(kat_group_is_assigned(NULL, "orders", 0, &b), KAT_ERR_NULL_POINTER, "`group`");
    FAILS(kat_group_is_assigned(g, NULL, 0, &b), KAT_ERR_NULL_POINTER, "`topic`");
    FAILS(kat_group_is_assigned(g, "orders", 0, NULL), KAT_ERR_NULL_POINTER, "`out_assigned`");
    FAILS(kat_group_is_assigned(g, "orders", INT32_MIN, &b), KAT_ERR_INVALID_PARTITION,
          "negative");
    FAILS(kat_group_stats(NULL, &st), KAT_ERR_NULL_POINTER, "`group`");
    FAILS(kat_group_stats(g, NULL), KAT_ERR_NULL_POINTER, "`out_stats`");
    /* A NULL group is ignored, and the last error stays the one above. */
    kat_group_glue_failure(NULL);
    CHECK_ERROR_MENTIONS("`out_stats`");
    check_unchanged(__LINE__);
    FAILS(kat_group_partition(NULL, "orders", 0, &h), KAT_ERR_NULL_POINTER, "`group`");
    FAILS(kat_group_partition(g, NULL, 0, &h), KAT_ERR_NULL_POINTER, "`topic`");
    FAILS(kat_group_partition(g, "orders", 0, NULL), KAT_ERR_NULL_POINTER, "`out_handle`");
    FAILS(kat_group_partition(g, "orders", -2, &h), KAT_ERR_INVALID_PARTITION, "-2");
    for (size_t i = 0; i < N_BAD_TOPICS; i++) {
        FAILS(kat_group_generation(g, bad_topics[i][0], 0, &e), KAT_ERR_INVALID_TOPIC,
              bad_topics[i][1]);
        FAILS(kat_group_is_assigned(g, bad_topics[i][0], 0, &b), KAT_ERR_INVALID_TOPIC,
              bad_topics[i][1]);
        FAILS(kat_group_partition(g, bad_topics[i][0], 0, &h), KAT_ERR_INVALID_TOPIC,
              bad_topics[i][1]);
    }
    CHECK(e == SENTINEL_U64 && b == true && h == SENTINEL_PTR);
    CHECK(st.assigned_events == SENTINEL_U64 && st.last_change_unix_ms == SENTINEL_U64);
}

static void test_handle_functions(void) {
    kat_partition_state_t st;
    memset(&st, 0x5A, sizeof st);
    kat_partition_handle_t *h = NULL;
    CHECK_OK(kat_group_partition(g, "orders", 0, &h));
    FAILS(kat_partition_handle_state(NULL, &st), KAT_ERR_NULL_POINTER, "`handle`");
    FAILS(kat_partition_handle_state(h, NULL), KAT_ERR_NULL_POINTER, "`out_state`");
    CHECK(st.generation == SENTINEL_U64);
    CHECK(!kat_partition_handle_owned_at(NULL, 1));
    CHECK(!kat_partition_handle_owned_at(NULL, 0));
    check_names_function(__LINE__, "kat_partition_handle_owned_at(NULL, 0)");
    CHECK(kat_partition_handle_owned_at(h, 1));
    CHECK(!kat_partition_handle_owned_at(h, UINT64_MAX));
    kat_partition_handle_free(h);
    kat_partition_handle_free(NULL);
}

static void test_snapshot_functions(void) {
    kat_snapshot_t *s = NULL;
    CHECK_OK(kat_tracker_snapshot(t, &s));
    uint64_t e = SENTINEL_U64;
    size_t n = SENTINEL_SIZE;
    bool b = true;
    kat_group_view_t gv;
    kat_topic_view_t tv;
    memset(&gv, 0x5A, sizeof gv);
    memset(&tv, 0x5A, sizeof tv);

    FAILS(kat_snapshot_epoch(NULL, &e), KAT_ERR_NULL_POINTER, "`snapshot`");
    FAILS(kat_snapshot_epoch(s, NULL), KAT_ERR_NULL_POINTER, "`out_epoch`");
    FAILS(kat_snapshot_group_count(NULL, &n), KAT_ERR_NULL_POINTER, "`snapshot`");
    FAILS(kat_snapshot_group_count(s, NULL), KAT_ERR_NULL_POINTER, "`out_count`");
    FAILS(kat_snapshot_partition_count(NULL, &n), KAT_ERR_NULL_POINTER, "`snapshot`");
    FAILS(kat_snapshot_partition_count(s, NULL), KAT_ERR_NULL_POINTER, "`out_count`");
    FAILS(kat_snapshot_group(NULL, 0, &gv), KAT_ERR_NULL_POINTER, "`snapshot`");
    FAILS(kat_snapshot_group(s, 0, NULL), KAT_ERR_NULL_POINTER, "`out_view`");
    FAILS(kat_snapshot_group(s, 1, &gv), KAT_ERR_OUT_OF_RANGE, "group index 1");
    FAILS(kat_snapshot_group(s, SIZE_MAX, &gv), KAT_ERR_OUT_OF_RANGE, "out of range");
    FAILS(kat_snapshot_topic(NULL, 0, 0, &tv), KAT_ERR_NULL_POINTER, "`snapshot`");
    FAILS(kat_snapshot_topic(s, 0, 0, NULL), KAT_ERR_NULL_POINTER, "`out_view`");
    FAILS(kat_snapshot_topic(s, 1, 0, &tv), KAT_ERR_OUT_OF_RANGE, "group index 1");
    FAILS(kat_snapshot_topic(s, 0, 1, &tv), KAT_ERR_OUT_OF_RANGE, "topic index 1");
    FAILS(kat_snapshot_topic(s, SIZE_MAX, SIZE_MAX, &tv), KAT_ERR_OUT_OF_RANGE, "out of range");
    FAILS(kat_snapshot_find_topic(NULL, "g", "orders", &tv), KAT_ERR_NULL_POINTER, "`snapshot`");
    FAILS(kat_snapshot_find_topic(s, NULL, "orders", &tv), KAT_ERR_NULL_POINTER, "`group`");
    FAILS(kat_snapshot_find_topic(s, "g", NULL, &tv), KAT_ERR_NULL_POINTER, "`topic`");
    FAILS(kat_snapshot_find_topic(s, "g", "orders", NULL), KAT_ERR_NULL_POINTER, "`out_view`");
    FAILS(kat_snapshot_find_topic(s, "\xff", "orders", &tv), KAT_ERR_INVALID_UTF8, "`group`");
    FAILS(kat_snapshot_find_topic(s, "g", "missing", &tv), KAT_ERR_NOT_FOUND, "missing");
    FAILS(kat_snapshot_generation(NULL, "g", "orders", 0, &e), KAT_ERR_NULL_POINTER,
          "`snapshot`");
    FAILS(kat_snapshot_generation(s, NULL, "orders", 0, &e), KAT_ERR_NULL_POINTER, "`group`");
    FAILS(kat_snapshot_generation(s, "g", NULL, 0, &e), KAT_ERR_NULL_POINTER, "`topic`");
    FAILS(kat_snapshot_generation(s, "g", "orders", 0, NULL), KAT_ERR_NULL_POINTER,
          "`out_generation`");
    FAILS(kat_snapshot_generation(s, "\xfe", "orders", 0, &e), KAT_ERR_INVALID_UTF8, "`group`");
    FAILS(kat_snapshot_generation(s, "g", "orders", -1, &e), KAT_ERR_INVALID_PARTITION, "-1");
    FAILS(kat_snapshot_is_assigned(NULL, "g", "orders", 0, &b), KAT_ERR_NULL_POINTER,
          "`snapshot`");
    FAILS(kat_snapshot_is_assigned(s, NULL, "orders", 0, &b), KAT_ERR_NULL_POINTER, "`group`");
    FAILS(kat_snapshot_is_assigned(s, "g", NULL, 0, &b), KAT_ERR_NULL_POINTER, "`topic`");
    FAILS(kat_snapshot_is_assigned(s, "g", "orders", 0, NULL), KAT_ERR_NULL_POINTER,
          "`out_assigned`");
    FAILS(kat_snapshot_is_assigned(s, "\xfe", "orders", 0, &b), KAT_ERR_INVALID_UTF8, "`group`");
    FAILS(kat_snapshot_is_assigned(s, "g", "orders", -1, &b), KAT_ERR_INVALID_PARTITION, "-1");
    for (size_t i = 0; i < N_BAD_TOPICS; i++) {
        FAILS(kat_snapshot_find_topic(s, "g", bad_topics[i][0], &tv), KAT_ERR_INVALID_TOPIC,
              bad_topics[i][1]);
        FAILS(kat_snapshot_generation(s, "g", bad_topics[i][0], 0, &e), KAT_ERR_INVALID_TOPIC,
              bad_topics[i][1]);
        FAILS(kat_snapshot_is_assigned(s, "g", bad_topics[i][0], 0, &b), KAT_ERR_INVALID_TOPIC,
              bad_topics[i][1]);
    }

    char buf[64];
    size_t len = SENTINEL_SIZE;
    memset(buf, '#', sizeof buf);
    FAILS(kat_snapshot_to_json(NULL, buf, sizeof buf, &len), KAT_ERR_NULL_POINTER, "`snapshot`");
    FAILS(kat_snapshot_to_json(s, buf, sizeof buf, NULL), KAT_ERR_NULL_POINTER, "`out_len`");
    FAILS(kat_snapshot_to_json(s, NULL, 16, &len), KAT_ERR_NULL_POINTER, "`buf`");
    CHECK(e == SENTINEL_U64 && n == SENTINEL_SIZE && b == true && len == SENTINEL_SIZE);
    /* A short buffer is the one failure that writes an output: the length. */
    size_t json_len = 0;
    CHECK_OK(kat_snapshot_to_json(s, NULL, 0, &json_len));
    CHECK(json_len > 10);
    FAILS(kat_snapshot_to_json(s, buf, 0, &len), KAT_ERR_BUFFER_TOO_SMALL, "needs a buffer");
    CHECK(len == json_len);
    len = SENTINEL_SIZE;
    FAILS(kat_snapshot_to_json(s, buf, 10, &len), KAT_ERR_BUFFER_TOO_SMALL, "got 10");
    CHECK(len == json_len);
    CHECK(gv.name_len == SENTINEL_SIZE && tv.partition_count == SENTINEL_SIZE);
    for (size_t i = 0; i < sizeof buf; i++) {
        CHECK(buf[i] == '#');
    }

    kat_snapshot_free(s);
    kat_snapshot_free(NULL);
}

static void test_generations_functions(void) {
    kat_generations_t *gens = NULL;
    CHECK_OK(kat_tracker_generations(t, &gens));
    uint64_t e = SENTINEL_U64;
    size_t n = SENTINEL_SIZE;
    kat_generation_entry_t en;
    memset(&en, 0x5A, sizeof en);
    FAILS(kat_generations_count(NULL, &n), KAT_ERR_NULL_POINTER, "`generations`");
    FAILS(kat_generations_count(gens, NULL), KAT_ERR_NULL_POINTER, "`out_count`");
    FAILS(kat_generations_epoch(NULL, &e), KAT_ERR_NULL_POINTER, "`generations`");
    FAILS(kat_generations_epoch(gens, NULL), KAT_ERR_NULL_POINTER, "`out_epoch`");
    FAILS(kat_generations_get(NULL, 0, &en), KAT_ERR_NULL_POINTER, "`generations`");
    FAILS(kat_generations_get(gens, 0, NULL), KAT_ERR_NULL_POINTER, "`out_entry`");
    FAILS(kat_generations_get(gens, 3, &en), KAT_ERR_OUT_OF_RANGE, "index 3");
    FAILS(kat_generations_get(gens, SIZE_MAX, &en), KAT_ERR_OUT_OF_RANGE, "out of range");
    char buf[32];
    size_t len = SENTINEL_SIZE;
    memset(buf, '#', sizeof buf);
    FAILS(kat_generations_to_json(NULL, buf, sizeof buf, &len), KAT_ERR_NULL_POINTER,
          "`generations`");
    FAILS(kat_generations_to_json(gens, buf, sizeof buf, NULL), KAT_ERR_NULL_POINTER,
          "`out_len`");
    FAILS(kat_generations_to_json(gens, NULL, 5, &len), KAT_ERR_NULL_POINTER, "`buf`");
    CHECK(e == SENTINEL_U64 && n == SENTINEL_SIZE && len == SENTINEL_SIZE);
    size_t json_len = 0;
    CHECK_OK(kat_generations_to_json(gens, NULL, 0, &json_len));
    CHECK(json_len >= sizeof buf);
    FAILS(kat_generations_to_json(gens, buf, sizeof buf, &len), KAT_ERR_BUFFER_TOO_SMALL,
          "needs a buffer");
    CHECK(len == json_len);
    CHECK(en.partition == 0x5A5A5A5A && en.generation == SENTINEL_U64);
    for (size_t i = 0; i < sizeof buf; i++) {
        CHECK(buf[i] == '#');
    }
    kat_generations_free(gens);
    kat_generations_free(NULL);
}

static void test_message_functions(void) {
    /* After a failure, the message with NULL buffers: only the length. */
    CHECK_RESULT(kat_tracker_epoch(NULL, NULL), KAT_ERR_NULL_POINTER);
    size_t full = kat_last_error_message(NULL, 0);
    CHECK(full > 0);
    CHECK(kat_last_error_message(NULL, 4096) == full);
    char one = 'Z';
    CHECK(kat_last_error_message(&one, 0) == full && one == 'Z');
    CHECK(kat_last_error_message(&one, 1) == full && one == '\0');
    CHECK(kat_result_message(UINT32_MAX) != NULL);

    /* Glue code records its own failures; a NULL function records the
     * message alone, a NULL message clears the detail. */
    kat_set_last_error_message(NULL, "no function");
    CHECK_STREQ(check_last_error(), "no function");
    kat_set_last_error_message("cleared", NULL);
    CHECK(kat_last_error_message(NULL, 0) == 0);
    CHECK_STREQ(check_last_error(), "");
    kat_set_last_error_message("f", "m");
    kat_set_last_error_message(NULL, NULL);
    CHECK(kat_last_error_message(NULL, 0) == 0);
    kat_clear_last_error();
    CHECK(kat_last_error_message(NULL, 0) == 0);
    kat_set_last_error_message("kat_rebalance", "rd_kafka_assign failed: Local: Erroneous state");
    CHECK_STREQ(check_last_error(), "kat_rebalance: rd_kafka_assign failed: Local: Erroneous state");
    kat_set_last_error_message("glue\xff", "bad \xc3 byte");
    CHECK_STREQ(check_last_error(), "glue\xef\xbf\xbd: bad \xef\xbf\xbd byte");
    kat_set_last_error_message("", "");
    CHECK(kat_last_error_message(NULL, 0) == 2);
    CHECK_STREQ(kat_result_message(4242), "unknown result code");
    CHECK(kat_version() != NULL);
}

/* Duplicates in one event count once (SPEC §3: "each distinct listed key"). */
static void test_duplicates(void) {
    fake_topic_partition el[4];
    set_elem(&el[0], "dups", 3);
    set_elem(&el[1], "dups", 3);
    set_elem(&el[2], "dups", 1);
    set_elem(&el[3], "dups", 3);
    fake_list l = make_list(el, 4, 4);
    uint64_t before = 0, after = 0, gen = 0;
    CHECK_OK(kat_tracker_epoch(t, &before));
    CHECK_OK(kat_group_assigned(g, &l));
    CHECK_OK(kat_tracker_epoch(t, &after));
    CHECK(after == before + 1);
    CHECK_OK(kat_group_generation(g, "dups", 3, &gen));
    CHECK(gen == 1);
    const int32_t parts[] = {3, 3, 3};
    CHECK_OK(kat_group_assigned_partitions(g, "dups", parts, 3));
    CHECK_OK(kat_group_generation(g, "dups", 3, &gen));
    CHECK(gen == 2);
    const kat_topic_partition_t pairs[] = {{"dups", 1}, {"dups", 1}};
    CHECK_OK(kat_group_assigned_pairs(g, pairs, 2));
    CHECK_OK(kat_group_generation(g, "dups", 1, &gen));
    CHECK(gen == 2);
    CHECK_OK(kat_tracker_epoch(t, &after));
    CHECK(after == before + 3);
    /* The snapshot lists each partition once. */
    kat_snapshot_t *s = NULL;
    kat_topic_view_t tv;
    CHECK_OK(kat_tracker_snapshot(t, &s));
    CHECK_OK(kat_snapshot_find_topic(s, "g", "dups", &tv));
    CHECK(tv.partition_count == 2);
    kat_snapshot_free(s);
}

/* Groups keep working after their tracker was freed. */
static void test_group_outlives_tracker(void) {
    kat_tracker_t *own = kat_tracker_new();
    kat_group_t *orphan = NULL, *twin = NULL;
    CHECK_OK(kat_tracker_group(own, "orphan", &orphan));
    CHECK_OK(kat_tracker_group(own, "orphan", &twin));
    kat_snapshot_t *s = NULL;
    CHECK_OK(kat_tracker_snapshot(own, &s));
    kat_tracker_free(own);

    const int32_t p[] = {0, 1, 2};
    uint64_t gen = 0;
    bool is = false;
    CHECK_OK(kat_group_assigned_partitions(orphan, "t", p, 3));
    CHECK_OK(kat_group_revoked_partitions(twin, "t", p, 1));
    CHECK_OK(kat_group_assigned_partitions(orphan, "t", p, 1));
    CHECK_OK(kat_group_generation(twin, "t", 0, &gen));
    CHECK(gen == 2);
    CHECK_OK(kat_group_is_assigned(orphan, "t", 2, &is));
    CHECK(is);
    kat_partition_handle_t *h = NULL;
    CHECK_OK(kat_group_partition(orphan, "t", 1, &h));
    CHECK(kat_partition_handle_owned_at(h, 1));
    CHECK_OK(kat_group_lost(twin));
    CHECK(!kat_partition_handle_owned_at(h, 1));
    CHECK_OK(kat_group_reset(orphan));
    kat_group_stats_t st;
    CHECK_OK(kat_group_stats(orphan, &st));
    CHECK(st.assigned_events == 2 && st.revoked_events == 1 && st.lost_events == 1 &&
          st.reset_events == 0);
    CHECK_STREQ(kat_group_name(twin), "orphan");
    /* The snapshot taken before the free is still readable and unchanged. */
    uint64_t e = 1;
    CHECK_OK(kat_snapshot_epoch(s, &e));
    CHECK(e == 0);
    kat_snapshot_free(s);
    kat_partition_handle_free(h);
    kat_group_free(orphan);
    kat_group_free(twin);
}

int main(void) {
    memset(too_long, 'x', 250);
    too_long[250] = '\0';

    t = kat_tracker_new();
    CHECK_OK(kat_tracker_group(t, "g", &g));
    const int32_t p[] = {0, 1, 2};
    CHECK_OK(kat_group_assigned_partitions(g, "orders", p, 3));
    CHECK_OK(kat_group_revoked_partitions(g, "orders", p + 2, 1));
    take_baseline();
    CHECK(baseline_epoch == 2);

    test_tracker_functions();
    /* The global tracker is a different tracker: t is unchanged. */
    check_unchanged(__LINE__);
    test_group_functions();
    test_handle_functions();
    test_snapshot_functions();
    test_generations_functions();
    test_message_functions();
    check_unchanged(__LINE__);
    test_duplicates();
    test_group_outlives_tracker();

    kat_group_free(g);
    kat_tracker_free(t);
    printf("hostile: %lu checks passed\n", check_count);
    return 0;
}
