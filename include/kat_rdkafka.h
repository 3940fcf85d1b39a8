/*
 * kat_rdkafka.h: header-only glue between librdkafka consumers and kat.
 *
 * Hand-written (not generated). Every function is `static inline`: the glue
 * is compiled into the application against the application's own
 * librdkafka, so libkat itself never links or calls librdkafka, and one
 * libkat works with any librdkafka from 1.6 on (the first release with
 * rd_kafka_rebalance_protocol(), rd_kafka_incremental_assign() and
 * rd_kafka_assignment_lost()), whether a system librdkafka.so.1, a copy
 * bundled by a language binding, or a static one.
 *
 * What a rebalance does (README.md, "Using kat from a librdkafka C/C++
 * consumer", has the same table and the tests behind it):
 *
 *   event (err)                protocol     assign call (exactly one)            recorded in kat, after it succeeded
 *   ------------------------   -----------  -----------------------------------  ------------------------------------
 *   __ASSIGN_PARTITIONS        EAGER        rd_kafka_assign(rk, partitions)      kat_group_replace(group, partitions)
 *   __ASSIGN_PARTITIONS        COOPERATIVE  rd_kafka_incremental_assign(...)     kat_group_assigned(group, partitions)
 *   __REVOKE_PARTITIONS        EAGER        rd_kafka_assign(rk, NULL)            lost ? kat_group_lost(group)
 *   __REVOKE_PARTITIONS        COOPERATIVE  rd_kafka_incremental_unassign(...)        : kat_group_revoked(group, partitions)
 *   anything else              any          rd_kafka_assign(rk, NULL)            kat_group_lost(group)
 *
 * "COOPERATIVE" is what rd_kafka_rebalance_protocol() reports for the
 * cooperative-sticky assignor and for the KIP-848 consumer protocol
 * (`group.protocol=consumer`); everything else is EAGER. `lost` is
 * rd_kafka_assignment_lost(), read before the assign call (the call clears
 * it). If the assign call fails, nothing is recorded: librdkafka did not
 * change its assignment either, and kat stays in step with it.
 *
 * Errors: every function returns a kat_result. On anything but KAT_OK the
 * calling thread's last error detail (kat_last_error_message()) says what
 * went wrong; for KAT_ERR_RDKAFKA it carries librdkafka's own error text.
 * A rebalance function that returns KAT_OK ends with a successful kat call,
 * which clears the detail; kat_check_lost() while nothing is lost makes no
 * kat call and leaves the detail as it was. Every failure of a rebalance
 * function (and of kat_check_lost()) with a non-NULL group is also counted
 * in that group's glue_failures (kat_group_stats()): the one way to see
 * that kat_rebalance_cb, which cannot return anything, failed.
 *
 * Threads: call the rebalance functions where librdkafka hands you the
 * rebalance, which is the thread that polls the consumer (rd_kafka_poll(),
 * rd_kafka_consumer_poll(), rd_kafka_queue_poll(), rd_kafka_consumer_close());
 * they take kat's writers' lock for the record step and never block kat's
 * readers. The group handle may be shared with any number of reader threads.
 *
 * Needs: <librdkafka/rdkafka.h> on the include path and kat.h next to this
 * file; link with libkat and with the application's librdkafka.
 */

#ifndef KAT_RDKAFKA_H
#define KAT_RDKAFKA_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "kat.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Not part of the API: records `what: detail` as the calling thread's last
 * kat error, attributed to `function`. */
static inline void kat_rdkafka_internal_error(const char *function, const char *what,
                                              const char *detail) {
  char message[512];
  snprintf(message, sizeof message, "%s: %s", what, detail != NULL ? detail : "(no detail)");
  kat_set_last_error_message(function, message);
}

/* rd_kafka_consumer_group_metadata_generation_id() (the group generation id,
 * or the member epoch under KIP-848) is used where librdkafka has it: from
 * 2.12 on by default (the first release this glue was tested with that has
 * it). Define KAT_RDKAFKA_HAVE_GENERATION_ID to 1 or 0 before including this
 * header to override; without it the broker generation is recorded as 0
 * (unknown). */
