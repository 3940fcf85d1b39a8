/*
 * Real librdkafka consumers on librdkafka's mock cluster, fed to kat through
 * include/kat_rdkafka.h. Built by tests/glue.rs as C (c11, c99) and as C++
 * (c++17) against Debian's librdkafka and the one rdkafka-sys bundles.
 *
 *   consumers <scenario> <protocol> <api>
 *     scenario: join-leave  A joins, B joins, B closes, A closes
 *               lost-error  one consumer; the broker fails its heartbeat
 *                           (ILLEGAL_GENERATION, or FENCED_MEMBER_EPOCH for
 *                           KIP-848) so its assignment is lost; it rejoins
 *               lost-poll   one consumer stops polling past
 *                           max.poll.interval.ms; kat_check_lost() records
 *                           the loss before the revoke is served
 *               edge        NULL arguments, NULL group, non-rebalance
 *                           errors and a refused assign, on a consumer
 *                           outside any group
 *               close-queue one event-API consumer joins and is closed by
 *                           kat_consumer_close_queue(): its final revoke
 *                           is recorded as revoked
 *               close-plain one consumer joins and is closed by plain
 *                           rd_kafka_consumer_close(), then
 *                           kat_after_close(): with the event API kat
 *                           still listed the partitions and records a
 *                           reset; with a callback nothing was left
 *     protocol: range | cooperative-sticky | consumer (KIP-848)
 *     api:      cb (kat_rebalance_cb, opaque = group)
 *               own (kat_rebalance inside the program's own callback)
 *               event (kat_rebalance_event on the event API)
 *
 * Every consumer polls on its own thread. After every poll, kat's view of
 * that consumer's group must equal rd_kafka_assignment() (callbacks run
 * inside the poll, on that thread, so the consumer is quiescent there).
 * With own/event the program sees each rebalance, and after each one also
 * checks that view, the status of every listed partition, and that each
 * partition's generation equals the number of times the consumer was
 * assigned it. Prints PASS and exits 0 when every check held.
 */
#define _POSIX_C_SOURCE 200809L

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kat_rdkafka.h"
#include "kat_rdkafka.h" /* twice on purpose: the include guard holds */

#define TOPIC "orders"
#define NPART 4
#define MAXC 2

/* Mock cluster controls that exist in the librdkafka releases tested here
 * (2.12); older mocks (2.0) lack them and use slower defaults instead. */
#if RD_KAFKA_VERSION >= 0x020c0000
#define HAVE_MOCK_REBALANCE_DELAY 1
#define HAVE_KIP848 1
#else
#define HAVE_MOCK_REBALANCE_DELAY 0
#define HAVE_KIP848 0
#endif

enum api { API_CB, API_OWN, API_EVENT };
enum command { CMD_RUN, CMD_PAUSE, CMD_CHECK_LOST, CMD_CLOSE };

typedef struct consumer {
  char name[8]; /* client.id and kat group name */
  rd_kafka_t *rk;
  rd_kafka_queue_t *queue; /* event API only */
  kat_group_t *group;
  pthread_t thread;
  int check_lost; /* call kat_check_lost() after every poll */
  int closing;    /* in close: rd_kafka_assignment() may block, do not ask */

  pthread_mutex_t lock; /* guards the fields below against the main thread */
  enum command cmd;
  int paused;
  int closed;
  int assign_cbs;
  int revoke_cbs;
  int lost_cbs;
  int refused_events; /* non-rebalance events kat_rebalance_event() refused */
  int conflict_checked;

  /* Poll thread only (main reads them after pthread_join). */
  unsigned long assigned_times[NPART]; /* counted from the rebalances seen */
  int ever_assigned[NPART];
  int polls_checked;
} consumer;

static struct {
  const char *scenario;
  const char *protocol;
  enum api api;
  int cooperative;
  int kip848;
  int session_ms;
  rd_kafka_t *producer; /* owns the mock cluster */
  rd_kafka_mock_cluster_t *mc;
  const char *bootstraps;
  kat_tracker_t *tracker;
  pthread_mutex_t lock;
  int failures;
  struct timespec t0;
} g;

/* ---- reporting ---------------------------------------------------------- */

static double elapsed(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - g.t0.tv_sec) + (double)(now.tv_nsec - g.t0.tv_nsec) / 1e9;
}

static void say(const char *fmt, ...) {
  va_list ap;
  pthread_mutex_lock(&g.lock);
  printf("[%7.3f] ", elapsed());
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
  pthread_mutex_unlock(&g.lock);
}

static void fail(const char *fmt, ...) {
  va_list ap;
  pthread_mutex_lock(&g.lock);
  g.failures++;
  printf("[%7.3f] FAIL: ", elapsed());
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
  pthread_mutex_unlock(&g.lock);
}

static void die(const char *fmt, ...) {
  va_list ap;
  printf("[%7.3f] FATAL: ", elapsed());
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
  exit(1);
}

static void expect_ok(kat_result r, const char *what) {
  if (r != KAT_OK) {
    char detail[512];
    kat_last_error_message(detail, sizeof detail);
    fail("%s: %s (%s)", what, kat_result_message((unsigned)r), detail);
  }
}

static void sleep_ms(long ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&ts, NULL);
}

/* ---- partition sets ------------------------------------------------------ */

/* Partitions of TOPIC as a bitmask (NPART is small). */
typedef unsigned mask_t;

static int popcount(mask_t m) {
  int n = 0;
  for (; m != 0; m &= m - 1) {
    n++;
  }
  return n;
}

static void mask_str(mask_t m, char *buf, size_t cap) {
  size_t len = 0;
  int p;
  buf[len++] = '[';
  for (p = 0; p < NPART && len + 8 < cap; p++) {
    if (m & (1u << p)) {
      len += (size_t)snprintf(buf + len, cap - len, "%s%d", len > 1 ? "," : "", p);
    }
  }
  snprintf(buf + len, cap - len, "]");
}

