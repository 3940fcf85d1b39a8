/*
 * rdkafka_interop.c: kat.h together with librdkafka's own header, in either
 * order (-DKAT_AFTER_RDKAFKA picks rdkafka.h first), and a real
 * rd_kafka_topic_partition_list_t passed to the list entry points. This
 * program links librdkafka itself; libkat never does.
 */
#include <stdint.h>

#if defined(KAT_AFTER_RDKAFKA)
#include <librdkafka/rdkafka.h>
#include "check.h"
#else
#include "check.h"
#include <librdkafka/rdkafka.h>
#endif

int main(void) {
    kat_tracker_t *t = kat_tracker_new();
    kat_group_t *g = NULL;
    CHECK_OK(kat_tracker_group(t, "rdkafka", &g));

    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, "orders", 2);
    rd_kafka_topic_partition_list_add(list, "orders", 0);
    rd_kafka_topic_partition_list_add(list, "audit", 7)->offset = 42;
    CHECK(list->cnt == 3 && list->size >= 3);
    CHECK_OK(kat_group_assigned(g, list));

    uint64_t gen = 0;
    bool is = false;
    CHECK_OK(kat_group_generation(g, "orders", 2, &gen));
    CHECK(gen == 1);
    CHECK_OK(kat_group_is_assigned(g, "audit", 7, &is));
    CHECK(is);

    kat_snapshot_t *s = NULL;
    kat_topic_view_t tv;
    CHECK_OK(kat_tracker_snapshot(t, &s));
    CHECK_OK(kat_snapshot_find_topic(s, "rdkafka", "orders", &tv));
    CHECK(tv.partition_count == 2 && tv.partitions[0].partition == 0 &&
          tv.partitions[1].partition == 2);
    kat_snapshot_free(s);

    rd_kafka_topic_partition_list_t *revoke = rd_kafka_topic_partition_list_new(0);
    rd_kafka_topic_partition_list_add(revoke, "orders", 2);
    CHECK_OK(kat_group_revoked(g, revoke));
    CHECK_OK(kat_group_is_assigned(g, "orders", 2, &is));
    CHECK(!is);

    /* An EAGER assign of the full list: orders/2 comes back at generation 2. */
    CHECK_OK(kat_group_replace(g, list));
    CHECK_OK(kat_group_generation(g, "orders", 2, &gen));
    CHECK(gen == 2);

    /* A list librdkafka considers valid but Kafka does not: element 1. */
    rd_kafka_topic_partition_list_t *bad = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(bad, "orders", 5);
    rd_kafka_topic_partition_list_add(bad, "no spaces", 0);
    CHECK_RESULT(kat_group_assigned(g, bad), KAT_ERR_INVALID_TOPIC);
    CHECK_ERROR_MENTIONS("element 1");
    CHECK_OK(kat_group_generation(g, "orders", 5, &gen));
    CHECK(gen == 0);

    /* RD_KAFKA_PARTITION_UA (-1) is not a partition kat can track. */
    rd_kafka_topic_partition_list_t *ua = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(ua, "orders", RD_KAFKA_PARTITION_UA);
    CHECK_RESULT(kat_group_assigned(g, ua), KAT_ERR_INVALID_PARTITION);
    CHECK_ERROR_MENTIONS("element 0");

    rd_kafka_topic_partition_list_destroy(ua);
    rd_kafka_topic_partition_list_destroy(bad);
    rd_kafka_topic_partition_list_destroy(revoke);
    rd_kafka_topic_partition_list_destroy(list);
    kat_group_free(g);
    kat_tracker_free(t);
    printf("rdkafka_interop: %lu checks passed\n", check_count);
    return 0;
}