#ifndef KAT_RDKAFKA_HAVE_GENERATION_ID
#if RD_KAFKA_VERSION >= 0x020c0000
#define KAT_RDKAFKA_HAVE_GENERATION_ID 1
#else
#define KAT_RDKAFKA_HAVE_GENERATION_ID 0
#endif
#endif

/**
 * Records the broker's view of consumer `rk`'s membership in `group`, for
 * fencing tokens (kat_partition_handle_token()): the group generation id
 * (classic protocol) or member epoch (KIP-848) from
 * rd_kafka_consumer_group_metadata_generation_id() where librdkafka has it
 * (see KAT_RDKAFKA_HAVE_GENERATION_ID; 0 = unknown otherwise), and the
 * member id from rd_kafka_memberid() (all versions).
 *
 * The rebalance functions here call it at every assign, before recording
 * it, and kat_check_lost() about once a second (the KIP-848 member epoch can
 * move without a rebalance callback). Do not call it while the consumer is
 * closing (the round trip may then never be answered). Thread: any. Cost:
 * one round trip to librdkafka's consumer group thread where the
 * generation is read, and a copy of the member id.
 */
static inline void kat_rdkafka_record_broker_generation(kat_group_t *group, rd_kafka_t *rk) {
  int32_t generation = 0;
  char *member = rd_kafka_memberid(rk);
#if KAT_RDKAFKA_HAVE_GENERATION_ID
  rd_kafka_consumer_group_metadata_t *metadata = rd_kafka_consumer_group_metadata(rk);
  if (metadata != NULL) {
    generation = rd_kafka_consumer_group_metadata_generation_id(metadata);
    rd_kafka_consumer_group_metadata_destroy(metadata);
  }
#endif
  (void)kat_group_record_broker_generation(group, generation,
                                           member != NULL && member[0] != '\0' ? member : NULL);
  if (member != NULL) {
    rd_kafka_mem_free(rk, member);
  }
}

/* Not part of the API: librdkafka refused an assign call. Adds an `error`
 * entry to the group's rebalance history (monitoring), then records
 * `what: detail` as the calling thread's last kat error, attributed to
 * `function` (in that order: a successful kat call clears the last error). */
static inline void kat_rdkafka_internal_refused(const char *function, kat_group_t *group,
                                                const char *what, const char *detail) {
  char entry[640];
  if (group != NULL) {
    snprintf(entry, sizeof entry, "%s: %s: %s", function, what,
             detail != NULL ? detail : "(no detail)");
    (void)kat_group_note_rebalance_error(group, entry);
  }
  kat_rdkafka_internal_error(function, what, detail);
}

/* Not part of the API: the rebalance logic shared by kat_rebalance() and
 * kat_rebalance_event(); `function` names the caller in error details. */