static mask_t list_mask(const rd_kafka_topic_partition_list_t *list) {
  mask_t m = 0;
  int i;
  if (list == NULL) {
    return 0;
  }
  for (i = 0; i < list->cnt; i++) {
    const rd_kafka_topic_partition_t *e = &list->elems[i];
    if (strcmp(e->topic, TOPIC) != 0 || e->partition < 0 || e->partition >= NPART) {
      fail("unexpected partition %s [%d]", e->topic, (int)e->partition);
      continue;
    }
    m |= 1u << e->partition;
  }
  return m;
}

/* rd_kafka_assignment() as a mask; returns 0 and sets *err on failure. */
static mask_t rdkafka_mask(rd_kafka_t *rk, rd_kafka_resp_err_t *err) {
  rd_kafka_topic_partition_list_t *list = NULL;
  mask_t m;
  *err = rd_kafka_assignment(rk, &list);
  if (*err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return 0;
  }
  m = list_mask(list);
  rd_kafka_topic_partition_list_destroy(list);
  return m;
}

/* kat's current view of a group, from a snapshot. */
static mask_t kat_mask(const char *group) {
  kat_snapshot_t *snap = NULL;
  kat_topic_view_t view;
  mask_t m = 0;
  size_t i;
  kat_result r;
  expect_ok(kat_tracker_snapshot(g.tracker, &snap), "kat_tracker_snapshot");
  r = kat_snapshot_find_topic(snap, group, TOPIC, &view);
  if (r == KAT_OK) {
    for (i = 0; i < view.partition_count; i++) {
      int32_t p = view.partitions[i].partition;
      if (p < 0 || p >= NPART) {
        fail("kat lists partition %d of %s", (int)p, group);
      } else {
        m |= 1u << p;
      }
    }
  } else if (r != KAT_ERR_NOT_FOUND) {
    expect_ok(r, "kat_snapshot_find_topic");
  }
  kat_snapshot_free(snap);
  return m;
}

static kat_partition_state_t group_state(const kat_group_t *group, int32_t p) {
  kat_partition_handle_t *h = NULL;
  kat_partition_state_t st;
  memset(&st, 0, sizeof st);
  expect_ok(kat_group_partition(group, TOPIC, p, &h), "kat_group_partition");
  expect_ok(kat_partition_handle_state(h, &st), "kat_partition_handle_state");
  kat_partition_handle_free(h);
  return st;
}

static uint64_t kat_epoch(void) {
  uint64_t e = 0;
  expect_ok(kat_tracker_epoch(g.tracker, &e), "kat_tracker_epoch");
  return e;
}

static const char *status_name(kat_status s) {
  switch (s) {
  case KAT_STATUS_NONE:
    return "none";
  case KAT_STATUS_ASSIGNED:
    return "assigned";
  case KAT_STATUS_REVOKED:
    return "revoked";
  case KAT_STATUS_LOST:
    return "lost";
  }
  return "?";
}

/* ---- checks -------------------------------------------------------------- */

static int counts_known(void) { return g.api != API_CB; }

/* Each partition's generation equals the times this consumer was assigned it. */
static void check_generations(consumer *c, const char *when) {
  int32_t p;
  if (!counts_known()) {
    return;
  }
  for (p = 0; p < NPART; p++) {
    uint64_t gen = 0;
    expect_ok(kat_group_generation(c->group, TOPIC, p, &gen), "kat_group_generation");
    if (gen != c->assigned_times[p]) {
      fail("%s %s: partition %d has generation %llu, assigned %lu times", c->name, when, (int)p,
           (unsigned long long)gen, c->assigned_times[p]);
    }
  }
}

/* kat's view of the consumer's group equals rd_kafka_assignment(). Only where
 * the consumer is quiescent: on its poll thread, between polls or right after
 * the glue call. */
static void check_view(consumer *c, const char *when) {
  rd_kafka_resp_err_t err;
  mask_t have = rdkafka_mask(c->rk, &err);
  mask_t view = kat_mask(c->name);
  int p;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fail("%s %s: rd_kafka_assignment: %s", c->name, when, rd_kafka_err2str(err));
    return;
  }
  if (view != have) {
    /* kat_check_lost() may have recorded a loss whose revoke is still
     * queued; only our thread can clear the flag, so it is stable here. */
    if (!(c->check_lost && view == 0 && rd_kafka_assignment_lost(c->rk))) {
      char a[64], b[64];
      mask_str(view, a, sizeof a);
      mask_str(have, b, sizeof b);
      fail("%s %s: kat has %s, rd_kafka_assignment() has %s", c->name, when, a, b);
    }
  }
  for (p = 0; p < NPART; p++) {
    if (have & (1u << p)) {
      c->ever_assigned[p] = 1;
    }
  }
}

/* A second incremental assign of the partitions just assigned is refused by
 * librdkafka: the glue must report it and record nothing. */
static void check_refused_assign(consumer *c, rd_kafka_topic_partition_list_t *partitions) {
  uint64_t before = kat_epoch();
  char detail[512];
  kat_group_stats_t s0, s1;
  kat_result r;
  expect_ok(kat_group_stats(c->group, &s0), "kat_group_stats");
  r = kat_rebalance(c->group, c->rk, RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, partitions);
  detail[0] = '\0';
  kat_last_error_message(detail, sizeof detail);
  expect_ok(kat_group_stats(c->group, &s1), "kat_group_stats");
  if (s1.glue_failures != s0.glue_failures + 1) {
    fail("%s: the refused assign was not counted as a glue failure (%llu -> %llu)", c->name,
         (unsigned long long)s0.glue_failures, (unsigned long long)s1.glue_failures);
  }
  if (r != KAT_ERR_RDKAFKA) {
    fail("%s: assigning owned partitions again returned %s", c->name,
         kat_result_message((unsigned)r));
  }
  if (kat_epoch() != before) {
    fail("%s: a refused assign changed the tracker", c->name);
  }
  if (strstr(detail, "kat_rebalance") == NULL || strstr(detail, "incremental_assign") == NULL) {
    fail("%s: refused assign left the detail \"%s\"", c->name, detail);
  }
  say("%s refused assign: %s", c->name, detail);
  pthread_mutex_lock(&c->lock);
  c->conflict_checked = 1;
  pthread_mutex_unlock(&c->lock);
}

