// kat_rdkafka.hpp (kat.hpp's librdkafka path) with two real consumers on librdkafka's mock
// cluster. Built by tests/glue.rs with g++ -std=c++17 -Wall -Wextra -Werror
// -pedantic against Debian's librdkafka.
//
//   cpp_consumer <range|cooperative-sticky> [cb|event]
//
// One owning kat::tracker; consumers A and B of group "kat-cpp" (topic
// "orders", 4 partitions), each recorded in its own kat::group and polling
// on its own std::thread:
//   A  rebalance_cb = kat::rebalance_cb, opaque = its group's get();
//   B  cb (default): the program's own static callback, which calls
//      kat::rebalance(); event: no callback, the event API, and
//      kat::rebalance_event() on each RD_KAFKA_EVENT_REBALANCE. Either way
//      the program counts how often each partition was assigned to B.
// After every poll a thread calls kat::check_lost() and, while its consumer
// is quiescent (callbacks run inside the poll), checks that kat's view of its
// group (group reads and a snapshot) equals rd_kafka_assignment(), that each
// owned partition is assigned at a generation >= 1 its partition handle is
// owned_at, and that generations match the assigns observed: B's equal the
// times B was assigned each partition, A's lie between the times A was seen
// gaining it and kat's count of A's assign events.
//
// Steps, each waiting for a stable state (the assignments split the topic,
// and a snapshot read with range-for agrees) rather than counting callbacks:
// A joins; B joins (eager: A was assigned its partitions twice by then); B
// closes (its final revoke goes through its callback: B's group is empty and
// all it had is revoked) and A gets everything; A stops polling past
// max.poll.interval.ms and kat::check_lost() records the loss before the
// revoke is served; A rejoins; A closes (everything revoked).
// Prints PASS <protocol> [cb|event] and exits 0 when every check held.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kat_rdkafka.hpp"
#include "kat_rdkafka.hpp"  // twice on purpose: the include guard holds

#include <array>
#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr const char *kTopic = "orders";
constexpr int kPartitions = 4;
constexpr const char *kGroupId = "kat-cpp";

using mask_t = unsigned;
constexpr mask_t kAll = (1u << kPartitions) - 1;

using clock_type = std::chrono::steady_clock;
const clock_type::time_point t0 = clock_type::now();
std::mutex out_lock;
std::atomic<int> failures{0};
int session_ms = 3000;

double elapsed() {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

void vreport(const char *tag, const char *fmt, va_list ap) {
    std::lock_guard<std::mutex> lock(out_lock);
    std::printf("[%7.3f] %s", elapsed(), tag);
    std::vprintf(fmt, ap);
    std::printf("\n");
    std::fflush(stdout);
}

__attribute__((format(printf, 1, 2))) void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport("", fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 1, 2))) void fail(const char *fmt, ...) {
    failures++;
    va_list ap;
    va_start(ap, fmt);
    vreport("FAIL: ", fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 1, 2), noreturn)) void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport("FATAL: ", fmt, ap);
    va_end(ap);
    std::exit(1);
}

