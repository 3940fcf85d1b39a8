/*
 * Ownership that ends on time, with real librdkafka consumers on
 * librdkafka's mock cluster, through include/kat_rdkafka.h. Built by
 * tests/glue.rs against Debian's librdkafka 2.0.2 and the 2.12.1 that
 * rdkafka-sys bundles.
 *
 *   ownership expiry <protocol>
 *     Two consumers A and B of one group share a 4-partition topic. A arms
 *     kat's poll deadline from its own max.poll.interval.ms
 *     (kat_rdkafka_set_poll_deadline) and marks every poll with
 *     kat_check_lost(). Then A's poll loop stops. A reader thread watches
 *     A's partition handles. Checked, in this order of time:
 *       A's last poll mark + deadline <= reader sees every A partition lost
 *         (status lost, with no call from A's thread)
 *       < B is assigned one of A's former partitions
 *       < A polls again;
 *     then A's own lost revoke arrives and changes nothing more in kat, and
 *     kat counted exactly one expiry. Prints the delay after the deadline.
 *     Also told: a thread blocked in kat_partition_handle_wait_not_owned()
 *     returns with the expiry, and the group's loss eventfd
 *     (kat_group_loss_eventfd) becomes readable.
 *   ownership token <protocol>
 *     A joins alone, then B joins. After each, A's fencing token on a
 *     partition it owns (kat_partition_handle_token) carries kat's
 *     generation of the partition and the broker generation that librdkafka
 *     reports (rd_kafka_consumer_group_metadata_generation_id: group
 *     generation, or member epoch under KIP-848; 0 on librdkafka without it),
 *     and the member id is rd_kafka_memberid()'s. With the generation
 *     known, it moved forward when B joined. A partition A does not own
 *     has no token.
 *   ownership drain <protocol>          (drain timeout 5 s)
 *   ownership drain-deadline <protocol> (drain timeout 200 ms)
 *     A owns every partition and has a drain timeout; a worker thread holds
 *     a lease on each. B joins, so A revokes some (cooperative) or all
 *     (eager) of them. For each revoked partition the worker sees the
 *     handle not owned while its lease stays valid, holds the lease 500 ms
 *     more, then releases it. drain: at each release librdkafka still
 *     lists the partition in A's assignment (the unassign call comes after
 *     the release), B has not been assigned it, and B's first assignment of
 *     one of them comes after the last release; no drain timed out.
 *     drain-deadline: the drain ends at its timeout with the leases held
 *     and reports them (kat_group_drain_stats), the lease is no longer
 *     valid and the unassign call was made.
 *   ownership guard <protocol>
 *     A owns every partition and commits offset 1 for each. B joins and
 *     takes some. A's offsets list for every partition at offset 10 goes
 *     through kat_rdkafka_commit_guard(): the entries of the partitions A
 *     lost are removed (the count is returned), and after A commits what is
 *     left, the broker's committed offsets (rd_kafka_committed) are 10 for
 *     A's partitions and still 1 for the others. With a broker generation
 *     that is not the group's, everything is removed (2.12 only).
 *   protocol: range | cooperative-sticky | consumer (KIP-848, 2.12 only)
 *
 * Prints PASS and exits 0 when every check held.
 */
#define _POSIX_C_SOURCE 200809L

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kat_rdkafka.h"

#define TOPIC "jobs"
#define NPART 4

#if RD_KAFKA_VERSION >= 0x020c0000
#define HAVE_MOCK_REBALANCE_DELAY 1
#define HAVE_KIP848 1
#else
#define HAVE_MOCK_REBALANCE_DELAY 0
#define HAVE_KIP848 0
#endif

typedef struct consumer {
  char name[8];
  rd_kafka_t *rk;
  kat_group_t *group;
  pthread_t thread;

  pthread_mutex_t lock; /* guards the fields below */
  int stop;             /* main asks the poll loop to end */
  int pause;            /* main asks the poll loop to stop polling */
  int paused;           /* the poll loop stopped right after a poll mark */
  double mark_before;   /* monotonic time just before the last poll mark */
  unsigned owned;       /* partitions of TOPIC librdkafka assigned (mask) */
  unsigned foreign;     /* partitions whose assignment time is recorded */
  double got_foreign;   /* when a partition in `foreign` was assigned */
  int lost_revokes;
  int rebalances;
} consumer;

static struct {
  const char *protocol;
  int kip848;
  int session_ms;
  rd_kafka_t *producer;
  rd_kafka_mock_cluster_t *mc;
  const char *bootstraps;
  kat_tracker_t *tracker;
  pthread_mutex_t lock;
  int failures;
} g;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double t0;

static void say(const char *fmt, ...) {
  va_list ap;
  pthread_mutex_lock(&g.lock);
  printf("[%7.3f] ", now_s() - t0);
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
  printf("[%7.3f] FAIL: ", now_s() - t0);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
  pthread_mutex_unlock(&g.lock);
}

