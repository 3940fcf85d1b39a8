/*
 * by_len.c: the reads that take names as pointer + length (the `_n`
 * functions). Names are sliced out of larger buffers with no NUL after them,
 * so a function that stopped at a NUL or read past the length would fail
 * here. Then the hostile inputs: embedded NULs (an error, never a shorter
 * name), invalid UTF-8, NULL pointers with and without a length, absurd
 * lengths, bad partitions; each failing call returns its documented code,
 * names the function, leaves its output untouched and changes nothing.
 */
#include <stdint.h>

#include "check.h"

#define SENTINEL_U64 0x5A5A5A5A5A5A5A5Aull
#define SENTINEL_PTR ((void *)(uintptr_t)0x5A5A5A50u)

static kat_tracker_t *t;
static kat_group_t *g;
static char baseline[4096];
static uint64_t baseline_epoch;

static void read_state(uint64_t *epoch, char *json, size_t cap) {
    kat_generations_t *gens = NULL;
    size_t len = 0;
    CHECK_OK(kat_tracker_epoch(t, epoch));
    CHECK_OK(kat_tracker_generations(t, &gens));
    CHECK_OK(kat_generations_to_json(gens, json, cap, &len));
    kat_generations_free(gens);
}

static void check_unchanged(int line) {
    uint64_t epoch = 0;
    char now[4096];
    read_state(&epoch, now, sizeof now);
    if (epoch != baseline_epoch || strcmp(now, baseline) != 0) {
        fprintf(stderr, "%s:%d: the tracker changed after a failed call\n", __FILE__, line);
        exit(1);
    }
    ++check_count;
}

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