void expect_ok(const kat::result<void> &r, const char *what, const std::string &who) {
    if (!r) {
        fail("%s %s: %s (%s)", who.c_str(), what, r.err().code_message(), r.err().what());
    }
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

std::string mask_str(mask_t m) {
    std::string s = "[";
    for (int p = 0; p < kPartitions; p++) {
        if (m & (1u << p)) {
            if (s.size() > 1) {
                s += ",";
            }
            s += std::to_string(p);
        }
    }
    return s + "]";
}

mask_t list_mask(const rd_kafka_topic_partition_list_t *list) {
    mask_t m = 0;
    for (int i = 0; list != nullptr && i < list->cnt; i++) {
        const rd_kafka_topic_partition_t &e = list->elems[i];
        if (std::strcmp(e.topic, kTopic) != 0 || e.partition < 0 || e.partition >= kPartitions) {
            fail("unexpected partition %s [%d]", e.topic, static_cast<int>(e.partition));
            continue;
        }
        m |= 1u << e.partition;
    }
    return m;
}

// rd_kafka_assignment() as a mask; false if librdkafka could not say.
bool assignment(rd_kafka_t *rk, mask_t *out) {
    rd_kafka_topic_partition_list_t *list = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_assignment(rk, &list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return false;
    }
    *out = list_mask(list);
    rd_kafka_topic_partition_list_destroy(list);
    return true;
}

// Every group of a snapshot, read with range-for: name -> assigned partitions.
std::map<std::string, mask_t> snapshot_masks(const kat::tracker_ref &tracker) {
    std::map<std::string, mask_t> out;
    const kat::snapshot snap = tracker.snapshot();
    for (const kat::group_view &g : snap.groups()) {
        mask_t &m = out[std::string(g.name())];
        for (const kat::topic_view &t : g.topics()) {
            for (const kat_assigned_partition_t &p : t.partitions()) {
                if (t.name() != kTopic || p.partition < 0 || p.partition >= kPartitions) {
                    fail("snapshot lists %.*s [%d]", static_cast<int>(t.name().size()),
                         t.name().data(), static_cast<int>(p.partition));
                    continue;
                }
                if (p.generation == 0) {
                    fail("snapshot lists %s [%d] at generation 0", kTopic,
                         static_cast<int>(p.partition));
                }
                m |= 1u << p.partition;
            }
        }
    }
    return out;
}

enum class command { run, pause, close };

// How a consumer hands its rebalances to kat.
enum class via {
    kat_cb,  // rebalance_cb = kat::rebalance_cb
    own_cb,  // the program's callback, calling kat::rebalance()
    event,   // the event API, kat::rebalance_event()
};

struct consumer {
    consumer(const kat::tracker &tracker, const char *client, via how)
        : name(std::string(kGroupId) + "/" + client),
          group(tracker.group(name)),
          api(how),
          sees_rebalances(how != via::kat_cb) {
        for (int p = 0; p < kPartitions; p++) {
            handles.push_back(group.partition(kTopic, p));
        }
    }

    const std::string name;  // kat group name: "<group.id>/<client.id>"
    const kat::group group;
    const via api;
    const bool sees_rebalances;  // the program counts the assigns itself
    std::vector<kat::partition_handle> handles;
    rd_kafka_t *rk = nullptr;
    rd_kafka_queue_t *queue = nullptr;  // via::event only
    std::thread thread;

    std::atomic<command> cmd{command::run};
    std::atomic<bool> paused{false};
    std::atomic<int> assign_cbs{0};          // seen rebalances only
    std::atomic<int> nonempty_assign_cbs{0};  // seen rebalances only
    std::atomic<int> revoke_cbs{0};          // seen rebalances only
    std::atomic<bool> loss_recorded{false};   // by kat::check_lost()
    std::atomic<int> polls{0};

    // Poll thread only (the main thread reads them after join()).
    std::array<std::uint64_t, kPartitions> assigned_times{};  // from seen rebalances
    std::array<std::uint64_t, kPartitions> gains_seen{};      // from rd_kafka_assignment()
    mask_t last_seen = 0;
    mask_t ever = 0;

    consumer(const consumer &) = delete;
    consumer &operator=(const consumer &) = delete;
    ~consumer() {
        // Only when a kat::error left run() early: stop the poll thread.
        if (thread.joinable()) {
            cmd = command::close;
            thread.join();
        }
    }
};

// kat's view of the consumer's group from its wait-free reads.
mask_t group_mask(const consumer &c) {
    mask_t m = 0;
    for (int p = 0; p < kPartitions; p++) {
        if (c.group.is_assigned(kTopic, p)) {
            m |= 1u << p;
        }
    }
    return m;
}

// A rebalance B sees: kat::rebalance() (own callback) or
// kat::rebalance_event() (`ev`) makes the assign call and records it.
// noexcept, and nothing thrown by the checks may leave it.
void on_rebalance(consumer &c, rd_kafka_t *rk, rd_kafka_resp_err_t err,
                  rd_kafka_topic_partition_list_t *partitions, rd_kafka_event_t *ev) noexcept {
    const bool lost = rd_kafka_assignment_lost(rk) != 0;
    const mask_t listed = list_mask(partitions);
    if (ev != nullptr) {
        expect_ok(kat::rebalance_event(c.group, rk, ev), "kat::rebalance_event", c.name);
    } else {
        expect_ok(kat::rebalance(c.group, rk, err, partitions), "kat::rebalance", c.name);
    }
    say("%s %s %s%s", c.name.c_str(), rd_kafka_err2name(err), mask_str(listed).c_str(),
        lost ? " (lost)" : "");
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        c.assign_cbs++;
        if (listed != 0) {
            c.nonempty_assign_cbs++;
        }
    } else {
        c.revoke_cbs++;
    }
    try {
        for (int p = 0; p < kPartitions; p++) {
            if (!(listed & (1u << p))) {
                continue;
            }
            const kat::partition_state st = c.handles[p].state();
            if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                c.assigned_times[p]++;
                if (!st.assigned || st.generation != c.assigned_times[p] ||
                    !c.handles[p].owned_at(st.generation)) {
                    fail("%s: partition %d after assign: generation %llu, assigned %llu times",
                         c.name.c_str(), p, static_cast<unsigned long long>(st.generation),
                         static_cast<unsigned long long>(c.assigned_times[p]));
                }
            } else if (st.assigned ||
                       st.status != (lost ? kat::status::lost : kat::status::revoked)) {
                fail("%s: partition %d after revoke is status %d", c.name.c_str(), p,
                     static_cast<int>(st.status));
            }
        }
    } catch (const kat::error &e) {
        fail("%s: kat::error in the rebalance callback: %s", c.name.c_str(), e.what());
    }
}