static void die(const char *what) {
  printf("[%7.3f] FATAL: %s\n", now_s() - t0, what);
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

static unsigned list_mask(const rd_kafka_topic_partition_list_t *list) {
  unsigned m = 0;
  int i;
  for (i = 0; list != NULL && i < list->cnt; i++) {
    if (strcmp(list->elems[i].topic, TOPIC) == 0 && list->elems[i].partition >= 0 &&
        list->elems[i].partition < NPART) {
      m |= 1u << list->elems[i].partition;
    }
  }
  return m;
}

static void conf_set(rd_kafka_conf_t *conf, const char *key, const char *value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, key, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    die(errstr);
  }
}

/* The program's own rebalance callback: kat_rebalance() does the work; the
 * callback only timestamps what this test orders. */
static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *partitions, void *opaque) {
  consumer *c = (consumer *)opaque;
  int lost = err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && rd_kafka_assignment_lost(rk);
  unsigned m = list_mask(partitions);
  int eager = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") != 0;
  expect_ok(kat_rebalance(c->group, rk, err, partitions), "kat_rebalance");
  pthread_mutex_lock(&c->lock);
  c->rebalances++;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    c->owned = eager ? m : (c->owned | m);
    if ((m & c->foreign) != 0 && c->got_foreign == 0) {
      c->got_foreign = now_s();
    }
  } else {
    c->owned = eager ? 0 : (c->owned & ~m);
    c->lost_revokes += lost;
  }
  pthread_mutex_unlock(&c->lock);
}

static void consumer_init(consumer *c, const char *name) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_topic_partition_list_t *topics;
  char errstr[512], value[16];

  memset(c, 0, sizeof *c);
  snprintf(c->name, sizeof c->name, "%s", name);
  pthread_mutex_init(&c->lock, NULL);
  expect_ok(kat_tracker_group(g.tracker, c->name, &c->group), "kat_tracker_group");
  conf_set(conf, "bootstrap.servers", g.bootstraps);
  conf_set(conf, "group.id", "kat-ownership");
  conf_set(conf, "client.id", c->name);
  conf_set(conf, "enable.auto.commit", "false");
  conf_set(conf, "reconnect.backoff.ms", "10");
  conf_set(conf, "reconnect.backoff.max.ms", "100");
  snprintf(value, sizeof value, "%d", g.session_ms);
  if (g.kip848) {
    conf_set(conf, "group.protocol", "consumer");
  } else {
    conf_set(conf, "partition.assignment.strategy", g.protocol);
    conf_set(conf, "session.timeout.ms", value);
    conf_set(conf, "heartbeat.interval.ms", "100");
  }
  /* librdkafka wants max.poll.interval.ms >= session.timeout.ms. */
  conf_set(conf, "max.poll.interval.ms", value);
  rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
  rd_kafka_conf_set_opaque(conf, c);
  c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (c->rk == NULL) {
    die(errstr);
  }
  rd_kafka_poll_set_consumer(c->rk);
  topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, TOPIC, RD_KAFKA_PARTITION_UA);
  if (rd_kafka_subscribe(c->rk, topics) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    die("subscribe");
  }
  rd_kafka_topic_partition_list_destroy(topics);
}

static void *poll_thread(void *arg) {
  consumer *c = (consumer *)arg;
  for (;;) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 20);
    double before;
    int stop, pause;
    if (m != NULL) {
      rd_kafka_message_destroy(m);
    }
    before = now_s();
    expect_ok(kat_check_lost(c->group, c->rk), "kat_check_lost");
    pthread_mutex_lock(&c->lock);
    stop = c->stop;
    pause = c->pause;
    if (pause) {
      c->paused = 1;
      c->mark_before = before;
    }
    pthread_mutex_unlock(&c->lock);
    if (stop) {
      break;
    }
    while (pause && !stop) { /* the stuck application: no poll, no kat call */
      sleep_ms(1);
      pthread_mutex_lock(&c->lock);
      pause = c->pause;
      stop = c->stop;
      pthread_mutex_unlock(&c->lock);
    }
  }
  if (rd_kafka_consumer_close(c->rk) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fail("%s: rd_kafka_consumer_close failed", c->name);
  }
  return NULL;
}

static unsigned owned_of(consumer *c) {
  unsigned m;
  pthread_mutex_lock(&c->lock);
  m = c->owned;
  pthread_mutex_unlock(&c->lock);
  return m;
}

static void wait_until(consumer *a, consumer *b, int (*ok)(consumer *, consumer *),
                       const char *what) {
  double start = now_s();
  while (!ok(a, b)) {
    if (now_s() - start > 30.0) {
      fail("no %s after 30 s", what);
      die(what);
    }
    sleep_ms(5);
  }
}