static inline kat_result kat_rdkafka_internal_apply(const char *function,
                                                        kat_group_t *group, rd_kafka_t *rk,
                                                        rd_kafka_resp_err_t err,
                                                        rd_kafka_topic_partition_list_t *partitions) {
  const char *protocol;
  int cooperative;
  int lost = 0;
  rd_kafka_resp_err_t assign_err = RD_KAFKA_RESP_ERR_NO_ERROR;
  rd_kafka_error_t *error = NULL;
  kat_result recorded;

  if (rk == NULL) {
    kat_set_last_error_message(function, "rk is NULL: no assign call was made");
    return KAT_ERR_NULL_POINTER;
  }
  if (group != NULL) {
    /* A rebalance is served inside a poll: it counts as one. */
    (void)kat_group_mark_poll(group);
  }
  if (partitions == NULL && (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ||
                             err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)) {
    kat_set_last_error_message(function, "partitions is NULL: no assign call was made");
    return KAT_ERR_NULL_POINTER;
  }

  /* A round trip to librdkafka's main thread: read once. */
  protocol = rd_kafka_rebalance_protocol(rk);
  cooperative = protocol != NULL && strcmp(protocol, "COOPERATIVE") == 0;
  if (group != NULL) (void)kat_group_note_rebalance_protocol(group, cooperative != 0);

  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (cooperative) {
      error = rd_kafka_incremental_assign(rk, partitions);
    } else {
      assign_err = rd_kafka_assign(rk, partitions);
    }
  } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    /* Before unassigning: the assign call clears the flag. */
    lost = rd_kafka_assignment_lost(rk);
    if (!lost && group != NULL) {
      /* The drain barrier (kat_group_set_drain_timeout; no-op when off):
       * records the revoke now and waits for leases before unassigning. */
      uint64_t held = 0;
      (void)kat_group_drain(group, partitions, &held);
    }
    if (cooperative) {
      error = rd_kafka_incremental_unassign(rk, partitions);
    } else {
      assign_err = rd_kafka_assign(rk, NULL);
    }
  } else {
    assign_err = rd_kafka_assign(rk, NULL);
  }

  if (error != NULL) {
    kat_rdkafka_internal_refused(function, group,
                                 err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS
                                     ? "rd_kafka_incremental_assign failed"
                                     : "rd_kafka_incremental_unassign failed",
                                 rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    return KAT_ERR_RDKAFKA;
  }
  if (assign_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    kat_rdkafka_internal_refused(function, group, "rd_kafka_assign failed",
                                 rd_kafka_err2str(assign_err));
    return KAT_ERR_RDKAFKA;
  }

  if (group == NULL) {
    kat_set_last_error_message(function, "group is NULL: the assign call was made, nothing was recorded");
    return KAT_ERR_NULL_POINTER;
  }
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    /* Before the assignment is recorded: whoever sees its partitions
     * assigned sees this generation in their fencing tokens. Not on revokes:
     * the round trip could wait forever while the consumer closes, and a
     * revoked partition has no token anyway. */
    kat_rdkafka_record_broker_generation(group, rk);
  }
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    recorded = cooperative ? kat_group_assigned(group, partitions)
                           : kat_group_replace(group, partitions);
  } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && !lost) {
    recorded = kat_group_revoked(group, partitions);
  } else {
    recorded = kat_group_lost(group);
  }
  return recorded;
}

/* Not part of the API: kat_rdkafka_internal_apply(), and each failure
 * counted in the group's glue_failures (kat_group_stats()), which leaves
 * the failure's detail as the last error. */
static inline kat_result kat_rdkafka_internal_rebalance(const char *function, kat_group_t *group,
                                                        rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                                        rd_kafka_topic_partition_list_t *partitions) {
  kat_result r = kat_rdkafka_internal_apply(function, group, rk, err, partitions);
  if (r != KAT_OK && group != NULL) {
    kat_group_glue_failure(group);
  }
  return r;
}

/**
 * Handles one rebalance of consumer `rk` and records it in `group`: for
 * applications that have their own rebalance callback (and their own
 * opaque). Call it from inside that callback with the arguments librdkafka
 * passed; it makes the one assign call librdkafka requires (see the table at
 * the top of this file), so the callback must not make one itself.
 *
 * Ownership: borrows everything; `partitions` stays librdkafka's and is only
 * read during the call. `group` is one consumer membership, usually
 * `kat_tracker_group(kat_tracker_global(), "<group.id>/<client>", &group)`,
 * kept for the consumer's whole life.
 *
 * Returns KAT_OK, or:
 *  - KAT_ERR_NULL_POINTER: `rk` is NULL, or `partitions` is NULL for an
 *    assign or revoke (no assign call was made, nothing recorded); or
 *    `group` is NULL (the assign call was made, nothing recorded);
 *  - KAT_ERR_RDKAFKA: librdkafka refused the assign call; nothing recorded,
 *    the last error detail has librdkafka's text;
 *  - any error of the record step (e.g. KAT_ERR_INVALID_TOPIC), as is.
 *
 * Thread: the thread that serves the consumer's callbacks (the one that
 * polls it). Cost: one round trip to librdkafka's main thread for the
 * protocol, the assign call itself, and one kat event (the writers' lock,
 * one snapshot publish when something changed).
 */