/* One rebalance seen by the program (own callback or event API). */
static void on_rebalance(consumer *c, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *partitions, rd_kafka_event_t *ev) {
  int lost = rd_kafka_assignment_lost(c->rk);
  mask_t listed = list_mask(partitions);
  kat_result r;
  char list[64];
  int32_t p;

  r = ev != NULL ? kat_rebalance_event(c->group, c->rk, ev)
                 : kat_rebalance(c->group, c->rk, err, partitions);
  expect_ok(r, ev != NULL ? "kat_rebalance_event" : "kat_rebalance");
  mask_str(listed, list, sizeof list);
  say("%s %s %s%s", c->name, rd_kafka_err2name(err), list, lost ? " (lost)" : "");

  pthread_mutex_lock(&c->lock);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    c->assign_cbs++;
  } else {
    c->revoke_cbs++;
    if (lost) {
      c->lost_cbs++;
    }
  }
  pthread_mutex_unlock(&c->lock);

  for (p = 0; p < NPART; p++) {
    if (!(listed & (1u << p))) {
      continue;
    }
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      c->assigned_times[p]++;
    }
  }
  if (!c->closing) {
    check_view(c, "after rebalance");
  }
  check_generations(c, "after rebalance");
  for (p = 0; p < NPART; p++) {
    kat_status want;
    kat_partition_state_t st;
    if (!(listed & (1u << p))) {
      continue;
    }
    want = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? KAT_STATUS_ASSIGNED
           : lost                                     ? KAT_STATUS_LOST
                                                      : KAT_STATUS_REVOKED;
    st = group_state(c->group, p);
    if (st.status != want || st.assigned != (want == KAT_STATUS_ASSIGNED)) {
      fail("%s: partition %d is %s after %s, want %s", c->name, (int)p, status_name(st.status),
           rd_kafka_err2name(err), status_name(want));
    }
  }

  if (g.api == API_OWN && g.cooperative && err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS &&
      listed != 0 && !c->conflict_checked) {
    check_refused_assign(c, partitions);
  }
}

/* The program's own rebalance callback; its opaque is the consumer. */
static void own_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t *partitions, void *opaque) {
  consumer *c = (consumer *)opaque;
  if (c->rk != rk) {
    fail("%s: callback for another handle", c->name);
  }
  on_rebalance(c, err, partitions, NULL);
}

/* kat_rebalance_event() refuses any other event and makes no assign call. */
static void check_refused_event(consumer *c, rd_kafka_event_t *ev) {
  uint64_t before = kat_epoch();
  rd_kafka_resp_err_t err1, err2;
  mask_t a1 = rdkafka_mask(c->rk, &err1);
  kat_result r = kat_rebalance_event(c->group, c->rk, ev);
  mask_t a2 = rdkafka_mask(c->rk, &err2);
  if (r != KAT_ERR_INVALID_ARGUMENT) {
    fail("%s: kat_rebalance_event on %s returned %s", c->name, rd_kafka_event_name(ev),
         kat_result_message((unsigned)r));
  }
  if (kat_epoch() != before || a1 != a2 || err1 != err2) {
    fail("%s: refused event %s changed an assignment", c->name, rd_kafka_event_name(ev));
  }
  pthread_mutex_lock(&c->lock);
  c->refused_events++;
  pthread_mutex_unlock(&c->lock);
}

/* ---- consumers ----------------------------------------------------------- */

static void conf_set(rd_kafka_conf_t *conf, const char *key, const char *value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, key, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    die("%s=%s: %s", key, value, errstr);
  }
}

static void conf_set_int(rd_kafka_conf_t *conf, const char *key, int value) {
  char buf[32];
  snprintf(buf, sizeof buf, "%d", value);
  conf_set(conf, key, buf);
}

static void consumer_init(consumer *c, const char *name, int max_poll_ms) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_topic_partition_list_t *topics;
  char errstr[512];
  rd_kafka_resp_err_t err;

  memset(c, 0, sizeof *c);
  snprintf(c->name, sizeof c->name, "%s", name);
  pthread_mutex_init(&c->lock, NULL);
  expect_ok(kat_tracker_group(g.tracker, c->name, &c->group), "kat_tracker_group");

  conf_set(conf, "bootstrap.servers", g.bootstraps);
  conf_set(conf, "group.id", "kat-glue");
  conf_set(conf, "client.id", c->name);
  conf_set(conf, "enable.auto.commit", "false");
  conf_set(conf, "auto.offset.reset", "earliest");
  conf_set(conf, "reconnect.backoff.ms", "10");
  conf_set(conf, "reconnect.backoff.max.ms", "100");
  if (g.kip848) {
    /* KIP-848: the broker owns the timing; classic settings are refused. */
    conf_set(conf, "group.protocol", "consumer");
  } else {
    conf_set(conf, "partition.assignment.strategy", g.protocol);
    conf_set_int(conf, "session.timeout.ms", g.session_ms);
    conf_set(conf, "heartbeat.interval.ms", "100");
  }
  if (max_poll_ms > 0) {
    conf_set_int(conf, "max.poll.interval.ms", max_poll_ms);
  }

  switch (g.api) {
  case API_CB:
    rd_kafka_conf_set_rebalance_cb(conf, kat_rebalance_cb);
    rd_kafka_conf_set_opaque(conf, c->group);
    break;
  case API_OWN:
    rd_kafka_conf_set_rebalance_cb(conf, own_rebalance_cb);
    rd_kafka_conf_set_opaque(conf, c);
    break;
  case API_EVENT:
    rd_kafka_conf_set_events(conf, RD_KAFKA_EVENT_REBALANCE | RD_KAFKA_EVENT_FETCH);
    break;
  }

  c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (c->rk == NULL) {
    die("rd_kafka_new %s: %s", name, errstr);
  }
  rd_kafka_poll_set_consumer(c->rk);
  if (g.api == API_EVENT) {
    c->queue = rd_kafka_queue_get_consumer(c->rk);
  }
  topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, TOPIC, RD_KAFKA_PARTITION_UA);
  err = rd_kafka_subscribe(c->rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    die("subscribe %s: %s", name, rd_kafka_err2str(err));
  }
}