static int both_own(consumer *a, consumer *b) {
  unsigned x = owned_of(a), y = owned_of(b);
  return x != 0 && y != 0 && (x | y) == (1u << NPART) - 1 && (x & y) == 0;
}

/* ---- the reader: watches A's handles from another thread ---------------- */

typedef struct reader {
  kat_partition_handle_t *h[NPART];
  unsigned watch;
  double seen;  /* when every watched handle read not owned */
  int bad_status;
} reader;

static void *reader_thread(void *arg) {
  reader *r = (reader *)arg;
  double start = now_s();
  for (;;) {
    int p, owned = 0;
    for (p = 0; p < NPART; p++) {
      kat_partition_state_t st;
      if (!(r->watch & (1u << p))) {
        continue;
      }
      expect_ok(kat_partition_handle_state(r->h[p], &st), "kat_partition_handle_state");
      if (st.assigned) {
        owned = 1;
      } else if (st.status != KAT_STATUS_LOST) {
        r->bad_status = 1;
      }
    }
    if (!owned) {
      r->seen = now_s();
      return NULL;
    }
    if (now_s() - start > 60.0) {
      return NULL;
    }
  }
}

typedef struct waiter {
  kat_partition_handle_t *h;
  uint64_t generation;
  bool ended;
  double at;
} waiter;

static void *waiter_thread(void *arg) {
  waiter *wt = (waiter *)arg;
  expect_ok(kat_partition_handle_wait_not_owned(wt->h, wt->generation, 60000, &wt->ended),
            "kat_partition_handle_wait_not_owned");
  wt->at = now_s();
  return NULL;
}

static int b_got_foreign(consumer *a, consumer *b) {
  int got;
  (void)a;
  pthread_mutex_lock(&b->lock);
  got = b->got_foreign != 0;
  pthread_mutex_unlock(&b->lock);
  return got;
}

static int a_lost_revoke(consumer *a, consumer *b) {
  int n;
  (void)b;
  pthread_mutex_lock(&a->lock);
  n = a->lost_revokes;
  pthread_mutex_unlock(&a->lock);
  return n > 0;
}