static inline kat_result kat_rebalance(kat_group_t *group, rd_kafka_t *rk,
                                       rd_kafka_resp_err_t err,
                                       rd_kafka_topic_partition_list_t *partitions) {
  return kat_rdkafka_internal_rebalance("kat_rebalance", group, rk, err, partitions);
}

/**
 * A ready `rebalance_cb` whose opaque is the consumer's `kat_group_t *`:
 *
 *     rd_kafka_conf_set_rebalance_cb(conf, kat_rebalance_cb);
 *     rd_kafka_conf_set_opaque(conf, group);
 *
 * Does what kat_rebalance() does. If `opaque` is NULL the assign call is
 * still made (the consumer keeps working) and nothing is recorded. Failures
 * cannot be returned from a callback: they are left as the polling thread's
 * last error detail (kat_last_error_message()).
 *
 * Ownership: `group` must outlive the consumer (free it after
 * rd_kafka_destroy()). Thread and cost: as kat_rebalance().
 */
static inline void kat_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                    rd_kafka_topic_partition_list_t *partitions, void *opaque) {
  (void)kat_rdkafka_internal_rebalance("kat_rebalance_cb", (kat_group_t *)opaque, rk, err,
                                       partitions);
}

/**
 * Handles a rebalance delivered through the event API, for consumers set up
 * with `rd_kafka_conf_set_events(conf, RD_KAFKA_EVENT_REBALANCE)` and no
 * rebalance callback (as rust-rdkafka >= 0.36 and confluent-kafka-go do):
 * takes the error code and partition list from the event and does what
 * kat_rebalance() does.
 *
 * Ownership: borrows `ev`; the caller still destroys it
 * (rd_kafka_event_destroy()) after this returns.
 *
 * Returns as kat_rebalance(), plus KAT_ERR_NULL_POINTER for a NULL `ev` and
 * KAT_ERR_INVALID_ARGUMENT for an event that is not
 * RD_KAFKA_EVENT_REBALANCE (no assign call is made for either).
 *
 * Thread: the thread polling the queue the event came from. Cost: as
 * kat_rebalance().
 */
static inline kat_result kat_rebalance_event(kat_group_t *group, rd_kafka_t *rk,
                                             rd_kafka_event_t *ev) {
  if (ev == NULL) {
    kat_set_last_error_message("kat_rebalance_event", "ev is NULL: no assign call was made");
    return KAT_ERR_NULL_POINTER;
  }
  if (rd_kafka_event_type(ev) != RD_KAFKA_EVENT_REBALANCE) {
    kat_rdkafka_internal_error("kat_rebalance_event",
                               "not a RD_KAFKA_EVENT_REBALANCE event, no assign call was made",
                               rd_kafka_event_name(ev));
    return KAT_ERR_INVALID_ARGUMENT;
  }
  return kat_rdkafka_internal_rebalance("kat_rebalance_event", group, rk, rd_kafka_event_error(ev),
                                        rd_kafka_event_topic_partition_list(ev));
}

/**
 * Arms kat's poll deadline for `group` from consumer `rk`'s own
 * `max.poll.interval.ms` (read with rd_kafka_conf_get() on rd_kafka_conf()),
 * minus `margin_ms`: if the application does not poll for that long, kat's
 * timer thread marks the group's partitions lost, with no call from the
 * stuck thread (see kat_group_set_poll_deadline() in kat.h). Polls are
 * marked by kat_check_lost(), which the poll loop must then call after every
 * poll, and by the rebalance functions here.
 *
 * Call it once after creating the consumer. Keep the poll timeout well below
 * the deadline: a poll that blocks longer than it (waiting for messages that
 * do not come) looks like a stuck loop to kat, although librdkafka counts a
 * blocking poll as polling.
 *
 * Returns KAT_OK, KAT_ERR_NULL_POINTER, KAT_ERR_RDKAFKA if the setting
 * cannot be read, or KAT_ERR_INVALID_ARGUMENT if `margin_ms` is not below
 * it (nothing armed then). Thread: any. Cost: one configuration lookup.
 */
