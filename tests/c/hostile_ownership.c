/*
 * hostile_ownership.c: the ownership exports (poll deadline, fencing
 * tokens, leases and the drain barrier, loss notifications) fed NULLs and
 * out-of-range arguments. Each failing call must return its documented
 * kat_result, leave its outputs untouched and change nothing (the epoch and
 * the partition's state are compared after every call). Calls that return
 * bool give false for NULL.
 *
 * tests/native.rs counts the exports called here as covered, like hostile.c.
 */
#include <stdbool.h>
#include <stdint.h>

#include "check.h"

static kat_tracker_t *t;
static kat_group_t *g;
static kat_partition_handle_t *h;
static uint64_t base_epoch;

static void check_unchanged(int line) {
    uint64_t epoch = 0;
    kat_partition_state_t st;
    CHECK_OK(kat_tracker_epoch(t, &epoch));
    CHECK_OK(kat_partition_handle_state(h, &st));
    if (epoch != base_epoch || !st.assigned || st.generation != 1) {
        fprintf(stderr, "line %d: a failed call changed the state\n", line);
        exit(1);
    }
}
#define UNCHANGED() check_unchanged(__LINE__)

static void on_loss(const char *group, void *opaque) {
    (void)group;
    ++*(int *)opaque;
}

int main(void) {
    int32_t parts[1] = {0};
    kat_poll_stats_t ps;
    kat_drain_stats_t ds;
    kat_fencing_token_t tok;
    int32_t gen = 77;
    uint64_t held = 77;
    bool ended = true;
    int fd = -2, calls = 0;
    char buf[8];
    size_t len = 77;

    t = kat_tracker_new();
    CHECK_OK(kat_tracker_group(t, "g", &g));
    CHECK_OK(kat_group_assigned_partitions(g, "orders", parts, 1));
    CHECK_OK(kat_group_partition(g, "orders", 0, &h));
    CHECK_OK(kat_tracker_epoch(t, &base_epoch));

    /* Poll deadline. */
    CHECK_RESULT(kat_group_mark_poll(NULL), KAT_ERR_NULL_POINTER);
    CHECK_RESULT(kat_group_set_poll_deadline(NULL, 1000, 0), KAT_ERR_NULL_POINTER);
    CHECK_RESULT(kat_group_set_poll_deadline(g, 1000, 1000), KAT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("margin");
    CHECK_RESULT(kat_group_poll_stats(NULL, &ps), KAT_ERR_NULL_POINTER);
    CHECK_RESULT(kat_group_poll_stats(g, NULL), KAT_ERR_NULL_POINTER);
    CHECK_OK(kat_group_poll_stats(g, &ps));
    CHECK(ps.deadline_ms == 0 && ps.expirations == 0);
    UNCHANGED();

    /* Fencing tokens. */
    CHECK_RESULT(kat_partition_handle_token(NULL, &tok), KAT_ERR_NULL_POINTER);
    CHECK_RESULT(kat_partition_handle_token(h, NULL), KAT_ERR_NULL_POINTER);
    CHECK_RESULT(kat_group_record_broker_generation(NULL, 3, "m"), KAT_ERR_NULL_POINTER);
    CHECK_RESULT(kat_group_record_broker_generation(g, 3, "\xff\xfe"), KAT_ERR_INVALID_UTF8);
    CHECK_RESULT(kat_group_broker_generation(NULL, &gen), KAT_ERR_NULL_POINTER);
    CHECK_RESULT(kat_group_broker_generation(g, NULL), KAT_ERR_NULL_POINTER);
    CHECK_OK(kat_group_broker_generation(g, &gen));
    CHECK(gen == 0); /* the invalid member id changed nothing */
    CHECK_RESULT(kat_group_member_id(NULL, buf, sizeof buf, &len), KAT_ERR_NULL_POINTER);
    CHECK_RESULT(kat_group_member_id(g, buf, sizeof buf, &len), KAT_ERR_NOT_FOUND);
    CHECK(len == 77);
    CHECK_OK(kat_group_record_broker_generation(g, 3, "member-1"));
    CHECK_RESULT(kat_group_member_id(g, buf, 4, &len), KAT_ERR_BUFFER_TOO_SMALL);
    CHECK_RESULT(kat_group_member_id(g, buf, sizeof buf, NULL), KAT_ERR_NULL_POINTER);
    CHECK(!kat_group_broker_refresh_due(NULL));
    CHECK_OK(kat_partition_handle_token(h, &tok));
    CHECK(tok.owned && tok.generation == 1 && tok.broker_generation == 3);
    UNCHANGED();

    /* Leases and the drain barrier. */
    CHECK(!kat_partition_handle_lease_acquire(NULL, 1));
    CHECK(!kat_partition_handle_lease_acquire(h, 2)); /* wrong generation */
    CHECK(!kat_partition_handle_lease_valid(NULL, 1));
    CHECK_RESULT(kat_partition_handle_lease_release(NULL), KAT_ERR_NULL_POINTER);
    CHECK_RESULT(kat_partition_handle_lease_release(h), KAT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("no lease");
    CHECK(kat_partition_handle_lease_acquire(h, 1));
    CHECK(kat_partition_handle_lease_valid(h, 1));
    CHECK_OK(kat_partition_handle_lease_release(h));
    CHECK_RESULT(kat_group_set_drain_timeout(NULL, 10), KAT_ERR_NULL_POINTER);
    CHECK_RESULT(kat_group_drain_stats(NULL, &ds), KAT_ERR_NULL_POINTER);
    CHECK_RESULT(kat_group_drain_stats(g, NULL), KAT_ERR_NULL_POINTER);
    CHECK_RESULT(kat_group_drain(NULL, NULL, &held), KAT_ERR_NULL_POINTER);
    CHECK_RESULT(kat_group_drain(g, NULL, NULL), KAT_ERR_NULL_POINTER);
    CHECK(held == 77);
    CHECK_OK(kat_group_drain_stats(g, &ds));
    CHECK(ds.drains == 0 && ds.timeout_ms == 0);
    UNCHANGED();

    /* Being told. */
    CHECK_RESULT(kat_partition_handle_wait_not_owned(NULL, 1, 0, &ended), KAT_ERR_NULL_POINTER);
    CHECK_RESULT(kat_partition_handle_wait_not_owned(h, 1, 0, NULL), KAT_ERR_NULL_POINTER);
    CHECK(ended);
    CHECK_OK(kat_partition_handle_wait_not_owned(h, 1, 1, &ended));
    CHECK(!ended);
    CHECK_RESULT(kat_group_set_loss_callback(NULL, on_loss, &calls), KAT_ERR_NULL_POINTER);
    CHECK_RESULT(kat_group_loss_eventfd(NULL, &fd), KAT_ERR_NULL_POINTER);
    CHECK_RESULT(kat_group_loss_eventfd(g, NULL), KAT_ERR_NULL_POINTER);
    CHECK(fd == -2);
    CHECK_RESULT(kat_group_close_loss_eventfd(NULL), KAT_ERR_NULL_POINTER);
    CHECK_OK(kat_group_close_loss_eventfd(g)); /* none: a no-op */
    UNCHANGED();
    CHECK_OK(kat_group_set_loss_callback(g, on_loss, &calls));
    CHECK_OK(kat_group_loss_eventfd(g, &fd)); /* replaces the callback */
    CHECK(fd >= 0);
    CHECK_OK(kat_group_revoked_partitions(g, "orders", parts, 1));
    CHECK(calls == 0);
    CHECK_OK(kat_group_close_loss_eventfd(g));

    kat_partition_handle_free(h);
    kat_group_free(g);
    kat_tracker_free(t);
    printf("hostile_ownership: %lu checks passed\n", check_count);
    return 0;
}