static void scenario_expiry(void) {
  consumer a, b;
  reader r;
  waiter wt;
  pthread_t rt, wtt;
  int efd = -1;
  struct pollfd pfd;
  uint64_t count = 0;
  kat_poll_stats_t ps;
  kat_group_stats_t gs;
  double deadline_s, seen, got, resumed, mark;
  int p;

  consumer_init(&a, "A");
  consumer_init(&b, "B");
  expect_ok(kat_rdkafka_set_poll_deadline(a.group, a.rk, 0), "kat_rdkafka_set_poll_deadline");
  expect_ok(kat_group_poll_stats(a.group, &ps), "kat_group_poll_stats");
  if (ps.deadline_ms != (uint64_t)g.session_ms) {
    fail("deadline %llu ms, want max.poll.interval.ms = %d", (unsigned long long)ps.deadline_ms,
         g.session_ms);
  }
  deadline_s = (double)ps.deadline_ms / 1000.0;
  if (pthread_create(&a.thread, NULL, poll_thread, &a) != 0 ||
      pthread_create(&b.thread, NULL, poll_thread, &b) != 0) {
    die("pthread_create");
  }
  wait_until(&a, &b, both_own, "assignment shared by A and B");
  say("A owns %#x, B owns %#x", owned_of(&a), owned_of(&b));

  memset(&r, 0, sizeof r);
  r.watch = owned_of(&a);
  for (p = 0; p < NPART; p++) {
    expect_ok(kat_group_partition(a.group, TOPIC, p, &r.h[p]), "kat_group_partition");
  }
  pthread_mutex_lock(&b.lock);
  b.foreign = r.watch;
  pthread_mutex_unlock(&b.lock);
  expect_ok(kat_group_loss_eventfd(a.group, &efd), "kat_group_loss_eventfd");
  memset(&wt, 0, sizeof wt);
  for (p = 0; p < NPART && !(r.watch & (1u << p)); p++) {
  }
  wt.h = r.h[p];
  {
    kat_partition_state_t st;
    expect_ok(kat_partition_handle_state(wt.h, &st), "kat_partition_handle_state");
    wt.generation = st.generation;
  }
  if (pthread_create(&wtt, NULL, waiter_thread, &wt) != 0) {
    die("pthread_create");
  }
  pthread_mutex_lock(&a.lock);
  a.pause = 1;
  pthread_mutex_unlock(&a.lock);
  for (;;) {
    int paused;
    pthread_mutex_lock(&a.lock);
    paused = a.paused;
    mark = a.mark_before;
    pthread_mutex_unlock(&a.lock);
    if (paused) {
      break;
    }
    sleep_ms(1);
  }
  say("A stopped polling");
  if (pthread_create(&rt, NULL, reader_thread, &r) != 0) {
    die("pthread_create");
  }
  pthread_join(rt, NULL);
  seen = r.seen;
  pthread_join(wtt, NULL);
  if (!wt.ended || wt.at < mark + deadline_s) {
    fail("the blocking wait returned ended=%d at %.1f ms after the deadline", wt.ended,
         (wt.at - mark - deadline_s) * 1000.0);
  }
  pfd.fd = efd;
  pfd.events = POLLIN;
  pfd.revents = 0;
  if (poll(&pfd, 1, 5000) != 1 || read(efd, &count, sizeof count) != (ssize_t)sizeof count ||
      count < 1) {
    fail("the loss eventfd did not become readable with the expiry");
  }
  expect_ok(kat_group_close_loss_eventfd(a.group), "kat_group_close_loss_eventfd");
  wait_until(&a, &b, b_got_foreign, "assignment of A's partitions to B");
  pthread_mutex_lock(&b.lock);
  got = b.got_foreign;
  pthread_mutex_unlock(&b.lock);
  resumed = now_s();
  pthread_mutex_lock(&a.lock);
  a.pause = 0;
  pthread_mutex_unlock(&a.lock);

  if (seen == 0) {
    fail("the reader never saw A's partitions lost");
  }
  if (r.bad_status) {
    fail("an expired partition read a status other than lost");
  }
  if (seen < mark + deadline_s) {
    fail("expired %.1f ms before the deadline", (mark + deadline_s - seen) * 1000.0);
  }
  if (!(seen < got)) {
    fail("B was assigned A's partition %.1f ms before kat expired A", (seen - got) * 1000.0);
  }
  if (!(got < resumed)) {
    fail("timestamps out of order");
  }
  say("expiry seen %.3f ms after the deadline; B assigned %.1f ms after it; A resumed after",
      (seen - mark - deadline_s) * 1000.0, (got - mark - deadline_s) * 1000.0);

  wait_until(&a, &b, a_lost_revoke, "lost revoke of A");
  expect_ok(kat_group_poll_stats(a.group, &ps), "kat_group_poll_stats");
  expect_ok(kat_group_stats(a.group, &gs), "kat_group_stats");
  if (ps.expirations != 1) {
    fail("%llu expirations, want 1", (unsigned long long)ps.expirations);
  }
  if (gs.lost_events != 1) {
    fail("%llu lost events, want 1 (the lost revoke changes nothing more)",
         (unsigned long long)gs.lost_events);
  }
  {
    /* The history tells kat's expiry from librdkafka's loss: one `expired`
     * entry, and no `lost` one (the lost revoke changed nothing more). */
    static char history[65536];
    size_t len = 0;
    expect_ok(kat_group_history_json(a.group, history, sizeof history, &len), "history json");
    const char *expired =
        strstr(history, "\"kind\":\"expired\",\"assigned\":0,\"revoked\":0,\"lost\":");
    if (expired == NULL || strstr(expired + 1, "\"kind\":\"expired\"") != NULL ||
        strstr(history, "\"kind\":\"lost\"") != NULL) {
      fail("want one expired entry and no lost one in the history: %s", history);
    }
  }
  say("summary expiry expiry_delay_us=%llu kat_delay_us=%llu expirations=%llu lost_events=%llu",
      (unsigned long long)((seen - mark - deadline_s) * 1e6),
      (unsigned long long)ps.last_expiry_delay_us, (unsigned long long)ps.expirations,
      (unsigned long long)gs.lost_events);

  pthread_mutex_lock(&a.lock);
  a.stop = 1;
  pthread_mutex_unlock(&a.lock);
  pthread_mutex_lock(&b.lock);
  b.stop = 1;
  pthread_mutex_unlock(&b.lock);
  pthread_join(a.thread, NULL);
  pthread_join(b.thread, NULL);
  /* Disarm before freeing: the timer thread ends with its last deadline. */
  expect_ok(kat_group_set_poll_deadline(a.group, 0, 0), "disarm");
  for (p = 0; p < NPART; p++) {
    kat_partition_handle_free(r.h[p]);
  }
  rd_kafka_destroy(a.rk);
  rd_kafka_destroy(b.rk);
  kat_group_free(a.group);
  kat_group_free(b.group);
  pthread_mutex_destroy(&a.lock);
  pthread_mutex_destroy(&b.lock);
}

static int a_owns_all(consumer *a, consumer *b) {
  (void)b;
  return owned_of(a) == (1u << NPART) - 1;
}

/* The broker generation as librdkafka reports it (0 where it cannot). */
static int32_t direct_generation(rd_kafka_t *rk) {
  int32_t generation = 0;
#if KAT_RDKAFKA_HAVE_GENERATION_ID
  rd_kafka_consumer_group_metadata_t *md = rd_kafka_consumer_group_metadata(rk);
  if (md != NULL) {
    generation = rd_kafka_consumer_group_metadata_generation_id(md);
    rd_kafka_consumer_group_metadata_destroy(md);
  }
#else
  (void)rk;
#endif
  return generation;
}

