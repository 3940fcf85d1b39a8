// kat_rdkafkacpp.hpp (the glue for librdkafka's C++ API) with two real
// RdKafka::KafkaConsumer consumers on librdkafka's mock cluster. Built by
// tests/glue.rs with g++ -std=c++17 -Wall -Wextra -Werror -pedantic, linked
// with librdkafka++ (Debian's 2.0.2, or the 2.12.1 rdkafka-sys builds).
//
//   cpp_rdkafkacpp <range|cooperative-sticky|consumer>
//
// One kat::tracker; consumers A and B of group "kat-rdkafkacpp" (topic
// "orders", 4 partitions), each polling (consume()) on its own std::thread:
//   A  rebalance_cb = kat::rdkafkacpp::rebalance_callback, owning A's group;
//   B  the program's own RdKafka::RebalanceCb, which calls
//      kat::rdkafkacpp::rebalance() and counts how often each partition was
//      assigned to B, checking every listed partition's state right after;
//      with a cooperative protocol it also repeats its first assign, which
//      librdkafka refuses: nothing recorded, one glue failure counted.
// After every poll a thread calls kat::rdkafkacpp::check_lost() and checks
// that kat's view of its group (reads by name and a snapshot) equals
// consumer->assignment() and that generations match the assigns seen.
//
// Steps, each waiting for a stable state: A joins; B joins; B closes (its
// final revoke goes through its callback: B's group is empty, all revoked);
// A gets everything; A stops polling past max.poll.interval.ms and
// check_lost() records the loss before the revoke is served; A rejoins; A
// closes. A's callback must have counted no failure. Prints
// PASS <protocol> and exits 0 when every check held.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kat_rdkafkacpp.hpp"
#include "kat_rdkafkacpp.hpp"  // twice on purpose: the include guard holds

#include <array>
#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr const char *kTopic = "orders";
constexpr int kPartitions = 4;
constexpr const char *kGroupId = "kat-rdkafkacpp";

using mask_t = unsigned;
constexpr mask_t kAll = (1u << kPartitions) - 1;

using clock_type = std::chrono::steady_clock;
const clock_type::time_point t0 = clock_type::now();
std::mutex out_lock;
std::atomic<int> failures{0};
int session_ms = RD_KAFKA_VERSION >= 0x020c0000 ? 1500 : 3000;
bool kip848 = false;

double elapsed() { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

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
        fail("%s %s: %s", who.c_str(), what, r.err().what());
    }
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

std::string mask_str(mask_t m) {
    std::string s = "[";
    for (int p = 0; p < kPartitions; p++) {
        if (m & (1u << p)) {
            s += (s.size() > 1 ? "," : "") + std::to_string(p);
        }
    }
    return s + "]";
}

mask_t list_mask(const std::vector<RdKafka::TopicPartition *> &list) {
    mask_t m = 0;
    for (const RdKafka::TopicPartition *tp : list) {
        if (tp->topic() != kTopic || tp->partition() < 0 || tp->partition() >= kPartitions) {
            fail("unexpected partition %s [%d]", tp->topic().c_str(), tp->partition());
            continue;
        }
        m |= 1u << tp->partition();
    }
    return m;
}

// consumer->assignment() as a mask; false if librdkafka could not say.
bool assignment(RdKafka::KafkaConsumer *kc, mask_t *out) {
    std::vector<RdKafka::TopicPartition *> list;
    const RdKafka::ErrorCode err = kc->assignment(list);
    *out = err == RdKafka::ERR_NO_ERROR ? list_mask(list) : 0;
    RdKafka::TopicPartition::destroy(list);
    return err == RdKafka::ERR_NO_ERROR;
}

enum class command { run, pause, close };

struct consumer;

// B's rebalance callback: kat::rdkafkacpp::rebalance() makes the assign
// call and records it; the program counts and checks.
class counting_cb : public RdKafka::RebalanceCb {
public:
    explicit counting_cb(consumer &c) : c_(c) {}
    void rebalance_cb(RdKafka::KafkaConsumer *kc, RdKafka::ErrorCode err,
                      std::vector<RdKafka::TopicPartition *> &partitions) override;

private:
    consumer &c_;
    bool kip848_or_coop_checked = false;
};