static enum command get_cmd(consumer *c) {
  enum command cmd;
  pthread_mutex_lock(&c->lock);
  cmd = c->cmd;
  c->paused = cmd == CMD_PAUSE;
  pthread_mutex_unlock(&c->lock);
  return cmd;
}

/* The command as the main thread sees it (the poll thread resets
 * CMD_CHECK_LOST to CMD_RUN once done). */
static enum command get_cmd_locked(consumer *c) {
  enum command cmd;
  pthread_mutex_lock(&c->lock);
  cmd = c->cmd;
  pthread_mutex_unlock(&c->lock);
  return cmd;
}

static void set_cmd(consumer *c, enum command cmd) {
  pthread_mutex_lock(&c->lock);
  c->cmd = cmd;
  pthread_mutex_unlock(&c->lock);
}

static void poll_once(consumer *c) {
  if (g.api == API_EVENT) {
    rd_kafka_event_t *ev = rd_kafka_queue_poll(c->queue, 50);
    if (ev == NULL) {
      return;
    }
    if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE) {
      on_rebalance(c, rd_kafka_event_error(ev), rd_kafka_event_topic_partition_list(ev), ev);
    } else if (c->refused_events < 3) {
      check_refused_event(c, ev);
    }
    rd_kafka_event_destroy(ev);
  } else {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 50);
    if (m != NULL) {
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        say("%s consumer error %s", c->name, rd_kafka_err2name(m->err));
      }
      rd_kafka_message_destroy(m);
    }
  }
}

/* kat_check_lost() while the revoke is still queued: kat drops the
 * partitions at once, with status lost, although librdkafka still lists them. */
static void check_lost_now(consumer *c) {
  rd_kafka_resp_err_t err;
  mask_t before = kat_mask(c->name);
  mask_t have = rdkafka_mask(c->rk, &err);
  int32_t p;
  expect_ok(kat_check_lost(c->group, c->rk), "kat_check_lost");
  if (kat_mask(c->name) != 0) {
    fail("%s: kat_check_lost left partitions assigned", c->name);
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR || have == 0 || have != before) {
    fail("%s: before the revoke, rd_kafka_assignment() should still list the lost partitions",
         c->name);
  }
  for (p = 0; p < NPART; p++) {
    if (before & (1u << p)) {
      kat_partition_state_t st = group_state(c->group, p);
      if (st.status != KAT_STATUS_LOST || st.assigned) {
        fail("%s: partition %d is %s after kat_check_lost", c->name, (int)p,
             status_name(st.status));
      }
    }
  }
  say("%s kat_check_lost recorded the loss of %d partition(s) before the revoke", c->name,
      popcount(before));
}

/* close-queue: kat_consumer_close_queue() serves the final revoke events
 * (with the consumer's queue, or NULL for it when cooperative). */
static void close_through_kat(consumer *c) {
  kat_group_stats_t stats;
  kat_result r = kat_consumer_close_queue(c->group, c->rk, g.cooperative ? NULL : c->queue);
  expect_ok(r, "kat_consumer_close_queue");
  if (!rd_kafka_consumer_closed(c->rk)) {
    fail("%s: kat_consumer_close_queue returned before the consumer was closed", c->name);
  }
  expect_ok(kat_group_stats(c->group, &stats), "kat_group_stats");
  if (stats.reset_events != 0 || stats.revoked_events == 0) {
    fail("%s: the final revoke must be recorded as revoked (revoked %llu, reset %llu)", c->name,
         (unsigned long long)stats.revoked_events, (unsigned long long)stats.reset_events);
  }
  say("%s closed through kat_consumer_close_queue", c->name);
}

/* close-plain: rd_kafka_consumer_close() whatever the api, then
 * kat_after_close(). An event-API consumer's final revoke never reaches the
 * application: kat still lists the partitions until kat_after_close()
 * records a reset; a callback consumer's went through the glue and
 * kat_after_close() changes nothing. */
static void close_plain(consumer *c) {
  uint64_t e0 = kat_epoch();
  mask_t held = kat_mask(c->name), stale;
  kat_group_stats_t before, after;
  char detail[512], list[64];
  rd_kafka_resp_err_t err;
  kat_result r = kat_after_close(c->group, c->rk);
  kat_last_error_message(detail, sizeof detail);
  if (r != KAT_ERR_INVALID_ARGUMENT || strstr(detail, "not closed") == NULL ||
      kat_epoch() != e0) {
    fail("%s: kat_after_close before the close: %s / %s", c->name,
         kat_result_message((unsigned)r), detail);
  }
  if (held == 0) {
    fail("%s: nothing assigned before the close", c->name);
  }
  err = rd_kafka_consumer_close(c->rk);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fail("%s: rd_kafka_consumer_close: %s", c->name, rd_kafka_err2str(err));
  }
  stale = kat_mask(c->name);
  mask_str(stale, list, sizeof list);
  say("%s after rd_kafka_consumer_close: kat lists %s", c->name, list);
  if (g.api == API_EVENT ? stale != held : stale != 0) {
    fail("%s: after a plain close kat lists %s", c->name, list);
  }
  expect_ok(kat_group_stats(c->group, &before), "kat_group_stats");
  e0 = kat_epoch();
  expect_ok(kat_after_close(c->group, c->rk), "kat_after_close");
  expect_ok(kat_group_stats(c->group, &after), "kat_group_stats");
  if (kat_mask(c->name) != 0) {
    fail("%s: kat_after_close left partitions assigned", c->name);
  }
  if (stale != 0 ? (after.reset_events != before.reset_events + 1 || kat_epoch() != e0 + 1)
                 : (after.reset_events != before.reset_events || kat_epoch() != e0)) {
    fail("%s: kat_after_close: reset events %llu -> %llu, epoch %llu -> %llu", c->name,
         (unsigned long long)before.reset_events, (unsigned long long)after.reset_events,
         (unsigned long long)e0, (unsigned long long)kat_epoch());
  }
  if (stale != 0) {
    say("%s kat_after_close recorded the stale partitions %s as reset", c->name, list);
  } else {
    say("%s kat_after_close found nothing stale", c->name);
  }
}