// B's own rebalance callback; its opaque is the consumer.
void own_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *partitions, void *opaque) noexcept {
    on_rebalance(*static_cast<consumer *>(opaque), rk, err, partitions, nullptr);
}

// One turn of the consumer: a poll, or for the event API a queue poll with
// each rebalance event handed to kat::rebalance_event().
void poll_once(consumer &c) {
    if (c.api == via::event) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(c.queue, 50);
        if (ev == nullptr) {
            return;
        }
        if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE) {
            on_rebalance(c, c.rk, rd_kafka_event_error(ev),
                         rd_kafka_event_topic_partition_list(ev), ev);
        }
        rd_kafka_event_destroy(ev);
        return;
    }
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c.rk, 50);
    if (m != nullptr) {
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            say("%s consumer error %s", c.name.c_str(), rd_kafka_err2name(m->err));
        }
        rd_kafka_message_destroy(m);
    }
}

// Closes the consumer on its poll thread: the final revoke goes through the
// glue (inside rd_kafka_consumer_close(), or as an event while the close
// queue is polled).
void close_consumer(consumer &c) {
    if (c.api != via::event) {
        const rd_kafka_resp_err_t err = rd_kafka_consumer_close(c.rk);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fail("%s: rd_kafka_consumer_close: %s", c.name.c_str(), rd_kafka_err2str(err));
        }
        return;
    }
    if (rd_kafka_error_t *error = rd_kafka_consumer_close_queue(c.rk, c.queue)) {
        fail("%s: rd_kafka_consumer_close_queue: %s", c.name.c_str(),
             rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
    const double start = elapsed();
    while (!rd_kafka_consumer_closed(c.rk)) {
        poll_once(c);
        if (elapsed() - start > 30.0) {
            die("%s: close did not finish", c.name.c_str());
        }
    }
}

// While the consumer is quiescent (on its poll thread, between polls), kat's
// view of its group must be librdkafka's assignment.
void check_quiescent(const kat::tracker &tracker, consumer &c, const char *when) {
    mask_t have = 0;
    if (!assignment(c.rk, &have)) {
        fail("%s %s: rd_kafka_assignment failed", c.name.c_str(), when);
        return;
    }
    const mask_t by_group = group_mask(c);
    mask_t by_snapshot = 0;
    const kat::snapshot snap = tracker.snapshot();
    if (const auto view = snap.find(c.name, kTopic)) {
        for (const kat_assigned_partition_t &p : view->partitions()) {
            by_snapshot |= 1u << p.partition;
        }
    }
    if (by_group != have || by_snapshot != have) {
        // kat::check_lost() may have recorded a loss whose revoke is still
        // queued: kat has nothing, librdkafka still lists the partitions.
        const bool pending_loss =
            by_group == 0 && by_snapshot == 0 && rd_kafka_assignment_lost(c.rk);
        if (!pending_loss) {
            fail("%s %s: kat has %s (snapshot %s), rd_kafka_assignment() has %s", c.name.c_str(),
                 when, mask_str(by_group).c_str(), mask_str(by_snapshot).c_str(),
                 mask_str(have).c_str());
        }
        return;
    }
    const mask_t gained = have & ~c.last_seen;
    c.last_seen = have;
    c.ever |= have;
    const kat::group_stats stats = c.group.stats();
    for (int p = 0; p < kPartitions; p++) {
        if (gained & (1u << p)) {
            c.gains_seen[p]++;
        }
        const std::uint64_t gen = c.group.generation(kTopic, p);
        const bool owned = (have & (1u << p)) != 0;
        if (owned && (gen == 0 || !c.handles[p].owned_at(gen) ||
                      c.handles[p].state().status != kat::status::assigned)) {
            fail("%s %s: partition %d owned but generation %llu / handle disagrees",
                 c.name.c_str(), when, p, static_cast<unsigned long long>(gen));
        }
        if (!owned && c.handles[p].owned_at(gen)) {
            fail("%s %s: handle of partition %d owned, librdkafka does not list it",
                 c.name.c_str(), when, p);
        }
        if (gen < c.gains_seen[p] || gen > stats.assigned_events) {
            fail("%s %s: partition %d at generation %llu, seen gained %llu times, %llu assign "
                 "events",
                 c.name.c_str(), when, p, static_cast<unsigned long long>(gen),
                 static_cast<unsigned long long>(c.gains_seen[p]),
                 static_cast<unsigned long long>(stats.assigned_events));
        }
        if (c.sees_rebalances && gen != c.assigned_times[p]) {
            fail("%s %s: partition %d at generation %llu, assigned %llu times", c.name.c_str(),
                 when, p, static_cast<unsigned long long>(gen),
                 static_cast<unsigned long long>(c.assigned_times[p]));
        }
    }
    if (c.sees_rebalances && stats.assigned_events != static_cast<std::uint64_t>(c.nonempty_assign_cbs)) {
        fail("%s %s: %llu assign events in kat, %d non-empty assigns", c.name.c_str(), when,
             static_cast<unsigned long long>(stats.assigned_events), c.nonempty_assign_cbs.load());
    }
}

// kat::check_lost() found the loss before the revoke was served: kat dropped
// every partition, with status lost, while librdkafka still lists them.
void check_loss_recorded(consumer &c, mask_t before) {
    mask_t have = 0;
    if (!assignment(c.rk, &have) || have != before || have == 0) {
        fail("%s: before the revoke rd_kafka_assignment() should still list %s", c.name.c_str(),
             mask_str(before).c_str());
    }
    if (group_mask(c) != 0) {
        fail("%s: kat::check_lost() left partitions assigned", c.name.c_str());
    }
    for (int p = 0; p < kPartitions; p++) {
        if ((before & (1u << p)) && c.handles[p].state().status != kat::status::lost) {
            fail("%s: partition %d not lost after kat::check_lost()", c.name.c_str(), p);
        }
    }
    if (c.group.stats().lost_events == 0) {
        fail("%s: no lost event counted", c.name.c_str());
    }
    c.loss_recorded = true;
    say("%s kat::check_lost recorded the loss of %s before the revoke", c.name.c_str(),
        mask_str(before).c_str());
}

void conf_set(rd_kafka_conf_t *conf, const char *key, const std::string &value) {
    char errstr[512];
    if (rd_kafka_conf_set(conf, key, value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        die("%s=%s: %s", key, value.c_str(), errstr);
    }
}

void consumer_start(const kat::tracker &tracker, consumer &c, const char *client,
                    const char *protocol, const char *bootstraps) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", bootstraps);
    conf_set(conf, "group.id", kGroupId);
    conf_set(conf, "client.id", client);
    conf_set(conf, "enable.auto.commit", "false");
    conf_set(conf, "auto.offset.reset", "earliest");
    conf_set(conf, "partition.assignment.strategy", protocol);
    conf_set(conf, "session.timeout.ms", std::to_string(session_ms));
    conf_set(conf, "heartbeat.interval.ms", "100");
    conf_set(conf, "max.poll.interval.ms", std::to_string(session_ms));
    switch (c.api) {
    case via::kat_cb:
        rd_kafka_conf_set_rebalance_cb(conf, kat::rebalance_cb);
        rd_kafka_conf_set_opaque(conf, c.group.get());
        break;
    case via::own_cb:
        rd_kafka_conf_set_rebalance_cb(conf, own_rebalance_cb);
        rd_kafka_conf_set_opaque(conf, &c);
        break;
    case via::event:
        rd_kafka_conf_set_events(conf, RD_KAFKA_EVENT_REBALANCE);
        break;
    }
    char errstr[512];
    c.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (c.rk == nullptr) {
        die("rd_kafka_new %s: %s", client, errstr);
    }
    rd_kafka_poll_set_consumer(c.rk);
    // kat::set_poll_deadline reads max.poll.interval.ms from the consumer:
    // armed at it minus the margin, refused with a margin not below it.
    // Disarmed again: this program stops polling on purpose (see below).
    expect_ok(kat::set_poll_deadline(c.group, c.rk, std::chrono::milliseconds(100)),
              "kat::set_poll_deadline", c.name);
    if (c.group.poll_stats().deadline_ms != std::uint64_t(session_ms) - 100) {
        die("%s: poll deadline %llu, not max.poll.interval.ms - 100", client,
            (unsigned long long)c.group.poll_stats().deadline_ms);
    }
    if (const auto r = kat::set_poll_deadline(c.group, c.rk, std::chrono::milliseconds(session_ms));
        r || r.err().code() != KAT_ERR_INVALID_ARGUMENT) {
        die("%s: a margin of max.poll.interval.ms was not refused", client);
    }
    c.group.set_poll_deadline(std::chrono::milliseconds(0));
    if (c.group.poll_stats().deadline_ms != 0) {
        die("%s: the poll deadline was not disarmed", client);
    }
    if (c.api == via::event) {
        c.queue = rd_kafka_queue_get_consumer(c.rk);
    }
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, kTopic, RD_KAFKA_PARTITION_UA);
    const rd_kafka_resp_err_t err = rd_kafka_subscribe(c.rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        die("subscribe %s: %s", client, rd_kafka_err2str(err));
    }

    c.thread = std::thread([&tracker, &c] {
        try {
            while (c.cmd != command::close) {
                if (c.cmd == command::pause) {
                    c.paused = true;
                    sleep_ms(10);
                    continue;
                }
                c.paused = false;
                // Before the poll, as the lost test needs it: the poll would
                // serve the queued lost revoke first.
                const mask_t before = group_mask(c);
                const bool flagged = rd_kafka_assignment_lost(c.rk) != 0;
                expect_ok(kat::check_lost(c.group, c.rk), "kat::check_lost", c.name);
                if (flagged && before != 0) {
                    check_loss_recorded(c, before);
                }
                poll_once(c);
                check_quiescent(tracker, c, "after poll");
                c.polls++;
            }
            close_consumer(c);
        } catch (const kat::error &e) {
            fail("%s poll thread: kat::error %s", c.name.c_str(), e.what());
        }
    });
}