/* A's token on its lowest owned partition agrees with librdkafka; returns
 * the broker generation in it. */
static int32_t check_token(consumer *c, const char *when) {
  unsigned owned = owned_of(c);
  int32_t p, direct = direct_generation(c->rk), recorded = 0;
  double start = now_s();
  char id[256], *member = rd_kafka_memberid(c->rk);
  size_t len = 0;
  kat_fencing_token_t tok;
  kat_partition_state_t st;
  kat_partition_handle_t *h = NULL, *other = NULL;
  /* kat_check_lost() in the poll loop refreshes it about once a second:
   * under KIP-848 the epoch may move after the rebalance callback. */
  for (;;) {
    expect_ok(kat_group_broker_generation(c->group, &recorded), "kat_group_broker_generation");
    if (recorded == direct || now_s() - start > 5.0) {
      break;
    }
    sleep_ms(20);
    direct = direct_generation(c->rk);
  }
  for (p = 0; p < NPART && !(owned & (1u << p)); p++) {
  }
  expect_ok(kat_group_partition(c->group, TOPIC, p, &h), "kat_group_partition");
  expect_ok(kat_partition_handle_token(h, &tok), "kat_partition_handle_token");
  expect_ok(kat_partition_handle_state(h, &st), "kat_partition_handle_state");
  if (!tok.owned || tok.generation != st.generation || tok.generation == 0) {
    fail("%s %s: token of owned partition %d: owned=%d generation=%llu (state %llu)", c->name,
         when, (int)p, tok.owned, (unsigned long long)tok.generation,
         (unsigned long long)st.generation);
  }
  if (tok.broker_generation != direct) {
    fail("%s %s: token broker generation %d, librdkafka reports %d", c->name, when,
         (int)tok.broker_generation, (int)direct);
  }
  if (KAT_RDKAFKA_HAVE_GENERATION_ID ? tok.broker_generation <= 0 : tok.broker_generation != 0) {
    fail("%s %s: broker generation %d", c->name, when, (int)tok.broker_generation);
  }
  expect_ok(kat_group_member_id(c->group, id, sizeof id, &len), "kat_group_member_id");
  if (member == NULL || strcmp(member, id) != 0 || strlen(id) != len) {
    fail("%s %s: member id %s, librdkafka reports %s", c->name, when, id,
         member != NULL ? member : "(null)");
  }
  for (p = 0; p < NPART; p++) {
    if (!(owned & (1u << p))) {
      expect_ok(kat_group_partition(c->group, TOPIC, p, &other), "kat_group_partition");
      expect_ok(kat_partition_handle_token(other, &tok), "kat_partition_handle_token");
      if (tok.owned) {
        fail("%s %s: a token on partition %d it does not own", c->name, when, (int)p);
      }
      kat_partition_handle_free(other);
      break;
    }
  }
  say("%s %s: token generation %llu, broker generation %d, member %s", c->name, when,
      (unsigned long long)st.generation, (int)direct, id);
  if (member != NULL) {
    rd_kafka_mem_free(c->rk, member);
  }
  kat_partition_handle_free(h);
  return direct;
}

static void stop_both(consumer *a, consumer *b) {
  pthread_mutex_lock(&a->lock);
  a->stop = 1;
  pthread_mutex_unlock(&a->lock);
  pthread_mutex_lock(&b->lock);
  b->stop = 1;
  pthread_mutex_unlock(&b->lock);
  pthread_join(a->thread, NULL);
  pthread_join(b->thread, NULL);
  rd_kafka_destroy(a->rk);
  rd_kafka_destroy(b->rk);
  kat_group_free(a->group);
  kat_group_free(b->group);
  pthread_mutex_destroy(&a->lock);
  pthread_mutex_destroy(&b->lock);
}

static int loss_calls;
static char loss_group[16];

static void on_loss(const char *group, void *opaque) {
  pthread_mutex_lock(&g.lock);
  loss_calls += *(int *)opaque;
  snprintf(loss_group, sizeof loss_group, "%s", group);
  pthread_mutex_unlock(&g.lock);
}