static void close_consumer(consumer *c) {
  double deadline;
  int32_t p;
  kat_status want = KAT_STATUS_REVOKED;
  c->closing = 1;
  if (strcmp(g.scenario, "close-queue") == 0) {
    close_through_kat(c);
  } else if (strcmp(g.scenario, "close-plain") == 0) {
    close_plain(c);
    if (g.api == API_EVENT) {
      want = KAT_STATUS_LOST; /* recorded by kat_after_close() as a reset */
    }
  } else if (g.api == API_EVENT) {
    rd_kafka_error_t *error = rd_kafka_consumer_close_queue(c->rk, c->queue);
    if (error != NULL) {
      fail("%s: rd_kafka_consumer_close_queue: %s", c->name, rd_kafka_error_string(error));
      rd_kafka_error_destroy(error);
    }
    deadline = elapsed() + 20.0;
    while (!rd_kafka_consumer_closed(c->rk)) {
      rd_kafka_event_t *ev = rd_kafka_queue_poll(c->queue, 50);
      if (ev != NULL) {
        if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE) {
          on_rebalance(c, rd_kafka_event_error(ev), rd_kafka_event_topic_partition_list(ev), ev);
        }
        rd_kafka_event_destroy(ev);
      }
      if (elapsed() > deadline) {
        die("%s: close did not finish", c->name);
      }
    }
  } else {
    rd_kafka_resp_err_t err = rd_kafka_consumer_close(c->rk);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      fail("%s: rd_kafka_consumer_close: %s", c->name, rd_kafka_err2str(err));
    }
  }

  /* The final revoke went through the glue: nothing left, all revoked (or
   * lost, for a stale assignment kat_after_close() reset). */
  if (kat_mask(c->name) != 0) {
    fail("%s: kat still lists partitions after close", c->name);
  }
  for (p = 0; p < NPART; p++) {
    kat_partition_state_t st = group_state(c->group, p);
    if (c->ever_assigned[p] && st.status != want) {
      fail("%s: partition %d is %s after close, want %s", c->name, (int)p,
           status_name(st.status), status_name(want));
    }
    if (c->ever_assigned[p] && st.generation == 0) {
      fail("%s: partition %d was assigned but has generation 0", c->name, (int)p);
    }
  }
  check_generations(c, "after close");
  if (c->queue != NULL) {
    rd_kafka_queue_destroy(c->queue);
  }
  rd_kafka_destroy(c->rk);
}

static void *poll_thread(void *arg) {
  consumer *c = (consumer *)arg;
  for (;;) {
    enum command cmd = get_cmd(c);
    if (cmd == CMD_CLOSE) {
      break;
    }
    if (cmd == CMD_PAUSE) {
      sleep_ms(10);
      continue;
    }
    if (cmd == CMD_CHECK_LOST) {
      check_lost_now(c);
      set_cmd(c, CMD_RUN);
      continue;
    }
    poll_once(c);
    if (c->check_lost) {
      expect_ok(kat_check_lost(c->group, c->rk), "kat_check_lost");
    }
    check_view(c, "after poll");
    check_generations(c, "after poll");
    c->polls_checked++;
  }
  close_consumer(c);
  pthread_mutex_lock(&c->lock);
  c->closed = 1;
  pthread_mutex_unlock(&c->lock);
  return NULL;
}

static void consumer_start(consumer *c) {
  if (pthread_create(&c->thread, NULL, poll_thread, c) != 0) {
    die("pthread_create");
  }
}

static void consumer_stop(consumer *c) {
  int p;
  unsigned long times = 0;
  kat_group_stats_t stats;
  set_cmd(c, CMD_CLOSE);
  pthread_join(c->thread, NULL);
  for (p = 0; p < NPART; p++) {
    times += c->assigned_times[p];
  }
  expect_ok(kat_group_stats(c->group, &stats), "kat_group_stats");
  say("summary %s assigns=%d revokes=%d lost=%d refused_events=%d partition_assignments=%lu "
      "kat_assigned_events=%llu kat_revoked_events=%llu kat_lost_events=%llu glue_failures=%llu "
      "polls_checked=%d",
      c->name, c->assign_cbs, c->revoke_cbs, c->lost_cbs, c->refused_events, times,
      (unsigned long long)stats.assigned_events, (unsigned long long)stats.revoked_events,
      (unsigned long long)stats.lost_events, (unsigned long long)stats.glue_failures,
      c->polls_checked);
  kat_group_free(c->group);
  pthread_mutex_destroy(&c->lock);
}

/* ---- waiting for the group ----------------------------------------------- */

/* Stable: the live consumers' assignments partition the topic, none is empty
 * (NPART >= consumers), and kat agrees with each. Mock rounds sometimes
 * repeat, so this waits for a state instead of counting callbacks. */
static int is_stable(consumer **cs, int n, char *desc, size_t cap) {
  mask_t all = 0;
  int i, ok = 1;
  size_t len = 0;
  desc[0] = '\0';
  for (i = 0; i < n; i++) {
    rd_kafka_resp_err_t err;
    mask_t have = rdkafka_mask(cs[i]->rk, &err);
    mask_t view = kat_mask(cs[i]->name);
    char a[64], b[64];
    mask_str(have, a, sizeof a);
    mask_str(view, b, sizeof b);
    len += (size_t)snprintf(desc + len, len < cap ? cap - len : 0, "%s%s=%s kat=%s", i ? " " : "",
                            cs[i]->name, a, b);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR || have == 0 || (have & all) != 0 || view != have) {
      ok = 0;
    }
    all |= have;
  }
  return ok && all == (1u << NPART) - 1;
}