// After close: the final revoke went through the glue. The group is empty
// in a snapshot and every partition it ever had is revoked, at the
// generation it had, no longer owned.
void check_closed(const kat::tracker &tracker, consumer &c) {
    const std::map<std::string, mask_t> masks = snapshot_masks(tracker);
    const auto it = masks.find(c.name);
    if (it == masks.end() || it->second != 0) {
        fail("%s: after close the snapshot has %s", c.name.c_str(),
             it == masks.end() ? "no such group" : mask_str(it->second).c_str());
    }
    const kat::snapshot after = tracker.snapshot();
    if (after.find(c.name, kTopic).has_value()) {
        fail("%s: snapshot still finds %s after close", c.name.c_str(), kTopic);
    }
    if (c.ever == 0) {
        fail("%s: was never assigned anything", c.name.c_str());
    }
    for (int p = 0; p < kPartitions; p++) {
        if (!(c.ever & (1u << p))) {
            continue;
        }
        const std::uint64_t gen = tracker.generation(c.name, kTopic, p);
        const kat::partition_state st = c.handles[p].state();
        if (gen == 0 || st.generation != gen || st.status != kat::status::revoked ||
            st.assigned || c.handles[p].owned_at(gen) || tracker.is_assigned(c.name, kTopic, p)) {
            fail("%s: partition %d after close: status %d, generation %llu", c.name.c_str(), p,
                 static_cast<int>(st.status), static_cast<unsigned long long>(gen));
        }
    }
}