static void scenario_token(void) {
  consumer a, b;
  int32_t first, second;
  static int one = 1;
  int calls;
  consumer_init(&a, "A");
  expect_ok(kat_group_set_loss_callback(a.group, on_loss, &one), "kat_group_set_loss_callback");
  if (pthread_create(&a.thread, NULL, poll_thread, &a) != 0) {
    die("pthread_create");
  }
  wait_until(&a, &a, a_owns_all, "assignment of every partition to A");
  first = check_token(&a, "alone");
  consumer_init(&b, "B");
  if (pthread_create(&b.thread, NULL, poll_thread, &b) != 0) {
    die("pthread_create");
  }
  wait_until(&a, &b, both_own, "assignment shared by A and B");
  second = check_token(&a, "after B joined");
  if (KAT_RDKAFKA_HAVE_GENERATION_ID && !(second > first)) {
    fail("A's broker generation did not move forward when B joined: %d then %d", (int)first,
         (int)second);
  }
  pthread_mutex_lock(&g.lock);
  calls = loss_calls;
  pthread_mutex_unlock(&g.lock);
  /* B's join took partitions from A: the loss callback was told. */
  if (calls < 1 || strcmp(loss_group, "A") != 0) {
    fail("loss callback: %d calls, group %s", calls, loss_group);
  }
  expect_ok(kat_group_set_loss_callback(a.group, NULL, NULL), "remove the loss callback");
  say("summary token first=%d second=%d loss_calls=%d", (int)first, (int)second, calls);
  stop_both(&a, &b);
}

/* ---- drain: a worker holds leases across a revoke ---------------------- */

typedef struct worker {
  consumer *a, *b;
  int deadline_path;
  kat_partition_handle_t *h[NPART];
  uint64_t generation[NPART];
  int held[NPART];
  pthread_mutex_t lock;
  int stop;
  int released;           /* revoked partitions released */
  int pending;            /* revoked partitions whose lease is still held */
  double last_release;
} worker;

static int rd_owns(rd_kafka_t *rk, int32_t p) {
  rd_kafka_topic_partition_list_t *list = NULL;
  int owns;
  if (rd_kafka_assignment(rk, &list) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fail("rd_kafka_assignment failed");
    return 0;
  }
  owns = (list_mask(list) & (1u << p)) != 0;
  rd_kafka_topic_partition_list_destroy(list);
  return owns;
}

static void *worker_thread(void *arg) {
  worker *w = (worker *)arg;
  double seen[NPART] = {0};
  for (;;) {
    int p, stop, pending = 0;
    pthread_mutex_lock(&w->lock);
    stop = w->stop;
    pthread_mutex_unlock(&w->lock);
    for (p = 0; p < NPART; p++) {
      kat_partition_state_t st;
      if (!w->held[p]) {
        continue;
      }
      expect_ok(kat_partition_handle_state(w->h[p], &st), "kat_partition_handle_state");
      if (st.assigned && !stop) {
        continue;
      }
      if (stop) { /* kept through the rebalance: release at the end */
        expect_ok(kat_partition_handle_lease_release(w->h[p]), "lease release");
        w->held[p] = 0;
        continue;
      }
      if (seen[p] == 0) {
        seen[p] = now_s();
        if (kat_partition_handle_lease_acquire(w->h[p], w->generation[p])) {
          fail("a new lease on revoking partition %d succeeded", (int)p);
          expect_ok(kat_partition_handle_lease_release(w->h[p]), "lease release");
        }
        if (!w->deadline_path && !kat_partition_handle_lease_valid(w->h[p], w->generation[p])) {
          fail("the lease on partition %d is not valid while its revoke drains", (int)p);
        }
      }
      if (now_s() - seen[p] < 0.5) {
        pending++;
        continue;
      }
      if (!w->deadline_path) {
        if (!rd_owns(w->a->rk, p)) {
          fail("partition %d was unassigned before its lease was released", (int)p);
        }
        if (owned_of(w->b) & (1u << p)) {
          fail("B was assigned partition %d while A's lease was held", (int)p);
        }
      } else {
        if (kat_partition_handle_lease_valid(w->h[p], w->generation[p])) {
          fail("the lease on partition %d is still valid after the drain timed out", (int)p);
        }
        if (rd_owns(w->a->rk, p)) {
          fail("partition %d still assigned to A after the drain timed out", (int)p);
        }
      }
      expect_ok(kat_partition_handle_lease_release(w->h[p]), "lease release");
      w->held[p] = 0;
      pthread_mutex_lock(&w->lock);
      w->released++;
      w->last_release = now_s();
      pthread_mutex_unlock(&w->lock);
    }
    if (stop) {
      return NULL;
    }
    pthread_mutex_lock(&w->lock);
    w->pending = pending;
    pthread_mutex_unlock(&w->lock);
    sleep_ms(1);
  }
}

/* Waits until the worker released a revoked partition and holds none. */
static void wait_released(worker *w) {
  double start = now_s();
  for (;;) {
    int done;
    pthread_mutex_lock(&w->lock);
    done = w->released > 0 && w->pending == 0;
    pthread_mutex_unlock(&w->lock);
    if (done) {
      return;
    }
    if (now_s() - start > 30.0) {
      die("the worker released no revoked partition in 30 s");
    }
    sleep_ms(5);
  }
}