static void wait_stable(consumer **cs, int n, const char *what) {
  double start = elapsed();
  char desc[256];
  while (!is_stable(cs, n, desc, sizeof desc)) {
    if (elapsed() - start > 30.0) {
      die("%s: no stable assignment after 30 s: %s", what, desc);
    }
    sleep_ms(20);
  }
  say("stable %s: %s (%.2f s)", what, desc, elapsed() - start);
}

/* Waits until the poll thread has counted at least one of `*field`. */
static void wait_counted(consumer *c, const int *field, const char *what) {
  double start = elapsed();
  for (;;) {
    int n;
    pthread_mutex_lock(&c->lock);
    n = *field;
    pthread_mutex_unlock(&c->lock);
    if (n > 0) {
      return;
    }
    if (elapsed() - start > 20.0) {
      die("%s: no %s after 20 s", c->name, what);
    }
    sleep_ms(10);
  }
}

/* ---- mock cluster -------------------------------------------------------- */

static void mock_start(void) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  char errstr[512];
  rd_kafka_topic_t *topic;
  int p;
  conf_set(conf, "test.mock.num.brokers", "1");
  g.producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (g.producer == NULL) {
    die("mock producer: %s", errstr);
  }
  g.mc = rd_kafka_handle_mock_cluster(g.producer);
  if (g.mc == NULL) {
    die("no mock cluster");
  }
  g.bootstraps = rd_kafka_mock_cluster_bootstraps(g.mc);
  if (rd_kafka_mock_topic_create(g.mc, TOPIC, NPART, 1) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    die("mock topic");
  }
#if HAVE_MOCK_REBALANCE_DELAY
  rd_kafka_mock_group_initial_rebalance_delay_ms(g.mc, 0);
#endif
#if HAVE_KIP848
  rd_kafka_mock_set_group_consumer_heartbeat_interval_ms(g.mc, 100);
  rd_kafka_mock_set_group_consumer_session_timeout_ms(g.mc, 1500);
#endif
  /* A message per partition, so that consumers fetch (event API: FETCH
   * events that kat_rebalance_event() must refuse). */
  topic = rd_kafka_topic_new(g.producer, TOPIC, NULL);
  for (p = 0; p < NPART; p++) {
    char payload[16];
    int len = snprintf(payload, sizeof payload, "m%d", p);
    if (rd_kafka_produce(topic, p, RD_KAFKA_MSG_F_COPY, payload, (size_t)len, NULL, 0, NULL) !=
        0) {
      die("produce: %s", rd_kafka_err2str(rd_kafka_last_error()));
    }
  }
  if (rd_kafka_flush(g.producer, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    die("flush");
  }
  rd_kafka_topic_destroy(topic);
}

static void mock_stop(void) { rd_kafka_destroy(g.producer); }

/* ---- scenarios ----------------------------------------------------------- */

static void scenario_join_leave(void) {
  consumer a, b;
  consumer *both[2];
  both[0] = &a;
  both[1] = &b;
  consumer_init(&a, "A", 0);
  a.check_lost = 1;
  consumer_start(&a);
  wait_stable(both, 1, "after A joined");
  if (g.api == API_EVENT) {
    /* A fetches the messages mock_start() produced: FETCH events. */
    wait_counted(&a, &a.refused_events, "non-rebalance event");
  }
  consumer_init(&b, "B", 0);
  b.check_lost = 1;
  consumer_start(&b);
  wait_stable(both, 2, "after B joined");
  consumer_stop(&b);
  wait_stable(both, 1, "after B left");
  consumer_stop(&a);
  if (counts_known()) {
    if (a.assign_cbs < 2 || a.revoke_cbs < 2 || b.assign_cbs < 1 || b.revoke_cbs < 1) {
      fail("expected A to be assigned and revoked at least twice, B once");
    }
    if (g.api == API_OWN && g.cooperative && !(a.conflict_checked && b.conflict_checked)) {
      fail("the refused assign was not exercised");
    }
  }
}

static void scenario_lost_error(void) {
  consumer a;
  consumer *one[1];
  rd_kafka_resp_err_t errs[1];
  int16_t api_key;
  one[0] = &a;
  consumer_init(&a, "A", 0);
  a.check_lost = 0; /* the loss must be recorded by the rebalance glue */
  consumer_start(&a);
  wait_stable(one, 1, "after A joined");
  errs[0] = RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION;
  api_key = 12; /* Heartbeat */
#if HAVE_KIP848
  if (g.kip848) {
    errs[0] = RD_KAFKA_RESP_ERR_FENCED_MEMBER_EPOCH;
    api_key = 68; /* ConsumerGroupHeartbeat */
  }
#endif
  rd_kafka_mock_push_request_errors_array(g.mc, api_key, 1, errs);
  say("pushed %s on the next request with API key %d", rd_kafka_err2name(errs[0]), (int)api_key);
  wait_counted(&a, &a.lost_cbs, "lost revoke");
  wait_stable(one, 1, "after A rejoined");
  consumer_stop(&a);
}