struct consumer {
    consumer(const kat::tracker &tracker, const char *client, bool ready_cb)
        : name(std::string(kGroupId) + "/" + client), group(tracker.group(name)) {
        if (ready_cb) {
            // The ready callback owns a group object of its own: the same
            // kat group, since groups are got by name.
            ready = std::make_unique<kat::rdkafkacpp::rebalance_callback>(tracker.group(name));
        } else {
            counting = std::make_unique<counting_cb>(*this);
        }
        for (int p = 0; p < kPartitions; p++) {
            handles.push_back(group.partition(kTopic, p));
        }
    }

    const std::string name;  // kat group name: "<group.id>/<client.id>"
    const kat::group group;
    std::unique_ptr<kat::rdkafkacpp::rebalance_callback> ready;  // A
    std::unique_ptr<counting_cb> counting;                       // B
    std::vector<kat::partition_handle> handles;
    std::unique_ptr<RdKafka::KafkaConsumer> kc;
    std::thread thread;

    std::atomic<command> cmd{command::run};
    std::atomic<bool> paused{false};
    std::atomic<int> assign_cbs{0};
    std::atomic<int> nonempty_assign_cbs{0};
    std::atomic<int> revoke_cbs{0};
    std::atomic<bool> loss_recorded{false};
    std::atomic<int> polls{0};

    // Poll thread only (the main thread reads them after join()).
    std::array<std::uint64_t, kPartitions> assigned_times{};
    std::array<std::uint64_t, kPartitions> gains_seen{};
    mask_t last_seen = 0;
    mask_t ever = 0;

    bool sees_rebalances() const { return counting != nullptr; }

    consumer(const consumer &) = delete;
    consumer &operator=(const consumer &) = delete;
    ~consumer() {
        if (thread.joinable()) {
            cmd = command::close;
            thread.join();
        }
    }
};

mask_t group_mask(const consumer &c) {
    mask_t m = 0;
    for (int p = 0; p < kPartitions; p++) {
        if (c.group.is_assigned(kTopic, p)) {
            m |= 1u << p;
        }
    }
    return m;
}

void counting_cb::rebalance_cb(RdKafka::KafkaConsumer *kc, RdKafka::ErrorCode err,
                               std::vector<RdKafka::TopicPartition *> &partitions) {
    consumer &c = c_;
    const bool lost = kc->assignment_lost();
    const mask_t listed = list_mask(partitions);
    expect_ok(kat::rdkafkacpp::rebalance(c.group, kc, err, partitions), "kat::rdkafkacpp::rebalance",
              c.name);
    say("%s %s %s%s", c.name.c_str(), RdKafka::err2str(err).c_str(), mask_str(listed).c_str(),
        lost ? " (lost)" : "");
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS && listed != 0 && !kip848_or_coop_checked &&
        kc->rebalance_protocol() == "COOPERATIVE") {
        // A second incremental assign of the same partitions is refused by
        // librdkafka: reported, nothing recorded, counted as a glue failure.
        kip848_or_coop_checked = true;
        const std::uint64_t epoch = c.group.stats().assigned_events;
        const std::uint64_t before = c.group.stats().glue_failures;
        const kat::result<void> r = kat::rdkafkacpp::rebalance(c.group, kc, err, partitions);
        if (r || r.err().code() != KAT_ERR_RDKAFKA ||
            std::string(r.err().what()).find("incremental_assign failed") == std::string::npos) {
            fail("%s: a refused incremental_assign: %s", c.name.c_str(),
                 r ? "accepted" : r.err().what());
        }
        if (c.group.stats().glue_failures != before + 1 ||
            c.group.stats().assigned_events != epoch) {
            fail("%s: the refused assign was recorded or not counted", c.name.c_str());
        }
        say("%s refused assign: %s", c.name.c_str(), r ? "" : r.err().what());
    }
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
        c.assign_cbs++;
        if (listed != 0) {
            c.nonempty_assign_cbs++;
        }
    } else {
        c.revoke_cbs++;
    }
    for (int p = 0; p < kPartitions; p++) {
        if (!(listed & (1u << p))) {
            continue;
        }
        const kat::result<kat::partition_state> st = c.handles[p].try_state();
        if (!st) {
            fail("%s: %s", c.name.c_str(), st.err().what());
            continue;
        }
        if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
            c.assigned_times[p]++;
            if (!st->assigned || st->generation != c.assigned_times[p]) {
                fail("%s: partition %d after assign: generation %llu, assigned %llu times",
                     c.name.c_str(), p, static_cast<unsigned long long>(st->generation),
                     static_cast<unsigned long long>(c.assigned_times[p]));
            }
        } else if (st->assigned || st->status != (lost ? kat::status::lost : kat::status::revoked)) {
            fail("%s: partition %d after revoke is status %d", c.name.c_str(), p,
                 static_cast<int>(st->status));
        }
    }
}