static int worker_released(worker *w) {
  int n;
  pthread_mutex_lock(&w->lock);
  n = w->released;
  pthread_mutex_unlock(&w->lock);
  return n;
}

static void scenario_drain(int deadline_path) {
  consumer a, b;
  worker w;
  pthread_t wt;
  kat_drain_stats_t ds;
  double got, last_release;
  int p, released;
  consumer_init(&a, "A");
  expect_ok(kat_group_set_drain_timeout(a.group, deadline_path ? 200 : 5000), "drain timeout");
  if (pthread_create(&a.thread, NULL, poll_thread, &a) != 0) {
    die("pthread_create");
  }
  wait_until(&a, &a, a_owns_all, "assignment of every partition to A");
  memset(&w, 0, sizeof w);
  pthread_mutex_init(&w.lock, NULL);
  w.a = &a;
  w.b = &b;
  w.deadline_path = deadline_path;
  for (p = 0; p < NPART; p++) {
    kat_partition_state_t st;
    expect_ok(kat_group_partition(a.group, TOPIC, p, &w.h[p]), "kat_group_partition");
    expect_ok(kat_partition_handle_state(w.h[p], &st), "kat_partition_handle_state");
    w.generation[p] = st.generation;
    w.held[p] = kat_partition_handle_lease_acquire(w.h[p], st.generation);
    if (!w.held[p]) {
      fail("no lease on owned partition %d", (int)p);
    }
  }
  consumer_init(&b, "B");
  pthread_mutex_lock(&b.lock);
  b.foreign = (1u << NPART) - 1;
  pthread_mutex_unlock(&b.lock);
  if (pthread_create(&wt, NULL, worker_thread, &w) != 0 ||
      pthread_create(&b.thread, NULL, poll_thread, &b) != 0) {
    die("pthread_create");
  }
  wait_until(&a, &b, both_own, "assignment shared by A and B");
  wait_until(&a, &b, b_got_foreign, "B's first assignment");
  wait_released(&w);
  pthread_mutex_lock(&w.lock);
  w.stop = 1;
  pthread_mutex_unlock(&w.lock);
  pthread_join(wt, NULL);
  released = worker_released(&w);
  last_release = w.last_release;
  pthread_mutex_lock(&b.lock);
  got = b.got_foreign;
  pthread_mutex_unlock(&b.lock);
  expect_ok(kat_group_drain_stats(a.group, &ds), "kat_group_drain_stats");
  if (released == 0) {
    fail("no leased partition was revoked");
  }
  if (ds.drains < 1) {
    fail("no drain ran");
  }
  if (!deadline_path) {
    if (ds.timeouts != 0 || ds.last_held != 0) {
      fail("a drain timed out: %llu timeouts, %llu held", (unsigned long long)ds.timeouts,
           (unsigned long long)ds.last_held);
    }
    if (!(got > last_release)) {
      fail("B was assigned a partition %.1f ms before the last lease release",
           (last_release - got) * 1000.0);
    }
  } else if (ds.timeouts < 1 || ds.held_total < 1) {
    fail("the drain deadline did not report the held leases: %llu timeouts, %llu held",
         (unsigned long long)ds.timeouts, (unsigned long long)ds.held_total);
  }
  say("summary drain released=%d drains=%llu timeouts=%llu held_total=%llu b_after_release_ms=%.1f",
      released, (unsigned long long)ds.drains, (unsigned long long)ds.timeouts,
      (unsigned long long)ds.held_total, (got - last_release) * 1000.0);
  for (p = 0; p < NPART; p++) {
    kat_partition_handle_free(w.h[p]);
  }
  pthread_mutex_destroy(&w.lock);
  stop_both(&a, &b);
}

/* ---- commit guard -------------------------------------------------------- */

static rd_kafka_topic_partition_list_t *offsets_all(int64_t offset) {
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(NPART);
  int p;
  for (p = 0; p < NPART; p++) {
    rd_kafka_topic_partition_list_add(list, TOPIC, p)->offset = offset;
  }
  return list;
}

static void commit_sync(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *list) {
  rd_kafka_resp_err_t err = rd_kafka_commit(rk, list, 0);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fail("rd_kafka_commit: %s", rd_kafka_err2str(err));
  }
}

