/* A consumer of an installed kat, built out of tree by tests/install.rs with
 * `pkg-config --cflags --libs kat` (libkat.so), `pkg-config --static --libs
 * kat-static` (libkat.a) and CMake's find_package(kat). It uses the global
 * tracker from two threads, as an application would, and must be clean under
 * plain `valgrind --leak-check=full --error-exitcode=1`. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kat.h>

static int failures;

/* A group kept for the whole process and never freed, as an application
 * keeps the group of a consumer that lives until exit: still reachable for
 * valgrind, never "possibly lost". */
static kat_group_t *kept;

#define EXPECT(cond)                                                        \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "consumer.c:%d: %s failed\n", __LINE__, #cond); \
            failures++;                                                     \
        }                                                                   \
    } while (0)

static void *reader(void *arg) {
    kat_group_t *group = arg;
    uint64_t generation = 0;
    bool assigned = false;
    for (int i = 0; i < 1000; i++) {
        EXPECT(kat_group_generation(group, "orders", 1, &generation) == KAT_OK);
        EXPECT(kat_tracker_is_assigned(kat_tracker_global(), "billing", "orders", 1, &assigned) ==
               KAT_OK);
    }
    return NULL;
}

int main(void) {
    kat_tracker_t *tracker = kat_tracker_global();
    kat_group_t *group = NULL;
    EXPECT(kat_tracker_group(tracker, "billing", &group) == KAT_OK);
    EXPECT(kat_tracker_group(tracker, "audit", &kept) == KAT_OK);

    const int32_t partitions[] = {0, 1, 2};
    EXPECT(kat_group_assigned_partitions(group, "orders", partitions, 3) == KAT_OK);
    kat_partition_handle_t *handle = NULL;
    EXPECT(kat_group_partition(group, "orders", 1, &handle) == KAT_OK);

    pthread_t th;
    EXPECT(pthread_create(&th, NULL, reader, group) == 0);
    EXPECT(kat_group_revoked_partitions(group, "orders", partitions + 2, 1) == KAT_OK);
    EXPECT(pthread_join(th, NULL) == 0);

    kat_partition_state_t state;
    EXPECT(kat_partition_handle_state(handle, &state) == KAT_OK);
    printf("kat %s: orders/1 generation %llu, %s\n", kat_version(),
           (unsigned long long)state.generation, state.assigned ? "assigned" : "not assigned");

    /* JSON: one call with a small buffer tells the size to allocate. */
    kat_snapshot_t *snapshot = NULL;
    EXPECT(kat_tracker_snapshot(tracker, &snapshot) == KAT_OK);
    char small[8];
    size_t len = 0;
    EXPECT(kat_snapshot_to_json(snapshot, small, sizeof small, &len) == KAT_ERR_BUFFER_TOO_SMALL);
    char *json = malloc(len + 1);
    EXPECT(json != NULL);
    EXPECT(kat_snapshot_to_json(snapshot, json, len + 1, &len) == KAT_OK);
    printf("%s\n", json);
    free(json);

    /* A failure is visible; the next success clears it. */
    EXPECT(kat_group_generation(group, "not a topic", 0, &state.generation) ==
           KAT_ERR_INVALID_TOPIC);
    EXPECT(kat_last_error_message(NULL, 0) > 0);
    EXPECT(kat_snapshot_epoch(snapshot, &state.generation) == KAT_OK);
    EXPECT(kat_last_error_message(NULL, 0) == 0);

    kat_snapshot_free(snapshot);
    kat_partition_handle_free(handle);
    kat_group_free(group);
    kat_tracker_free(tracker); /* the global tracker: a no-op */
    return failures == 0 ? 0 : 1;
}