void stop(consumer &c) {
    c.cmd = command::close;
    c.thread.join();
}

void summary(const consumer &c) {
    const kat::group_stats s = c.group.stats();
    std::uint64_t gains = 0;
    for (const std::uint64_t n : c.gains_seen) {
        gains += n;
    }
    say("summary %s assigns=%d revokes=%d gains_seen=%llu kat_assigned_events=%llu "
        "kat_revoked_events=%llu kat_lost_events=%llu polls=%d",
        c.name.c_str(), c.assign_cbs.load(), c.revoke_cbs.load(),
        static_cast<unsigned long long>(gains),
        static_cast<unsigned long long>(s.assigned_events),
        static_cast<unsigned long long>(s.revoked_events),
        static_cast<unsigned long long>(s.lost_events), c.polls.load());
}

// The live consumers' assignments split the topic, none empty, and kat
// agrees: snapshot (range-for), tracker reads by name.
bool stable(const kat::tracker &tracker, const std::vector<consumer *> &cs, std::string *desc) {
    const std::map<std::string, mask_t> masks = snapshot_masks(tracker);
    mask_t all = 0;
    bool ok = true;
    desc->clear();
    for (consumer *c : cs) {
        mask_t have = 0;
        const bool known = assignment(c->rk, &have);
        const auto it = masks.find(c->name);
        const mask_t view = it == masks.end() ? 0 : it->second;
        *desc += " " + c->name + "=" + mask_str(have) + " kat=" + mask_str(view);
        if (!known || have == 0 || (have & all) != 0 || view != have) {
            ok = false;
        }
        for (int p = 0; p < kPartitions; p++) {
            const bool owned = (have & (1u << p)) != 0;
            if (tracker.is_assigned(c->name, kTopic, p) != owned ||
                (owned && tracker.generation(c->name, kTopic, p) == 0)) {
                ok = false;
            }
        }
        all |= have;
    }
    return ok && all == kAll;
}