static inline kat_result kat_rdkafka_set_poll_deadline(kat_group_t *group, rd_kafka_t *rk,
                                                       uint64_t margin_ms) {
  char value[32];
  size_t size = sizeof value;
  char *end = NULL;
  unsigned long long interval_ms;
  if (group == NULL || rk == NULL) {
    kat_set_last_error_message("kat_rdkafka_set_poll_deadline",
                               group == NULL ? "group is NULL" : "rk is NULL");
    return KAT_ERR_NULL_POINTER;
  }
  if (rd_kafka_conf_get(rd_kafka_conf(rk), "max.poll.interval.ms", value, &size) !=
      RD_KAFKA_CONF_OK) {
    kat_set_last_error_message("kat_rdkafka_set_poll_deadline",
                               "rd_kafka_conf_get(max.poll.interval.ms) failed");
    return KAT_ERR_RDKAFKA;
  }
  interval_ms = strtoull(value, &end, 10);
  if (end == value || interval_ms == 0) {
    kat_rdkafka_internal_error("kat_rdkafka_set_poll_deadline",
                               "max.poll.interval.ms is not a positive number", value);
    return KAT_ERR_RDKAFKA;
  }
  return kat_group_set_poll_deadline(group, (uint64_t)interval_ms, margin_ms);
}

/**
 * Records a loss as soon as librdkafka knows of it, before the revoke
 * reaches the rebalance callback: if rd_kafka_assignment_lost(rk) is true
 * (session timed out, fenced, max.poll.interval.ms exceeded, ...), every
 * partition of `group` stops being assigned, with status lost. Call it in
 * the poll loop, e.g. after each poll, so that readers stop trusting their
 * partitions without waiting for the next rebalance to be served.
 *
 * Cheap when nothing is lost: rd_kafka_assignment_lost() is one atomic load
 * and nothing else happens (no lock, no kat call). While the loss is
 * pending, each call takes kat's writers' lock and changes nothing after
 * the first. The flag clears at the next assign call, which the rebalance
 * glue makes.
 *
 * It is also the poll mark of kat's poll deadline
 * (kat_rdkafka_set_poll_deadline()): call it after every poll, on the
 * polling thread, when a deadline is armed. The mark costs one monotonic
 * clock read and two atomic operations more.
 *
 * Returns KAT_OK, KAT_ERR_NULL_POINTER for a NULL `group` or `rk`, or the
 * error of kat_group_lost(). Thread: any thread that may use `rk`, usually
 * the polling one.
 */
static inline kat_result kat_check_lost(kat_group_t *group, rd_kafka_t *rk) {
  if (group == NULL || rk == NULL) {
    kat_set_last_error_message("kat_check_lost", group == NULL ? "group is NULL" : "rk is NULL");
    return KAT_ERR_NULL_POINTER;
  }
  (void)kat_group_mark_poll(group);
  if (KAT_RDKAFKA_HAVE_GENERATION_ID && kat_group_broker_refresh_due(group)) {
    kat_rdkafka_record_broker_generation(group, rk);
  }
  if (rd_kafka_assignment_lost(rk)) {
    kat_result r = kat_group_lost(group);
    if (r != KAT_OK) {
      kat_group_glue_failure(group);
    }
    return r;
  }
  return KAT_OK;
}