static void scenario_lost_poll(void) {
  consumer a;
  consumer *one[1];
  double start;
  int paused = 0;
  one[0] = &a;
  consumer_init(&a, "A", g.session_ms);
  a.check_lost = 1;
  consumer_start(&a);
  wait_stable(one, 1, "after A joined");
  set_cmd(&a, CMD_PAUSE);
  while (!paused) {
    pthread_mutex_lock(&a.lock);
    paused = a.paused;
    pthread_mutex_unlock(&a.lock);
    sleep_ms(5);
  }
  say("A stopped polling");
  start = elapsed();
  /* rd_kafka_assignment_lost() is safe from any thread. */
  while (!rd_kafka_assignment_lost(a.rk)) {
    if (elapsed() - start > 20.0) {
      die("A: assignment not lost 20 s after it stopped polling");
    }
    sleep_ms(10);
  }
  say("A: librdkafka marked the assignment lost");
  set_cmd(&a, CMD_CHECK_LOST);
  while (get_cmd_locked(&a) == CMD_CHECK_LOST) {
    sleep_ms(5);
  }
  if (counts_known()) {
    wait_counted(&a, &a.lost_cbs, "lost revoke");
  }
  wait_stable(one, 1, "after A rejoined");
  consumer_stop(&a);
}

/* close-queue / close-plain: one consumer joins, then closes (see
 * close_consumer()); the checks are made on its poll thread as it closes. */
static void scenario_close(void) {
  consumer a;
  consumer *one[1];
  one[0] = &a;
  consumer_init(&a, "A", 0);
  a.check_lost = 1;
  consumer_start(&a);
  wait_stable(one, 1, "after A joined");
  consumer_stop(&a);
}

/* The glue on a consumer outside any group: rd_kafka_assign() works without
 * a subscription, so every branch can be driven directly. */
static void scenario_edge(void) {
  kat_group_stats_t stats;
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(2);
  rd_kafka_resp_err_t err;
  kat_group_t *group = NULL;
  rd_kafka_t *rk;
  char errstr[512], detail[512];
  uint64_t e0;
  int32_t p;
  kat_result r;

  conf_set(conf, "bootstrap.servers", g.bootstraps);
  conf_set(conf, "group.id", "kat-glue-edge");
  rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (rk == NULL) {
    die("rd_kafka_new: %s", errstr);
  }
  expect_ok(kat_tracker_group(g.tracker, "E", &group), "kat_tracker_group");
  rd_kafka_topic_partition_list_add(list, TOPIC, 0);
  rd_kafka_topic_partition_list_add(list, TOPIC, 2);
  e0 = kat_epoch();

  /* NULL arguments: no crash, a clear result and detail, nothing done. */
  r = kat_rebalance(group, NULL, RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, list);
  kat_last_error_message(detail, sizeof detail);
  if (r != KAT_ERR_NULL_POINTER || strstr(detail, "rk is NULL") == NULL) {
    fail("kat_rebalance(rk=NULL): %s / %s", kat_result_message((unsigned)r), detail);
  }
  r = kat_rebalance(group, rk, RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, NULL);
  kat_last_error_message(detail, sizeof detail);
  if (r != KAT_ERR_NULL_POINTER || strstr(detail, "partitions is NULL") == NULL ||
      rdkafka_mask(rk, &err) != 0) {
    fail("kat_rebalance(partitions=NULL): %s / %s", kat_result_message((unsigned)r), detail);
  }
  r = kat_rebalance(group, rk, RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS, NULL);
  if (r != KAT_ERR_NULL_POINTER) {
    fail("kat_rebalance(revoke, partitions=NULL): %s", kat_result_message((unsigned)r));
  }
  r = kat_rebalance_event(group, rk, NULL);
  if (r != KAT_ERR_NULL_POINTER) {
    fail("kat_rebalance_event(ev=NULL): %s", kat_result_message((unsigned)r));
  }
  if (kat_check_lost(NULL, rk) != KAT_ERR_NULL_POINTER ||
      kat_check_lost(group, NULL) != KAT_ERR_NULL_POINTER) {
    fail("kat_check_lost with NULL arguments");
  }
  kat_rebalance_cb(NULL, RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, list, group);
  kat_rebalance_cb(rk, RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, NULL, group);
  if (kat_epoch() != e0) {
    fail("a call with NULL arguments changed the tracker");
  }
  /* Each failed rebalance with a group is counted in it, the two of the
   * ready callback included; without advancing the epoch. */
  expect_ok(kat_group_stats(group, &stats), "kat_group_stats");
  if (stats.glue_failures != 5) {
    fail("glue failures after five failed rebalances: %llu", (unsigned long long)stats.glue_failures);
  }

  /* NULL group: the assign call is still made, nothing is recorded. */
  kat_rebalance_cb(rk, RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, list, NULL);
  if (rdkafka_mask(rk, &err) != 0x5u || kat_epoch() != e0) {
    fail("kat_rebalance_cb(opaque=NULL) must assign and record nothing");
  }
  kat_rebalance_cb(rk, RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS, list, NULL);
  if (rdkafka_mask(rk, &err) != 0 || kat_epoch() != e0) {
    fail("kat_rebalance_cb(opaque=NULL) must unassign and record nothing");
  }
  r = kat_rebalance(NULL, rk, RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, list);
  if (r != KAT_ERR_NULL_POINTER || rdkafka_mask(rk, &err) != 0x5u || kat_epoch() != e0) {
    fail("kat_rebalance(group=NULL) must assign, record nothing and say so");
  }
  kat_rebalance_cb(rk, RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS, list, NULL);

  /* Outside a group the protocol is not COOPERATIVE: the eager branch. */
  kat_rebalance_cb(rk, RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, list, group);
  if (rdkafka_mask(rk, &err) != 0x5u || kat_mask("E") != 0x5u) {
    fail("kat_rebalance_cb(assign) did not assign and record {0,2}");
  }
  /* Any other error code: unassign everything and record a loss. */
  r = kat_rebalance(group, rk, RD_KAFKA_RESP_ERR__FATAL, list);
  expect_ok(r, "kat_rebalance(__FATAL)");
  if (rdkafka_mask(rk, &err) != 0 || kat_mask("E") != 0) {
    fail("kat_rebalance(__FATAL) did not unassign");
  }
  for (p = 0; p < NPART; p++) {
    uint64_t gen = 0;
    kat_partition_state_t st = group_state(group, p);
    expect_ok(kat_group_generation(group, TOPIC, p, &gen), "kat_group_generation");
    if ((p == 0 || p == 2) ? (st.status != KAT_STATUS_LOST || gen != 1)
                           : (st.status != KAT_STATUS_NONE || gen != 0)) {
      fail("partition %d after the error: %s at generation %llu", (int)p, status_name(st.status),
           (unsigned long long)gen);
    }
  }
  /* Eager revoke: orderly, recorded as revoked. */
  kat_rebalance_cb(rk, RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, list, group);
  kat_rebalance_cb(rk, RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS, list, group);
  if (rdkafka_mask(rk, &err) != 0 || kat_mask("E") != 0 ||
      group_state(group, 0).status != KAT_STATUS_REVOKED) {
    fail("eager revoke not recorded as revoked");
  }
  /* A clean loop: kat_check_lost() records nothing when nothing is lost. */
  e0 = kat_epoch();
  expect_ok(kat_check_lost(group, rk), "kat_check_lost");
  if (kat_epoch() != e0) {
    fail("kat_check_lost changed the tracker with nothing lost");
  }

  /* librdkafka refuses a list that names a partition twice: the failure is
   * reported with librdkafka's text and nothing is recorded. */
  rd_kafka_topic_partition_list_add(list, TOPIC, 2);
  e0 = kat_epoch();
  r = kat_rebalance(group, rk, RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, list);
  kat_last_error_message(detail, sizeof detail);
  say("assign of a duplicated partition: %s: %s", kat_result_message((unsigned)r), detail);
  if (r != KAT_ERR_RDKAFKA || strstr(detail, "kat_rebalance: rd_kafka_assign failed") == NULL ||
      kat_epoch() != e0 || rdkafka_mask(rk, &err) != 0) {
    fail("a refused rd_kafka_assign must give KAT_ERR_RDKAFKA and record nothing");
  }
  expect_ok(kat_group_stats(group, &stats), "kat_group_stats");
  if (stats.glue_failures != 6) {
    fail("the refused rd_kafka_assign was not counted: %llu glue failures",
         (unsigned long long)stats.glue_failures);
  }
  say("glue failures counted: %llu", (unsigned long long)stats.glue_failures);
  {
    /* The refusal is in the group's rebalance history, with the protocol. */
    static char history[65536];
    size_t len = 0;
    expect_ok(kat_group_history_json(group, history, sizeof history, &len), "history json");
    if (strstr(history, "\"kind\":\"error\"") == NULL ||
        strstr(history, "rd_kafka_assign failed") == NULL ||
        strstr(history, "\"protocol\":\"eager\",\"error\":\"kat_rebalance: rd_kafka_assign failed") == NULL) {
      fail("the refused assign is not in the history: %s", history);
    }
  }
  err = rd_kafka_consumer_close(rk);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fail("rd_kafka_consumer_close: %s", rd_kafka_err2str(err));
  }
  say("edge cases checked");
  rd_kafka_topic_partition_list_destroy(list);
  kat_group_free(group);
  rd_kafka_destroy(rk);
}