// On the poll thread, between polls: kat's view of the group is
// consumer->assignment(), and the generations agree with the assigns seen.
void check_quiescent(const kat::tracker &tracker, consumer &c) {
    mask_t have = 0;
    if (!assignment(c.kc.get(), &have)) {
        fail("%s: assignment() failed", c.name.c_str());
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
        // check_lost() may have recorded a loss whose revoke is still queued.
        if (!(by_group == 0 && by_snapshot == 0 && c.kc->assignment_lost())) {
            fail("%s: kat has %s (snapshot %s), assignment() has %s", c.name.c_str(),
                 mask_str(by_group).c_str(), mask_str(by_snapshot).c_str(),
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
        if (owned != c.handles[p].owned_at(gen) || (owned && gen == 0)) {
            fail("%s: partition %d owned=%d at generation %llu, handle disagrees", c.name.c_str(),
                 p, owned, static_cast<unsigned long long>(gen));
        }
        if (gen < c.gains_seen[p] || gen > stats.assigned_events) {
            fail("%s: partition %d at generation %llu, gained %llu times, %llu assign events",
                 c.name.c_str(), p, static_cast<unsigned long long>(gen),
                 static_cast<unsigned long long>(c.gains_seen[p]),
                 static_cast<unsigned long long>(stats.assigned_events));
        }
        if (c.sees_rebalances() && gen != c.assigned_times[p]) {
            fail("%s: partition %d at generation %llu, assigned %llu times", c.name.c_str(), p,
                 static_cast<unsigned long long>(gen),
                 static_cast<unsigned long long>(c.assigned_times[p]));
        }
    }
    if (c.sees_rebalances() &&
        stats.assigned_events != static_cast<std::uint64_t>(c.nonempty_assign_cbs)) {
        fail("%s: %llu assign events in kat, %d non-empty assigns", c.name.c_str(),
             static_cast<unsigned long long>(stats.assigned_events), c.nonempty_assign_cbs.load());
    }
}

void check_loss_recorded(consumer &c, mask_t before) {
    mask_t have = 0;
    if (!assignment(c.kc.get(), &have) || have != before || have == 0) {
        fail("%s: before the revoke assignment() should still list %s", c.name.c_str(),
             mask_str(before).c_str());
    }
    if (group_mask(c) != 0) {
        fail("%s: check_lost() left partitions assigned", c.name.c_str());
    }
    for (int p = 0; p < kPartitions; p++) {
        if ((before & (1u << p)) && c.handles[p].state().status != kat::status::lost) {
            fail("%s: partition %d not lost after check_lost()", c.name.c_str(), p);
        }
    }
    c.loss_recorded = true;
    say("%s kat::rdkafkacpp::check_lost recorded the loss of %s before the revoke",
        c.name.c_str(), mask_str(before).c_str());
}

void conf_set(RdKafka::Conf *conf, const std::string &key, const std::string &value) {
    std::string errstr;
    if (conf->set(key, value, errstr) != RdKafka::Conf::CONF_OK) {
        die("%s=%s: %s", key.c_str(), value.c_str(), errstr.c_str());
    }
}

void consumer_start(const kat::tracker &tracker, consumer &c, const char *client,
                    const char *protocol, const std::string &bootstraps) {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    conf_set(conf.get(), "bootstrap.servers", bootstraps);
    conf_set(conf.get(), "group.id", kGroupId);
    conf_set(conf.get(), "client.id", client);
    conf_set(conf.get(), "enable.auto.commit", "false");
    conf_set(conf.get(), "auto.offset.reset", "earliest");
    if (kip848) {
        conf_set(conf.get(), "group.protocol", "consumer");
    } else {
        conf_set(conf.get(), "partition.assignment.strategy", protocol);
        conf_set(conf.get(), "session.timeout.ms", std::to_string(session_ms));
        conf_set(conf.get(), "heartbeat.interval.ms", "100");
    }
    conf_set(conf.get(), "max.poll.interval.ms", std::to_string(session_ms));
    std::string errstr;
    RdKafka::RebalanceCb *cb = c.ready ? static_cast<RdKafka::RebalanceCb *>(c.ready.get())
                                       : c.counting.get();
    if (conf->set("rebalance_cb", cb, errstr) != RdKafka::Conf::CONF_OK) {
        die("rebalance_cb: %s", errstr.c_str());
    }
    c.kc.reset(RdKafka::KafkaConsumer::create(conf.get(), errstr));
    if (!c.kc) {
        die("KafkaConsumer::create %s: %s", client, errstr.c_str());
    }
    const RdKafka::ErrorCode err = c.kc->subscribe({kTopic});
    if (err != RdKafka::ERR_NO_ERROR) {
        die("subscribe %s: %s", client, RdKafka::err2str(err).c_str());
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
                const mask_t before = group_mask(c);
                const bool flagged = c.kc->assignment_lost();
                expect_ok(kat::rdkafkacpp::check_lost(c.group, c.kc.get()), "check_lost", c.name);
                if (flagged && before != 0) {
                    check_loss_recorded(c, before);
                }
                delete c.kc->consume(50);
                check_quiescent(tracker, c);
                c.polls++;
            }
            // The final revoke goes through the rebalance callback.
            const RdKafka::ErrorCode err = c.kc->close();
            if (err != RdKafka::ERR_NO_ERROR) {
                fail("%s: close: %s", c.name.c_str(), RdKafka::err2str(err).c_str());
            }
        } catch (const kat::error &e) {
            fail("%s poll thread: kat::error %s", c.name.c_str(), e.what());
        }
    });
}