void wait_stable(const kat::tracker &tracker, const std::vector<consumer *> &cs,
                 const char *what) {
    const double start = elapsed();
    std::string desc;
    while (!stable(tracker, cs, &desc)) {
        if (elapsed() - start > 30.0) {
            die("%s: no stable assignment after 30 s:%s", what, desc.c_str());
        }
        sleep_ms(20);
    }
    say("stable %s:%s (%.2f s)", what, desc.c_str(), elapsed() - start);
}

// Lower bound on A's generations: every partition in `parts` was assigned to
// A at least `times` times by now.
void expect_generations_at_least(const kat::tracker &tracker, const consumer &c, mask_t parts,
                                 std::uint64_t times, const char *why) {
    for (int p = 0; p < kPartitions; p++) {
        if (!(parts & (1u << p))) {
            continue;
        }
        const std::uint64_t gen = tracker.generation(c.name, kTopic, p);
        if (gen < times) {
            fail("%s: partition %d at generation %llu, want >= %llu (%s)", c.name.c_str(), p,
                 static_cast<unsigned long long>(gen), static_cast<unsigned long long>(times),
                 why);
        }
    }
}

mask_t current(const consumer &c) {
    mask_t m = 0;
    if (!assignment(c.rk, &m)) {
        fail("%s: rd_kafka_assignment failed", c.name.c_str());
    }
    return m;
}

struct mock {
    rd_kafka_t *producer = nullptr;  // owns the mock cluster
    const char *bootstraps = nullptr;

    mock() {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        conf_set(conf, "test.mock.num.brokers", "1");
        char errstr[512];
        producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
        if (producer == nullptr) {
            die("mock producer: %s", errstr);
        }
        rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(producer);
        if (mc == nullptr) {
            die("no mock cluster");
        }
        bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
        if (rd_kafka_mock_topic_create(mc, kTopic, kPartitions, 1) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            die("mock topic");
        }
    }
    mock(const mock &) = delete;
    mock &operator=(const mock &) = delete;
    ~mock() { rd_kafka_destroy(producer); }
};