/**
 * The commit guard: removes from `offsets` (an offsets list about to be
 * committed with rd_kafka_commit() or rd_kafka_commit_queue()) every entry
 * for a partition `group` does not own now, and writes how many it removed
 * to `*out_removed` (may be NULL). With a non-zero `broker_generation` (from
 * a fencing token taken when the work started), every entry is removed when
 * the group's broker generation is no longer that one. Entries are removed
 * with rd_kafka_topic_partition_list_del_by_idx(); the list stays the
 * caller's. An empty list after the guard means: commit nothing.
 *
 * Bad input changes nothing: KAT_ERR_NULL_POINTER for a NULL `group` or
 * `offsets`, and the error of the first element kat cannot read (NULL or
 * illegal topic, negative partition), before anything is removed.
 *
 * Thread: any (the list must not be used by another thread meanwhile).
 * Cost: one wait-free kat read per entry (two passes), plus librdkafka's
 * removal of each removed entry.
 */
static inline kat_result kat_rdkafka_commit_guard(const kat_group_t *group,
                                                  rd_kafka_topic_partition_list_t *offsets,
                                                  int32_t broker_generation, size_t *out_removed) {
  int i;
  size_t removed = 0;
  int32_t current = 0;
  bool assigned = false;
  if (group == NULL || offsets == NULL) {
    kat_set_last_error_message("kat_rdkafka_commit_guard",
                               group == NULL ? "group is NULL" : "offsets is NULL");
    return KAT_ERR_NULL_POINTER;
  }
  for (i = 0; i < offsets->cnt; i++) {
    kat_result r = kat_group_is_assigned(group, offsets->elems[i].topic,
                                         offsets->elems[i].partition, &assigned);
    if (r != KAT_OK) {
      return r;
    }
  }
  if (broker_generation != 0) {
    (void)kat_group_broker_generation(group, &current);
  }
  for (i = offsets->cnt - 1; i >= 0; i--) {
    assigned = false;
    (void)kat_group_is_assigned(group, offsets->elems[i].topic, offsets->elems[i].partition,
                                &assigned);
    if (!assigned || (broker_generation != 0 && current != broker_generation)) {
      rd_kafka_topic_partition_list_del_by_idx(offsets, i);
      removed++;
    }
  }
  if (out_removed != NULL) {
    *out_removed = removed;
  }
  return KAT_OK;
}

/**
 * Tells kat that consumer `rk` is closed, whichever way it was closed: if
 * kat still lists partitions for `group`, they were unassigned without
 * going through kat, and kat drops them with a `reset` (status lost: kat
 * saw no hand-over). After a close whose final revoke went through the glue
 * (a rebalance_cb consumer closed with rd_kafka_consumer_close(), or an
 * event-API consumer closed with kat_consumer_close_queue()) the group is
 * already empty and nothing changes.
 *
 * Needed for event-API consumers closed with plain rd_kafka_consumer_close():
 * librdkafka then serves the final revoke itself (no
 * RD_KAFKA_EVENT_REBALANCE reaches the application) and kat would otherwise
 * keep the partitions as assigned. The group's reset_events counter (group
 * stats, snapshot JSON) shows when that happened.
 *
 * Call it after rd_kafka_consumer_close() returned (or
 * rd_kafka_consumer_closed() became true) and before rd_kafka_destroy().
 *
 * Returns KAT_OK, KAT_ERR_NULL_POINTER for a NULL `group` or `rk`,
 * KAT_ERR_INVALID_ARGUMENT if the consumer is not closed yet (nothing is
 * recorded), or the error of kat_group_reset(). Thread: any. Cost: one
 * atomic load in librdkafka, one kat event when something was left.
 */
static inline kat_result kat_after_close(kat_group_t *group, rd_kafka_t *rk) {
  if (group == NULL || rk == NULL) {
    kat_set_last_error_message("kat_after_close", group == NULL ? "group is NULL" : "rk is NULL");
    return KAT_ERR_NULL_POINTER;
  }
  if (!rd_kafka_consumer_closed(rk)) {
    kat_set_last_error_message("kat_after_close",
                               "the consumer is not closed (rd_kafka_consumer_closed() is false): "
                               "nothing recorded");
    return KAT_ERR_INVALID_ARGUMENT;
  }
  return kat_group_reset(group);
}

