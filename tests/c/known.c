/*
 * known.c: every topic a group has generations for, read from a snapshot
 * (kat_snapshot_known_topic*), and the sharing of unchanged topics between
 * consecutive snapshots (equal records_id), then hostile inputs.
 */
#include <stdint.h>

#include "check.h"

#define SENTINEL_SIZE ((size_t)0x5A5A5A5A5A5A5A5Aull)

static void test_reads_and_sharing(void) {
    kat_tracker_t *t = kat_tracker_new();
    kat_group_t *g = NULL;
    CHECK_OK(kat_tracker_group(t, "billing", &g));
    const int32_t p[] = {0, 1, 2};
    CHECK_OK(kat_group_assigned_partitions(g, "orders", p, 3));
    CHECK_OK(kat_group_assigned_partitions(g, "refunds", p, 2));
    CHECK_OK(kat_group_revoked_partitions(g, "orders", p + 1, 1));
    CHECK_OK(kat_group_revoked_partitions(g, "refunds", p, 2));

    kat_snapshot_t *s1 = NULL;
    CHECK_OK(kat_tracker_snapshot(t, &s1));
    size_t n = 0;
    CHECK_OK(kat_snapshot_known_topic_count(s1, 0, &n));
    CHECK(n == 2); /* refunds has nothing assigned but is known */
    kat_group_view_t gv;
    CHECK_OK(kat_snapshot_group(s1, 0, &gv));
    CHECK(gv.topic_count == 1);

    kat_known_topic_view_t orders1, refunds1;
    CHECK_OK(kat_snapshot_known_topic(s1, 0, 0, &orders1));
    CHECK_OK(kat_snapshot_known_topic(s1, 0, 1, &refunds1));
    CHECK_STREQ(orders1.name, "orders");
    CHECK(orders1.name_len == 6);
    CHECK_STREQ(orders1.group, "billing");
    CHECK(orders1.group_len == 7);
    CHECK(orders1.record_count == 3 && orders1.assigned_count == 2);
    CHECK_STREQ(refunds1.name, "refunds");
    CHECK(refunds1.record_count == 2 && refunds1.assigned_count == 0);

    kat_partition_record_t recs[4];
    size_t count = 0;
    CHECK_OK(kat_snapshot_known_topic_records(s1, 0, 0, NULL, 0, &count));
    CHECK(count == 3);
    CHECK_OK(kat_snapshot_known_topic_records(s1, 0, 0, recs, 4, &count));
    CHECK(count == 3);
    CHECK(recs[0].partition == 0 && recs[0].generation == 1 &&
          recs[0].status == KAT_STATUS_ASSIGNED);
    CHECK(recs[1].partition == 1 && recs[1].status == KAT_STATUS_REVOKED);
    CHECK(recs[2].partition == 2 && recs[2].status == KAT_STATUS_ASSIGNED);

    /* Reassign orders/1: orders changes, refunds is shared. */
    CHECK_OK(kat_group_assigned_partitions(g, "orders", p + 1, 1));
    kat_snapshot_t *s2 = NULL;
    CHECK_OK(kat_tracker_snapshot(t, &s2));
    kat_known_topic_view_t orders2, refunds2;
    CHECK_OK(kat_snapshot_known_topic(s2, 0, 0, &orders2));
    CHECK_OK(kat_snapshot_known_topic(s2, 0, 1, &refunds2));
    CHECK(refunds2.records_id == refunds1.records_id);
    CHECK(orders2.records_id != orders1.records_id);
    CHECK_OK(kat_snapshot_known_topic_records(s2, 0, 0, recs, 3, &count));
    CHECK(recs[1].generation == 2 && recs[1].status == KAT_STATUS_ASSIGNED);
    /* The held snapshot did not change. */
    CHECK_OK(kat_snapshot_known_topic_records(s1, 0, 0, recs, 3, &count));
    CHECK(recs[1].generation == 1 && recs[1].status == KAT_STATUS_REVOKED);

    /* Lost keeps the topic known, with status lost. */
    CHECK_OK(kat_group_lost(g));
    kat_snapshot_t *s3 = NULL;
    CHECK_OK(kat_tracker_snapshot(t, &s3));
    CHECK_OK(kat_snapshot_known_topic_count(s3, 0, &n));
    CHECK(n == 2);
    CHECK_OK(kat_snapshot_known_topic_records(s3, 0, 0, recs, 3, &count));
    CHECK(recs[0].status == KAT_STATUS_LOST && recs[0].generation == 1);

    /* Hostile: nothing written on failure. */
    size_t untouched = SENTINEL_SIZE;
    kat_known_topic_view_t v;
    memset(&v, 0x5a, sizeof v);
    CHECK_RESULT(kat_snapshot_known_topic_count(NULL, 0, &untouched), KAT_ERR_NULL_POINTER);
    CHECK_ERROR_MENTIONS("kat_snapshot_known_topic_count: argument `snapshot` is NULL");
    CHECK_RESULT(kat_snapshot_known_topic_count(s3, 0, NULL), KAT_ERR_NULL_POINTER);
    CHECK_RESULT(kat_snapshot_known_topic_count(s3, 1, &untouched), KAT_ERR_OUT_OF_RANGE);
    CHECK_ERROR_MENTIONS("group index 1 is out of range (count 1)");
    CHECK(untouched == SENTINEL_SIZE);
    CHECK_RESULT(kat_snapshot_known_topic(NULL, 0, 0, &v), KAT_ERR_NULL_POINTER);
    CHECK_RESULT(kat_snapshot_known_topic(s3, 0, 0, NULL), KAT_ERR_NULL_POINTER);
    CHECK_RESULT(kat_snapshot_known_topic(s3, 0, 2, &v), KAT_ERR_OUT_OF_RANGE);
    CHECK_ERROR_MENTIONS("known topic index 2 is out of range (count 2)");
    CHECK_RESULT(kat_snapshot_known_topic(s3, SIZE_MAX, 0, &v), KAT_ERR_OUT_OF_RANGE);
    CHECK(v.record_count == SENTINEL_SIZE);
    CHECK_RESULT(kat_snapshot_known_topic_records(NULL, 0, 0, recs, 3, &count),
                 KAT_ERR_NULL_POINTER);
    CHECK_RESULT(kat_snapshot_known_topic_records(s3, 0, 0, recs, 3, NULL), KAT_ERR_NULL_POINTER);
    CHECK_RESULT(kat_snapshot_known_topic_records(s3, 0, 0, NULL, 3, &untouched),
                 KAT_ERR_NULL_POINTER);
    CHECK_ERROR_MENTIONS("`buf`");
    recs[0].generation = 77;
    CHECK_RESULT(kat_snapshot_known_topic_records(s3, 0, 0, recs, 2, &untouched),
                 KAT_ERR_BUFFER_TOO_SMALL);
    CHECK_ERROR_MENTIONS("need room for 3 records, got 2");
    CHECK(recs[0].generation == 77);
    CHECK_RESULT(kat_snapshot_known_topic_records(s3, 0, 5, recs, 3, &untouched),
                 KAT_ERR_OUT_OF_RANGE);
    CHECK_RESULT(kat_snapshot_known_topic_records(s3, 3, 0, recs, 3, &untouched),
                 KAT_ERR_OUT_OF_RANGE);
    CHECK(untouched == SENTINEL_SIZE);

    kat_snapshot_free(s1);
    kat_snapshot_free(s2);
    kat_snapshot_free(s3);
    kat_group_free(g);
    kat_tracker_free(t);
}

int main(void) {
    test_reads_and_sharing();
    printf("known: %lu checks passed\n", check_count);
    return 0;
}