// After close the group is empty and everything it had is revoked.
void check_closed(const kat::tracker &tracker, consumer &c) {
    const kat::snapshot snap = tracker.snapshot();
    if (snap.find(c.name, kTopic).has_value() || group_mask(c) != 0) {
        fail("%s: still assigned after close", c.name.c_str());
    }
    if (c.ever == 0) {
        fail("%s: was never assigned anything", c.name.c_str());
    }
    for (int p = 0; p < kPartitions; p++) {
        if (!(c.ever & (1u << p))) {
            continue;
        }
        const kat::partition_state st = c.handles[p].state();
        if (st.generation == 0 || st.status != kat::status::revoked || st.assigned) {
            fail("%s: partition %d after close: status %d, generation %llu", c.name.c_str(), p,
                 static_cast<int>(st.status), static_cast<unsigned long long>(st.generation));
        }
    }
}

void stop(consumer &c) {
    c.cmd = command::close;
    c.thread.join();
}

bool stable(const kat::tracker &tracker, const std::vector<consumer *> &cs, std::string *desc) {
    const kat::snapshot snap = tracker.snapshot();
    mask_t all = 0;
    bool ok = true;
    desc->clear();
    for (consumer *c : cs) {
        mask_t have = 0;
        const bool known = assignment(c->kc.get(), &have);
        mask_t view = 0;
        if (const auto v = snap.find(c->name, kTopic)) {
            for (const kat_assigned_partition_t &p : v->partitions()) {
                view |= 1u << p.partition;
            }
        }
        *desc += " " + c->name + "=" + mask_str(have) + " kat=" + mask_str(view);
        if (!known || have == 0 || (have & all) != 0 || view != have) {
            ok = false;
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

void summary(const consumer &c) {
    const kat::group_stats s = c.group.stats();
    std::uint64_t gains = 0;
    for (const std::uint64_t n : c.gains_seen) {
        gains += n;
    }
    say("summary %s assigns=%d revokes=%d gains_seen=%llu kat_assigned_events=%llu "
        "kat_revoked_events=%llu kat_lost_events=%llu failures=%llu glue_failures=%llu polls=%d",
        c.name.c_str(), c.assign_cbs.load(), c.revoke_cbs.load(),
        static_cast<unsigned long long>(gains), static_cast<unsigned long long>(s.assigned_events),
        static_cast<unsigned long long>(s.revoked_events),
        static_cast<unsigned long long>(s.lost_events),
        static_cast<unsigned long long>(c.ready ? c.ready->failures() : 0),
        static_cast<unsigned long long>(s.glue_failures), c.polls.load());
}

struct mock {
    rd_kafka_t *producer = nullptr;  // owns the mock cluster
    std::string bootstraps;

    mock() {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char errstr[512];
        if (rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
            die("test.mock.num.brokers: %s", errstr);
        }
        producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
        if (producer == nullptr) {
            die("mock producer: %s", errstr);
        }
        rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(producer);
        if (mc == nullptr) {
            die("no mock cluster");
        }
        bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
        if (rd_kafka_mock_topic_create(mc, kTopic, kPartitions, 1) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            die("mock topic");
        }
#if RD_KAFKA_VERSION >= 0x020c0000
        rd_kafka_mock_group_initial_rebalance_delay_ms(mc, 0);
        rd_kafka_mock_set_group_consumer_heartbeat_interval_ms(mc, 100);
        rd_kafka_mock_set_group_consumer_session_timeout_ms(mc, 1500);
#endif
    }
    mock(const mock &) = delete;
    mock &operator=(const mock &) = delete;
    ~mock() { rd_kafka_destroy(producer); }
};

void run(const char *protocol) {
    const bool eager = std::strcmp(protocol, "range") == 0;
    const kat::tracker tracker;
    const mock cluster;
    consumer a(tracker, "A", true);
    consumer b(tracker, "B", false);

    consumer_start(tracker, a, "A", protocol, cluster.bootstraps);
    wait_stable(tracker, {&a}, "after A joined");
    consumer_start(tracker, b, "B", protocol, cluster.bootstraps);
    wait_stable(tracker, {&a, &b}, "after B joined");
    mask_t a_shared = 0, b_had = 0;
    if (!assignment(a.kc.get(), &a_shared) || !assignment(b.kc.get(), &b_had)) {
        fail("assignment() failed");
    }
    if (eager) {
        // Eager: A gave everything back when B joined and got its share again.
        for (int p = 0; p < kPartitions; p++) {
            if ((a_shared & (1u << p)) && a.group.generation(kTopic, p) < 2) {
                fail("A: partition %d not assigned twice", p);
            }
        }
    }

    stop(b);
    check_closed(tracker, b);
    wait_stable(tracker, {&a}, "after B left");
    for (int p = 0; p < kPartitions; p++) {
        if ((b_had & (1u << p)) && a.group.generation(kTopic, p) < 2) {
            fail("A: partition %d regained from B at generation < 2", p);
        }
    }

    // A stops polling past max.poll.interval.ms: librdkafka marks the
    // assignment lost and check_lost() records it before the revoke.
    std::array<std::uint64_t, kPartitions> before{};
    for (int p = 0; p < kPartitions; p++) {
        before[static_cast<std::size_t>(p)] = a.group.generation(kTopic, p);
    }
    a.cmd = command::pause;
    while (!a.paused) {
        sleep_ms(5);
    }
    say("A stopped polling");
    const double paused_at = elapsed();
    while (!a.kc->assignment_lost()) {
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
            die("A: check_lost() did not record the loss");
        }
        sleep_ms(5);
    }
    wait_stable(tracker, {&a}, "after A rejoined");
    for (int p = 0; p < kPartitions; p++) {
        if (a.group.generation(kTopic, p) < before[static_cast<std::size_t>(p)] + 1) {
            fail("A: partition %d not reassigned after the loss", p);
        }
    }

    stop(a);
    check_closed(tracker, a);
    summary(a);
    summary(b);
    if (a.ready->failures() != 0) {
        fail("A: the ready callback counted %llu failures",
             static_cast<unsigned long long>(a.ready->failures()));
    }
    if (b.assign_cbs < 1 || b.revoke_cbs < 1) {
        fail("B: expected to see an assign and a revoke at least");
    }
    b.kc.reset();
    a.kc.reset();
}

}  // namespace

int main(int argc, char **argv) {
    const bool ok = argc == 2 && (std::strcmp(argv[1], "range") == 0 ||
                                  std::strcmp(argv[1], "cooperative-sticky") == 0 ||
                                  std::strcmp(argv[1], "consumer") == 0);
    if (!ok) {
        std::fprintf(stderr, "usage: %s <range|cooperative-sticky|consumer>\n", argv[0]);
        return 2;
    }
    kip848 = std::strcmp(argv[1], "consumer") == 0;
    if (kip848 && RD_KAFKA_VERSION < 0x020c0000) {
        die("this librdkafka's mock has no KIP-848 consumer groups");
    }
    if (const char *ms = std::getenv("KAT_GLUE_SESSION_MS")) {
        session_ms = std::atoi(ms);
    }
    say("librdkafka %s (C++ %s), kat %s: %s", rd_kafka_version_str(),
        RdKafka::version_str().c_str(), kat_version(), argv[1]);
    try {
        run(argv[1]);
    } catch (const kat::error &e) {
        die("kat::error: %s", e.what());
    }
    if (failures != 0) {
        say("%d check(s) failed", failures.load());
        return 1;
    }
    say("PASS %s", argv[1]);
    return 0;
}