#define FAILS(call, code, detail)              \
    do {                                       \
        CHECK_RESULT(call, code);              \
        check_names_function(__LINE__, #call); \
        CHECK_ERROR_MENTIONS(detail);          \
        check_unchanged(__LINE__);             \
    } while (0)

/* "billing" and "orders" followed by bytes that are not a NUL. */
static const char group_buf[] = {'b', 'i', 'l', 'l', 'i', 'n', 'g', 'X', 'Y'};
static const char topic_buf[] = {'o', 'r', 'd', 'e', 'r', 's', '-', 'Z'};

static void test_reads(void) {
    uint64_t gen = SENTINEL_U64;
    bool assigned = false;

    /* The same group as the NUL-terminated name. */
    kat_group_t *same = NULL;
    CHECK_OK(kat_tracker_group_n(t, group_buf, 7, &same));
    CHECK_STREQ(kat_group_name(same), "billing");

    CHECK_OK(kat_group_generation_n(same, topic_buf, 6, 1, &gen));
    CHECK(gen == 2);
    CHECK_OK(kat_group_is_assigned_n(same, topic_buf, 6, 1, &assigned));
    CHECK(assigned);
    CHECK_OK(kat_group_is_assigned_n(same, topic_buf, 6, 2, &assigned));
    CHECK(!assigned);
    CHECK_OK(kat_group_generation_n(same, topic_buf, 6, 2, &gen));
    CHECK(gen == 1);
    /* A longer slice is a different (legal) topic: "orders-" was never assigned. */
    CHECK_OK(kat_group_generation_n(same, topic_buf, 7, 1, &gen));
    CHECK(gen == 0);
    /* A prefix is a different topic too. */
    CHECK_OK(kat_group_generation_n(same, topic_buf, 5, 1, &gen));
    CHECK(gen == 0);

    CHECK_OK(kat_tracker_generation_n(t, group_buf, 7, topic_buf, 6, 1, &gen));
    CHECK(gen == 2);
    CHECK_OK(kat_tracker_is_assigned_n(t, group_buf, 7, topic_buf, 6, 0, &assigned));
    CHECK(assigned);
    /* "billingX" is another group. */
    CHECK_OK(kat_tracker_generation_n(t, group_buf, 8, topic_buf, 6, 1, &gen));
    CHECK(gen == 0);
    CHECK_OK(kat_tracker_is_assigned_n(t, group_buf, 8, topic_buf, 6, 0, &assigned));
    CHECK(!assigned);

    /* A handle by pointer + length follows the key. */
    kat_partition_handle_t *h = NULL;
    CHECK_OK(kat_group_partition_n(same, topic_buf, 6, 1, &h));
    kat_partition_state_t st;
    CHECK_OK(kat_partition_handle_state(h, &st));
    CHECK(st.generation == 2 && st.assigned);
    kat_partition_handle_free(h);

    kat_group_free(same);
    check_unchanged(__LINE__);
}

static void test_hostile(void) {
    uint64_t gen = SENTINEL_U64;
    bool b = true;
    kat_group_t *out_g = SENTINEL_PTR;
    kat_partition_handle_t *out_h = SENTINEL_PTR;

    /* Embedded NUL: rejected, never read as the shorter "orders" / "billing". */
    static const char topic_nul[] = "orders\0x";
    static const char group_nul[] = "billing\0";
    FAILS(kat_group_generation_n(g, topic_nul, 8, 1, &gen), KAT_ERR_INVALID_TOPIC,
          "illegal byte 0x00 at offset 6");
    FAILS(kat_group_generation_n(g, topic_nul, 7, 1, &gen), KAT_ERR_INVALID_TOPIC, "0x00");
    FAILS(kat_group_is_assigned_n(g, topic_nul, 7, 1, &b), KAT_ERR_INVALID_TOPIC, "0x00");
    FAILS(kat_group_partition_n(g, topic_nul, 7, 1, &out_h), KAT_ERR_INVALID_TOPIC, "0x00");
    FAILS(kat_tracker_generation_n(t, "billing", 7, topic_nul, 7, 1, &gen),
          KAT_ERR_INVALID_TOPIC, "0x00");
    FAILS(kat_tracker_is_assigned_n(t, "billing", 7, topic_nul, 7, 1, &b),
          KAT_ERR_INVALID_TOPIC, "0x00");
    FAILS(kat_tracker_generation_n(t, group_nul, 8, "orders", 6, 1, &gen),
          KAT_ERR_INVALID_GROUP, "NUL");
    FAILS(kat_tracker_is_assigned_n(t, group_nul, 8, "orders", 6, 1, &b),
          KAT_ERR_INVALID_GROUP, "NUL");
    FAILS(kat_tracker_group_n(t, group_nul, 8, &out_g), KAT_ERR_INVALID_GROUP, "NUL");
    FAILS(kat_tracker_group_n(t, "\0billing", 8, &out_g), KAT_ERR_INVALID_GROUP, "NUL");

    /* Invalid UTF-8 in a group name; non-ASCII in a topic name. */
    FAILS(kat_tracker_group_n(t, "bad\xff", 4, &out_g), KAT_ERR_INVALID_UTF8, "offset 3");
    FAILS(kat_tracker_group_n(t, "\xe2\x9c\x93", 2, &out_g), KAT_ERR_INVALID_UTF8, "offset 0");
    FAILS(kat_tracker_generation_n(t, "\xc0\x80", 2, "orders", 6, 1, &gen),
          KAT_ERR_INVALID_UTF8, "`group`");
    FAILS(kat_tracker_is_assigned_n(t, "\xc0\x80", 2, "orders", 6, 1, &b),
          KAT_ERR_INVALID_UTF8, "`group`");
    FAILS(kat_group_generation_n(g, "caf\xc3\xa9", 5, 1, &gen), KAT_ERR_INVALID_TOPIC,
          "illegal byte 0xc3");

    /* Valid UTF-8 groups that are not ASCII are fine, and a different group. */
    kat_group_t *accent = NULL;
    CHECK_OK(kat_tracker_group_n(t, "caf\xc3\xa9", 5, &accent));
    CHECK_STREQ(kat_group_name(accent), "caf\xc3\xa9");
    kat_group_free(accent);

    /* NULL names: with a length it is a NULL pointer; without, the empty name. */
    FAILS(kat_tracker_group_n(t, NULL, 3, &out_g), KAT_ERR_NULL_POINTER, "`name`");
    FAILS(kat_tracker_group_n(t, NULL, 0, &out_g), KAT_ERR_INVALID_GROUP, "empty");
    FAILS(kat_tracker_group_n(t, "billing", 0, &out_g), KAT_ERR_INVALID_GROUP, "empty");
    FAILS(kat_tracker_generation_n(t, NULL, 1, "orders", 6, 1, &gen), KAT_ERR_NULL_POINTER,
          "`group`");
    FAILS(kat_tracker_generation_n(t, "billing", 7, NULL, 1, 1, &gen), KAT_ERR_NULL_POINTER,
          "`topic`");
    FAILS(kat_tracker_generation_n(t, "billing", 7, NULL, 0, 1, &gen), KAT_ERR_INVALID_TOPIC,
          "empty");
    FAILS(kat_group_generation_n(g, NULL, 6, 1, &gen), KAT_ERR_NULL_POINTER, "`topic`");
    FAILS(kat_group_generation_n(g, NULL, 0, 1, &gen), KAT_ERR_INVALID_TOPIC, "empty");
    FAILS(kat_group_is_assigned_n(g, NULL, 6, 1, &b), KAT_ERR_NULL_POINTER, "`topic`");
    FAILS(kat_group_partition_n(g, NULL, 6, 1, &out_h), KAT_ERR_NULL_POINTER, "`topic`");

    /* Absurd lengths are refused before any byte is read. */
    FAILS(kat_tracker_group_n(t, "billing", SIZE_MAX, &out_g), KAT_ERR_INVALID_ARGUMENT,
          "name_len");
    FAILS(kat_group_generation_n(g, "orders", SIZE_MAX, 1, &gen), KAT_ERR_INVALID_ARGUMENT,
          "topic_len");
    FAILS(kat_tracker_is_assigned_n(t, "billing", SIZE_MAX / 2 + 1, "orders", 6, 1, &b),
          KAT_ERR_INVALID_ARGUMENT, "group_len");
    /* Lengths below that bound but far beyond any name, over a short
     * buffer: refused by the length alone, before any byte is read. */
    FAILS(kat_tracker_group_n(t, "billing", (size_t)1 << 40, &out_g), KAT_ERR_INVALID_GROUP,
          "1099511627776 bytes");
    FAILS(kat_tracker_generation_n(t, "billing", SIZE_MAX / 2, "orders", 6, 1, &gen),
          KAT_ERR_INVALID_GROUP, "bytes long");
    FAILS(kat_group_generation_n(g, "orders", (size_t)1 << 40, 1, &gen), KAT_ERR_INVALID_TOPIC,
          "1099511627776 bytes");
    FAILS(kat_group_partition_n(g, "orders", SIZE_MAX / 2, 1, &out_h), KAT_ERR_INVALID_TOPIC,
          "bytes long");
    /* Too long for a name, but a real length: the name rules say why. */
    char long_group[KAT_MAX_GROUP_NAME_LEN + 1];
    memset(long_group, 'g', sizeof long_group);
    FAILS(kat_tracker_group_n(t, long_group, sizeof long_group, &out_g), KAT_ERR_INVALID_GROUP,
          "1025 bytes");
    char long_topic[KAT_MAX_TOPIC_NAME_LEN + 1];
    memset(long_topic, 't', sizeof long_topic);
    FAILS(kat_group_generation_n(g, long_topic, sizeof long_topic, 1, &gen),
          KAT_ERR_INVALID_TOPIC, "250 bytes");

    /* Bad partitions. */
    FAILS(kat_group_generation_n(g, "orders", 6, -1, &gen), KAT_ERR_INVALID_PARTITION, "-1");
    FAILS(kat_group_is_assigned_n(g, "orders", 6, -1, &b), KAT_ERR_INVALID_PARTITION, "-1");
    FAILS(kat_group_partition_n(g, "orders", 6, -1, &out_h), KAT_ERR_INVALID_PARTITION, "-1");
    FAILS(kat_tracker_generation_n(t, "billing", 7, "orders", 6, INT32_MIN, &gen),
          KAT_ERR_INVALID_PARTITION, "-2147483648");
    FAILS(kat_tracker_is_assigned_n(t, "billing", 7, "orders", 6, -7, &b),
          KAT_ERR_INVALID_PARTITION, "-7");

    /* NULL handles and outputs. */
    FAILS(kat_tracker_group_n(NULL, "billing", 7, &out_g), KAT_ERR_NULL_POINTER, "`tracker`");
    FAILS(kat_tracker_group_n(t, "billing", 7, NULL), KAT_ERR_NULL_POINTER, "`out_group`");
    FAILS(kat_tracker_generation_n(NULL, "billing", 7, "orders", 6, 1, &gen),
          KAT_ERR_NULL_POINTER, "`tracker`");
    FAILS(kat_tracker_generation_n(t, "billing", 7, "orders", 6, 1, NULL), KAT_ERR_NULL_POINTER,
          "`out_generation`");
    FAILS(kat_tracker_is_assigned_n(NULL, "billing", 7, "orders", 6, 1, &b),
          KAT_ERR_NULL_POINTER, "`tracker`");
    FAILS(kat_tracker_is_assigned_n(t, "billing", 7, "orders", 6, 1, NULL), KAT_ERR_NULL_POINTER,
          "`out_assigned`");
    FAILS(kat_group_generation_n(NULL, "orders", 6, 1, &gen), KAT_ERR_NULL_POINTER, "`group`");
    FAILS(kat_group_generation_n(g, "orders", 6, 1, NULL), KAT_ERR_NULL_POINTER,
          "`out_generation`");
    FAILS(kat_group_is_assigned_n(NULL, "orders", 6, 1, &b), KAT_ERR_NULL_POINTER, "`group`");
    FAILS(kat_group_is_assigned_n(g, "orders", 6, 1, NULL), KAT_ERR_NULL_POINTER,
          "`out_assigned`");
    FAILS(kat_group_partition_n(NULL, "orders", 6, 1, &out_h), KAT_ERR_NULL_POINTER, "`group`");
    FAILS(kat_group_partition_n(g, "orders", 6, 1, NULL), KAT_ERR_NULL_POINTER, "`out_handle`");

    /* Outputs were never written. */
    CHECK(gen == SENTINEL_U64);
    CHECK(b == true);
    CHECK(out_g == SENTINEL_PTR);
    CHECK(out_h == SENTINEL_PTR);
}

int main(void) {
    t = kat_tracker_new();
    CHECK_OK(kat_tracker_group(t, "billing", &g));
    const int32_t p[] = {0, 1, 2};
    CHECK_OK(kat_group_assigned_partitions(g, "orders", p, 3));
    CHECK_OK(kat_group_revoked_partitions(g, "orders", p + 2, 1));
    CHECK_OK(kat_group_assigned_partitions(g, "orders", p + 1, 1));
    read_state(&baseline_epoch, baseline, sizeof baseline);
    CHECK(baseline_epoch == 3);

    test_reads();
    test_hostile();
    check_unchanged(__LINE__);

    kat_group_free(g);
    kat_tracker_free(t);
    printf("by_len: %lu checks passed\n", check_count);
    return 0;
}