/**
 * Closes an event-API consumer (rd_kafka_conf_set_events() with
 * RD_KAFKA_EVENT_REBALANCE) and keeps kat right: starts
 * rd_kafka_consumer_close_queue(rk, queue), serves `queue` until
 * rd_kafka_consumer_closed(rk), hands every RD_KAFKA_EVENT_REBALANCE to the
 * glue (as kat_rebalance_event() would: the final revoke is recorded as
 * `revoked`, or `lost` if librdkafka flagged the assignment lost) and
 * destroys every event it polls, rebalance or not; then calls
 * kat_after_close(). The consumer is closed when it returns, also on error;
 * rd_kafka_destroy() it as usual.
 *
 * `queue` is the queue the application polls for the consumer's events
 * (usually rd_kafka_queue_get_consumer(rk)); NULL means that queue. It stays
 * the caller's.
 *
 * Blocks the calling thread until librdkafka has closed the consumer, like
 * rd_kafka_consumer_close(). Call it on the thread that polled the
 * consumer, instead of rd_kafka_consumer_close().
 *
 * Returns KAT_OK; KAT_ERR_NULL_POINTER for a NULL `rk` (nothing done) or
 * `group` (the consumer is still closed, nothing recorded);
 * KAT_ERR_INVALID_ARGUMENT if `rk` has no consumer group queue;
 * KAT_ERR_RDKAFKA if librdkafka refused to start the close (nothing done)
 * or an assign call during it; or the first error of recording. The last
 * error detail says which.
 */
static inline kat_result kat_consumer_close_queue(kat_group_t *group, rd_kafka_t *rk,
                                                  rd_kafka_queue_t *queue) {
  rd_kafka_queue_t *own = NULL;
  rd_kafka_error_t *error;
  kat_result first = KAT_OK, r;
  char detail[512];

  if (rk == NULL) {
    kat_set_last_error_message("kat_consumer_close_queue", "rk is NULL: nothing done");
    return KAT_ERR_NULL_POINTER;
  }
  if (queue == NULL) {
    own = rd_kafka_queue_get_consumer(rk);
    if (own == NULL) {
      kat_set_last_error_message("kat_consumer_close_queue",
                                 "rk has no consumer group queue (not a group consumer)");
      return KAT_ERR_INVALID_ARGUMENT;
    }
    queue = own;
  }
  error = rd_kafka_consumer_close_queue(rk, queue);
  if (error != NULL) {
    kat_rdkafka_internal_error("kat_consumer_close_queue", "rd_kafka_consumer_close_queue failed",
                               rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    if (own != NULL) {
      rd_kafka_queue_destroy(own);
    }
    return KAT_ERR_RDKAFKA;
  }
  detail[0] = '\0';
  while (!rd_kafka_consumer_closed(rk)) {
    rd_kafka_event_t *ev = rd_kafka_queue_poll(queue, 100);
    if (ev == NULL) {
      continue;
    }
    if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE) {
      r = kat_rdkafka_internal_rebalance("kat_consumer_close_queue", group, rk,
                                         rd_kafka_event_error(ev),
                                         rd_kafka_event_topic_partition_list(ev));
      if (r != KAT_OK && first == KAT_OK) {
        first = r;
        kat_last_error_message(detail, sizeof detail);
      }
    }
    rd_kafka_event_destroy(ev);
  }
  if (own != NULL) {
    rd_kafka_queue_destroy(own);
  }
  if (group == NULL) {
    kat_set_last_error_message("kat_consumer_close_queue",
                               "group is NULL: the consumer was closed, nothing was recorded");
    return KAT_ERR_NULL_POINTER;
  }
  r = kat_after_close(group, rk);
  if (first != KAT_OK) {
    /* The first failure is the one reported, with its detail. */
    const char *prefix = "kat_consumer_close_queue: ";
    kat_set_last_error_message("kat_consumer_close_queue",
                               strncmp(detail, prefix, strlen(prefix)) == 0
                                   ? detail + strlen(prefix)
                                   : detail);
    return first;
  }
  return r;
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KAT_RDKAFKA_H */
