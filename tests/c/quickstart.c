#include <stdio.h>

#include <kat.h>

int main(void) {
    /* One tracker per process; kat_tracker_global() never returns NULL. */
    kat_tracker_t *tracker = kat_tracker_global();

    kat_group_t *group = NULL;
    if (kat_tracker_group(tracker, "billing", &group) != KAT_OK) {
        char why[256];
        kat_last_error_message(why, sizeof why);
        fprintf(stderr, "kat: %s\n", why);
        return 1;
    }

    /* What a rebalance callback records (kat_rdkafka.h does it for you). */
    const int32_t partitions[] = {0, 1, 2};
    kat_group_assigned_partitions(group, "orders", partitions, 3);

    /* Hot-path reads: wait-free, no allocation. */
    uint64_t generation = 0;
    bool assigned = false;
    kat_group_generation(group, "orders", 1, &generation);
    kat_group_is_assigned(group, "orders", 1, &assigned);
    printf("orders/1: generation %llu, %s\n", (unsigned long long)generation,
           assigned ? "assigned" : "not assigned");

    /* A snapshot never changes while held; iterate it without copying. */
    kat_snapshot_t *snapshot = NULL;
    kat_tracker_snapshot(tracker, &snapshot);
    size_t group_count = 0;
    kat_snapshot_group_count(snapshot, &group_count);
    for (size_t g = 0; g < group_count; g++) {
        kat_group_view_t gv;
        kat_snapshot_group(snapshot, g, &gv);
        printf("%s\n", gv.name);
        for (size_t t = 0; t < gv.topic_count; t++) {
            kat_topic_view_t tv;
            kat_snapshot_topic(snapshot, g, t, &tv);
            for (size_t p = 0; p < tv.partition_count; p++) {
                printf("  %s/%d generation %llu\n", tv.name, (int)tv.partitions[p].partition,
                       (unsigned long long)tv.partitions[p].generation);
            }
        }
    }

    kat_snapshot_free(snapshot);
    kat_group_free(group);
    return 0;
}