void run(const char *protocol, via b_api) {
    const bool cooperative = std::strcmp(protocol, "cooperative-sticky") == 0;
    const kat::tracker tracker;
    const mock cluster;
    consumer a(tracker, "A", via::kat_cb);
    consumer b(tracker, "B", b_api);

    consumer_start(tracker, a, "A", protocol, cluster.bootstraps);
    wait_stable(tracker, {&a}, "after A joined");

    consumer_start(tracker, b, "B", protocol, cluster.bootstraps);
    wait_stable(tracker, {&a, &b}, "after B joined");
    const mask_t a_shared = current(a);
    const mask_t b_had = current(b);
    if (!cooperative) {
        // Eager: A gave everything back when B joined and was assigned its
        // share again.
        expect_generations_at_least(tracker, a, a_shared, 2, "eager: assigned alone, then again");
    }

    stop(b);
    check_closed(tracker, b);
    wait_stable(tracker, {&a}, "after B left");
    // What B had came back to A: assigned alone, then again after B left.
    expect_generations_at_least(tracker, a, b_had, 2, "regained from B");
    if (!cooperative) {
        // Eager: A's share was assigned alone, with B, and again now.
        expect_generations_at_least(tracker, a, a_shared, 3, "eager: three rounds");
    }

    // A stops polling past max.poll.interval.ms: librdkafka marks the
    // assignment lost, and kat::check_lost() records it on the next turn of
    // A's loop, before the poll serves the lost revoke.
    std::array<std::uint64_t, kPartitions> before{};
    for (int p = 0; p < kPartitions; p++) {
        before[static_cast<std::size_t>(p)] = tracker.generation(a.name, kTopic, p);
    }
    a.cmd = command::pause;
    while (!a.paused) {
        sleep_ms(5);
    }
    say("A stopped polling");
    const double paused_at = elapsed();
    while (!rd_kafka_assignment_lost(a.rk)) {
        if (elapsed() - paused_at > 30.0) {
            die("A: assignment not lost 30 s after it stopped polling");
        }
        sleep_ms(10);
    }
    say("A: librdkafka marked the assignment lost");
    a.cmd = command::run;
    const double resumed_at = elapsed();
    while (!a.loss_recorded) {
        if (elapsed() - resumed_at > 10.0) {
            die("A: kat::check_lost() did not record the loss");
        }
        sleep_ms(5);
    }
    wait_stable(tracker, {&a}, "after A rejoined");
    for (int p = 0; p < kPartitions; p++) {
        expect_generations_at_least(tracker, a, 1u << p, before[static_cast<std::size_t>(p)] + 1,
                                    "reassigned after the loss");
    }

    stop(a);
    check_closed(tracker, a);
    if (b.queue != nullptr) {
        rd_kafka_queue_destroy(b.queue);
    }
    rd_kafka_destroy(b.rk);
    rd_kafka_destroy(a.rk);
    summary(a);
    summary(b);
    if (b.assign_cbs < 1 || b.revoke_cbs < 1) {
        fail("B: expected to see an assign and a revoke at least");
    }
}

}  // namespace

int main(int argc, char **argv) {
    const bool protocol_ok = argc >= 2 && (std::strcmp(argv[1], "range") == 0 ||
                                           std::strcmp(argv[1], "cooperative-sticky") == 0);
    const char *api = argc == 3 ? argv[2] : "cb";
    const bool api_ok = std::strcmp(api, "cb") == 0 || std::strcmp(api, "event") == 0;
    if (argc > 3 || !protocol_ok || !api_ok) {
        std::fprintf(stderr, "usage: %s <range|cooperative-sticky> [cb|event]\n", argv[0]);
        return 2;
    }
    if (const char *ms = std::getenv("KAT_GLUE_SESSION_MS")) {
        // Slower hosts (valgrind) need longer sessions to form a group.
        session_ms = std::atoi(ms);
    }
    say("librdkafka %s, kat %s: C++ %s, B via %s", rd_kafka_version_str(), kat_version(), argv[1],
        api);
    try {
        run(argv[1], std::strcmp(api, "event") == 0 ? via::event : via::own_cb);
    } catch (const kat::error &e) {
        die("kat::error: %s", e.what());
    }
    if (failures != 0) {
        say("%d check(s) failed", failures.load());
        return 1;
    }
    if (argc == 3) {
        say("PASS %s %s", argv[1], argv[2]);
    } else {
        say("PASS %s", argv[1]);
    }
    return 0;
}