int main(int argc, char **argv) {
  const char *api;
  clock_gettime(CLOCK_MONOTONIC, &g.t0);
  pthread_mutex_init(&g.lock, NULL);
  if (argc != 4) {
    fprintf(stderr, "usage: %s <join-leave|lost-error|lost-poll|edge|close-queue|close-plain> "
                    "<range|cooperative-sticky|consumer> <cb|own|event>\n",
            argv[0]);
    return 2;
  }
  g.scenario = argv[1];
  g.protocol = argv[2];
  api = argv[3];
  g.api = strcmp(api, "cb") == 0 ? API_CB : strcmp(api, "own") == 0 ? API_OWN : API_EVENT;
  if (strcmp(api, "cb") != 0 && strcmp(api, "own") != 0 && strcmp(api, "event") != 0) {
    die("unknown api %s", api);
  }
  if (g.api != API_EVENT && strcmp(g.scenario, "close-queue") == 0) {
    die("close-queue closes an event-API consumer: use event");
  }
  if (g.api == API_CB && strcmp(g.scenario, "lost-error") == 0) {
    die("lost-error needs to see the callbacks: use own or event");
  }
  g.kip848 = strcmp(g.protocol, "consumer") == 0;
  g.cooperative = g.kip848 || strcmp(g.protocol, "cooperative-sticky") == 0;
#if !HAVE_KIP848
  if (g.kip848) {
    die("this librdkafka mock has no KIP-848 consumer group support");
  }
#endif
  /* Mock classic rounds take about session.timeout.ms - 1 s; librdkafka 2.0
   * needs at least 3 s for its first JoinGroup on the mock. */
  g.session_ms = HAVE_MOCK_REBALANCE_DELAY ? 1500 : 3000;
  if (getenv("KAT_GLUE_SESSION_MS") != NULL) {
    /* Slower hosts (valgrind) need longer sessions to form a group. */
    g.session_ms = atoi(getenv("KAT_GLUE_SESSION_MS"));
  }

  say("librdkafka %s, kat %s: %s %s %s", rd_kafka_version_str(), kat_version(), g.scenario,
      g.protocol, api);
  g.tracker = kat_tracker_new();
  mock_start();

  if (strcmp(g.scenario, "join-leave") == 0) {
    scenario_join_leave();
  } else if (strcmp(g.scenario, "lost-error") == 0) {
    scenario_lost_error();
  } else if (strcmp(g.scenario, "lost-poll") == 0) {
    scenario_lost_poll();
  } else if (strcmp(g.scenario, "edge") == 0) {
    scenario_edge();
  } else if (strcmp(g.scenario, "close-queue") == 0 || strcmp(g.scenario, "close-plain") == 0) {
    scenario_close();
  } else {
    die("unknown scenario %s", g.scenario);
  }

  mock_stop();
  kat_tracker_free(g.tracker);
  if (g.failures != 0) {
    say("%d check(s) failed", g.failures);
    return 1;
  }
  say("PASS %s %s %s", g.scenario, g.protocol, api);
  return 0;
}
