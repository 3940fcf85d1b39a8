/*
 * panic.c: a panic inside kat stays inside kat. Needs libkat built with
 * `--features test-hooks` and this file compiled with -DKAT_TEST_HOOKS.
 */
#include <stdint.h>

#include "check.h"

#if !defined(KAT_TEST_HOOKS)
#error "compile with -DKAT_TEST_HOOKS and link a libkat built with --features test-hooks"
#endif

int main(void) {
    kat_tracker_t *t = kat_tracker_new();
    kat_group_t *g = NULL;
    CHECK_OK(kat_tracker_group(t, "before", &g));
    const int32_t parts[] = {0, 1};
    CHECK_OK(kat_group_assigned_partitions(g, "orders", parts, 2));

    for (int round = 0; round < 3; round++) {
        CHECK_RESULT(kat_test_panic(), KAT_ERR_INTERNAL);
        CHECK_ERROR_MENTIONS("kat_test_panic: panic");
        CHECK_ERROR_MENTIONS("test hook panicked on purpose");
        CHECK(strstr(kat_result_message(KAT_ERR_INTERNAL), "panic") != NULL);
    }

    /* The process goes on and the library still works. */
    uint64_t gen = 0, epoch = 0;
    CHECK_OK(kat_group_generation(g, "orders", 1, &gen));
    CHECK(gen == 1);
    CHECK_OK(kat_group_assigned_partitions(g, "orders", parts, 1));
    CHECK_OK(kat_group_generation(g, "orders", 0, &gen));
    CHECK(gen == 2);
    CHECK_OK(kat_tracker_epoch(t, &epoch));
    CHECK(epoch == 2);
    kat_group_t *after = NULL;
    CHECK_OK(kat_tracker_group(t, "after", &after));
    CHECK_OK(kat_group_assigned_partitions(after, "orders", parts, 2));
    kat_snapshot_t *s = NULL;
    size_t n = 0;
    CHECK_OK(kat_tracker_snapshot(t, &s));
    CHECK_OK(kat_snapshot_partition_count(s, &n));
    CHECK(n == 4);
    kat_snapshot_free(s);
    /* Errors are still reported normally after a panic. */
    CHECK_RESULT(kat_tracker_epoch(t, NULL), KAT_ERR_NULL_POINTER);
    CHECK_ERROR_MENTIONS("kat_tracker_epoch: argument `out_epoch` is NULL");

    kat_group_free(after);
    kat_group_free(g);
    kat_tracker_free(t);
    printf("panic: %lu checks passed\n", check_count);
    return 0;
}