static void scenario_guard(void) {
  consumer a, b;
  rd_kafka_topic_partition_list_t *list, *committed;
  unsigned mine;
  size_t removed = 99;
  int i;
  consumer_init(&a, "A");
  if (pthread_create(&a.thread, NULL, poll_thread, &a) != 0) {
    die("pthread_create");
  }
  wait_until(&a, &a, a_owns_all, "assignment of every partition to A");
  list = offsets_all(1);
  expect_ok(kat_rdkafka_commit_guard(a.group, list, 0, &removed), "commit guard");
  if (removed != 0 || list->cnt != NPART) {
    fail("the guard removed %zu entries of an owner's list", removed);
  }
  commit_sync(a.rk, list);
  rd_kafka_topic_partition_list_destroy(list);

  consumer_init(&b, "B");
  if (pthread_create(&b.thread, NULL, poll_thread, &b) != 0) {
    die("pthread_create");
  }
  wait_until(&a, &b, both_own, "assignment shared by A and B");
  mine = owned_of(&a);

  list = offsets_all(10);
  expect_ok(kat_rdkafka_commit_guard(a.group, list, 0, &removed), "commit guard");
  if ((int)removed != NPART - (int)__builtin_popcount(mine) || list_mask(list) != mine) {
    fail("the guard removed %zu entries, left %#x; A owns %#x", removed, list_mask(list), mine);
  }
  commit_sync(a.rk, list);
  rd_kafka_topic_partition_list_destroy(list);

  committed = offsets_all(RD_KAFKA_OFFSET_INVALID);
  if (rd_kafka_committed(a.rk, committed, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fail("rd_kafka_committed failed");
  }
  for (i = 0; i < committed->cnt; i++) {
    int32_t p = committed->elems[i].partition;
    int64_t want = (mine & (1u << p)) ? 10 : 1;
    if (committed->elems[i].offset != want) {
      fail("partition %d: committed offset %lld, want %lld", (int)p,
           (long long)committed->elems[i].offset, (long long)want);
    }
  }
  rd_kafka_topic_partition_list_destroy(committed);

#if KAT_RDKAFKA_HAVE_GENERATION_ID
  {
    int32_t gen = 0;
    expect_ok(kat_group_broker_generation(a.group, &gen), "kat_group_broker_generation");
    list = offsets_all(20);
    expect_ok(kat_rdkafka_commit_guard(a.group, list, gen - 1, &removed), "commit guard");
    if (list->cnt != 0 || removed != NPART) {
      fail("an old broker generation left %d entries", list->cnt);
    }
    rd_kafka_topic_partition_list_destroy(list);
  }
#endif
  {
    /* Bad input changes nothing. */
    rd_kafka_topic_partition_list_t *bad = offsets_all(30);
    rd_kafka_topic_partition_list_add(bad, "bad topic", 0);
    if (kat_rdkafka_commit_guard(a.group, bad, 0, &removed) != KAT_ERR_INVALID_TOPIC ||
        bad->cnt != NPART + 1) {
      fail("a list with an illegal topic was changed or accepted");
    }
    rd_kafka_topic_partition_list_destroy(bad);
    if (kat_rdkafka_commit_guard(a.group, NULL, 0, &removed) != KAT_ERR_NULL_POINTER) {
      fail("a NULL list was accepted");
    }
  }
  say("summary guard owned=%d removed=%zu", __builtin_popcount(mine), removed);
  stop_both(&a, &b);
}

static void mock_start(void) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  char errstr[512];
  conf_set(conf, "test.mock.num.brokers", "1");
  g.producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (g.producer == NULL) {
    die(errstr);
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
}

int main(int argc, char **argv) {
  const char *env = getenv("KAT_GLUE_SESSION_MS");
  if (argc != 3 || (strcmp(argv[1], "expiry") != 0 && strcmp(argv[1], "token") != 0 &&
                    strcmp(argv[1], "drain") != 0 && strcmp(argv[1], "drain-deadline") != 0 &&
                    strcmp(argv[1], "guard") != 0)) {
    printf("usage: %s expiry|token|drain|drain-deadline|guard range|cooperative-sticky|consumer\n",
           argv[0]);
    return 2;
  }
  t0 = now_s();
  pthread_mutex_init(&g.lock, NULL);
  g.protocol = argv[2];
  g.kip848 = strcmp(g.protocol, "consumer") == 0;
  g.session_ms = env != NULL ? atoi(env) : 3000;
  if (g.kip848 && !HAVE_KIP848) {
    printf("SKIP KIP-848 needs librdkafka 2.12\n");
    return 3;
  }
  say("librdkafka %s, kat %s: %s %s", rd_kafka_version_str(), kat_version(), argv[1], argv[2]);
  g.tracker = kat_tracker_new();
  mock_start();
  if (strcmp(argv[1], "expiry") == 0) {
    scenario_expiry();
  } else if (strcmp(argv[1], "token") == 0) {
    scenario_token();
  } else if (strcmp(argv[1], "guard") == 0) {
    scenario_guard();
  } else {
    scenario_drain(strcmp(argv[1], "drain-deadline") == 0);
  }
  rd_kafka_destroy(g.producer);
  kat_tracker_free(g.tracker);
  pthread_mutex_destroy(&g.lock);
  if (g.failures != 0) {
    printf("%d failure(s)\n", g.failures);
    return 1;
  }
  printf("PASS %s %s\n", argv[1], argv[2]);
  return 0;
}
