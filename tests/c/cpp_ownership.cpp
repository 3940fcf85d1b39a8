// cpp_ownership.cpp: ownership that ends on time, from C++ (kat.hpp and
// kat_rdkafka.hpp): fencing tokens, RAII leases, the drain barrier,
// wait_not_owned across threads, poll-deadline expiry seen by a reader with
// no call from the stuck thread, and the commit guard. Uses librdkafka only
// for its partition lists.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <poll.h>
#include <unistd.h>

#include "kat_rdkafka.hpp"

static unsigned long checks = 0;

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            std::exit(1);                                                               \
        }                                                                               \
        ++checks;                                                                       \
    } while (0)

using std::chrono::milliseconds;

// True once `h` reads not assigned, polling its state (reads only) for up to
// `limit`; valgrind slows kat's timer thread, hence the generous limit.
static bool becomes_not_owned(const kat::partition_handle &h, milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (!h.state().assigned) {
            return true;
        }
        std::this_thread::sleep_for(milliseconds(2));
    }
    return !h.state().assigned;
}

static rd_kafka_topic_partition_list_t *orders(std::initializer_list<int> parts) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(int(parts.size()));
    for (int p : parts) {
        rd_kafka_topic_partition_list_add(l, "orders", p)->offset = 100 + p;
    }
    return l;
}

static void tokens_and_member_id(kat::tracker &t) {
    const kat::group g = t.group("tokens");
    const kat::partition_handle h = g.partition("orders", 0);
    kat::fencing_token tok = h.token();
    CHECK(!tok.owned && tok.generation == 0 && tok.broker_generation == 0);
    CHECK(g.broker_generation() == 0);
    kat::result<std::string> none = g.try_member_id();
    CHECK(!none && none.err().code() == KAT_ERR_NOT_FOUND);

    CHECK(kat_group_record_broker_generation(g.get(), 7, "member-1") == KAT_OK);
    g.assigned("orders", {0});
    g.revoked("orders", {0});
    g.assigned("orders", {0});
    tok = h.token();
    CHECK(tok.owned && tok.generation == 2 && tok.generation == h.state().generation);
    CHECK(tok.broker_generation == 7 && g.broker_generation() == 7);
    CHECK(g.member_id() == "member-1");
    CHECK(*g.try_broker_generation() == 7);

    // Commit guard: an entry for a partition not owned is dropped, owned
    // ones are kept; a stale broker generation drops everything.
    rd_kafka_topic_partition_list_t *offsets = orders({0, 1});
    kat::result<std::size_t> removed = kat::commit_guard(g, offsets);
    CHECK(removed && *removed == 1);
    CHECK(offsets->cnt == 1 && offsets->elems[0].partition == 0 && offsets->elems[0].offset == 100);
    removed = kat::commit_guard(g, offsets, tok.broker_generation);
    CHECK(removed && *removed == 0 && offsets->cnt == 1);
    removed = kat::commit_guard(g, offsets, 6);
    CHECK(removed && *removed == 1 && offsets->cnt == 0);
    rd_kafka_topic_partition_list_destroy(offsets);
    removed = kat::commit_guard(g, nullptr);
    CHECK(!removed && removed.err().code() == KAT_ERR_NULL_POINTER);
}

static void leases(kat::tracker &t) {
    const kat::group g = t.group("leases");
    const kat::partition_handle h = g.partition("orders", 0);
    kat::result<kat::lease> early = h.try_lease(1);
    CHECK(!early && early.err().code() == KAT_ERR_NOT_FOUND);
    CHECK(std::string(early.err().what()).find("not owned at generation 1") != std::string::npos);

    g.assigned("orders", {0});
    {
        kat::result<kat::lease> wrong = h.try_lease(2);
        CHECK(!wrong);
        kat::lease l = h.lease(1);
        CHECK(l.held() && l.valid() && l.generation() == 1);
        kat::lease moved = std::move(l);
        CHECK(!l.held() && !l.valid() && moved.valid());
    }
    // The destructor released it: nothing is left to release on the key.
    CHECK(kat_partition_handle_lease_release(h.get()) == KAT_ERR_INVALID_ARGUMENT);

    kat::lease l = h.lease(1);
    l.release();
    CHECK(!l.held() && !l.valid());
    CHECK(kat_partition_handle_lease_release(h.get()) == KAT_ERR_INVALID_ARGUMENT);

    // A revoke (no drain) invalidates a held lease and new ones fail.
    kat::lease held = h.lease(1);
    g.revoked("orders", {0});
    CHECK(!held.valid());
    kat::result<kat::lease> after = h.try_lease(1);
    CHECK(!after && after.err().code() == KAT_ERR_NOT_FOUND);
    held.release();

    // A moved-from handle: a clear error.
    kat::partition_handle h2 = g.partition("orders", 1);
    const kat::partition_handle taken = std::move(h2);
    kat::result<kat::lease> none = h2.try_lease(0);
    CHECK(!none && none.err().code() == KAT_ERR_NULL_POINTER);
    CHECK(!h2.try_token() && !h2.try_wait_not_owned(0, milliseconds(0)));
    (void)taken;
}

static void drain_barrier(kat::tracker &t) {
    const kat::group g = t.group("drain");
    const kat::partition_handle h = g.partition("orders", 0);
    g.assigned("orders", {0, 1});
    kat::drain_stats d = g.drain_stats();
    CHECK(d.timeout_ms == 0 && d.drains == 0);

    // An orderly revoke waits for the lease: the worker releases it after
    // the drain started, and the drain ends with nothing held.
    g.set_drain_timeout(milliseconds(30000));
    CHECK(g.drain_stats().timeout_ms == 30000);
    std::atomic<bool> released{false};
    std::atomic<bool> draining{false};
    std::thread worker([&] {
        kat::lease l = h.lease(1);
        draining.store(true);
        // While the drain runs, the handle reads not owned, new leases fail,
        // and the held lease stays valid.
        while (h.state().assigned) {
            std::this_thread::sleep_for(milliseconds(1));
        }
        CHECK(l.valid());
        CHECK(!h.try_lease(1));
        released.store(true);
    });  // l released here
    while (!draining.load()) {
        std::this_thread::sleep_for(milliseconds(1));
    }
    rd_kafka_topic_partition_list_t *revoke = orders({0, 1});
    std::uint64_t held = 99;
    CHECK(kat_group_drain(g.get(), revoke, &held) == KAT_OK);
    CHECK(released.load() && held == 0);
    worker.join();
    d = g.drain_stats();
    CHECK(d.drains == 1 && d.timeouts == 0 && d.last_held == 0);
    CHECK(kat_group_revoked(g.get(), revoke) == KAT_OK);
    rd_kafka_topic_partition_list_destroy(revoke);

    // A lease still held at the timeout is reported, and invalid after.
    g.assigned("orders", {0});
    const std::uint64_t gen = h.state().generation;
    kat::lease stuck = h.lease(gen);
    g.set_drain_timeout(milliseconds(20));
    revoke = orders({0});
    CHECK(kat_group_drain(g.get(), revoke, &held) == KAT_OK);
    CHECK(held == 1 && !stuck.valid() && stuck.held());
    d = g.drain_stats();
    CHECK(d.drains == 2 && d.timeouts == 1 && d.last_held == 1 && d.held_total == 1);
    CHECK(kat_group_revoked(g.get(), revoke) == KAT_OK);
    rd_kafka_topic_partition_list_destroy(revoke);
    kat::result<void> neg = g.try_set_drain_timeout(milliseconds(-5));
    CHECK(neg && g.drain_stats().timeout_ms == 0);
}

static void wait_not_owned(kat::tracker &t) {
    const kat::group g = t.group("waits");
    const kat::partition_handle h = g.partition("orders", 3);
    g.assigned("orders", {3});
    // Still owned: times out and says so.
    CHECK(h.wait_not_owned(1, milliseconds(30)) == false);
    CHECK(*h.try_wait_not_owned(1, milliseconds(0)) == false);
    // Another generation is not owned already: at once.
    CHECK(h.wait_not_owned(2, milliseconds(30000)) == true);

    std::atomic<bool> waiting{false};
    std::atomic<bool> ended{false};
    std::thread waiter([&] {
        waiting.store(true);
        ended.store(h.wait_not_owned(1, milliseconds(60000)));
    });
    while (!waiting.load()) {
        std::this_thread::sleep_for(milliseconds(1));
    }
    std::this_thread::sleep_for(milliseconds(20));
    g.revoked("orders", {3});
    waiter.join();
    CHECK(ended.load());
}

static void count_loss(const char *group, void *opaque) {
    if (std::string(group) == "notify") {
        static_cast<std::atomic<int> *>(opaque)->fetch_add(1);
    }
}

static void loss_notifications(kat::tracker &t) {
    const kat::group g = t.group("notify");
    g.assigned("orders", {0, 1});
    std::atomic<int> losses{0};
    g.set_loss_callback(count_loss, &losses);
    g.assigned("orders", {2});
    CHECK(losses.load() == 0);
    g.revoked("orders", {1});
    CHECK(losses.load() == 1);
    g.lost();
    CHECK(losses.load() == 2);
    g.set_loss_callback(nullptr, nullptr);

    const int fd = g.loss_eventfd();
    CHECK(fd >= 0 && *g.try_loss_eventfd() == fd);
    pollfd pfd{fd, POLLIN, 0};
    CHECK(::poll(&pfd, 1, 0) == 0);
    g.assigned("orders", {0});
    CHECK(::poll(&pfd, 1, 0) == 0);
    g.revoked("orders", {0});
    CHECK(::poll(&pfd, 1, 10000) == 1 && (pfd.revents & POLLIN) != 0);
    std::uint64_t counter = 0;
    CHECK(::read(fd, &counter, sizeof counter) == ssize_t(sizeof counter) && counter == 1);
    CHECK(::poll(&pfd, 1, 0) == 0);
    g.close_loss_eventfd();
    CHECK(g.try_close_loss_eventfd().ok());
    CHECK(losses.load() == 2);
}

static void poll_deadline(kat::tracker &t) {
    const kat::group g = t.group("deadline");
    const kat::partition_handle h = g.partition("orders", 0);
    kat::poll_stats p = g.poll_stats();
    CHECK(p.deadline_ms == 0 && p.expirations == 0);
    kat::result<void> bad = g.try_set_poll_deadline(milliseconds(100), milliseconds(100));
    CHECK(!bad && bad.err().code() == KAT_ERR_INVALID_ARGUMENT);
    CHECK(g.poll_stats().deadline_ms == 0);

    g.assigned("orders", {0, 1});
    g.set_poll_deadline(milliseconds(300), milliseconds(100));
    g.mark_poll();
    p = g.poll_stats();
    CHECK(p.deadline_ms == 200 && p.polls >= 1 && p.since_last_poll_us < UINT64_MAX);
    kat::lease l = h.lease(1);
    CHECK(l.valid());
    // The "stuck" poll loop makes no call from here on: kat's own timer
    // marks the partitions lost; this thread only reads.
    CHECK(becomes_not_owned(h, milliseconds(20000)));
    CHECK(h.state().status == kat::status::lost);
    CHECK(!l.valid() && !h.token().owned);
    // The timer counts the expiry just after publishing it.
    for (int i = 0; i < 5000 && g.poll_stats().expirations == 0; ++i) {
        std::this_thread::sleep_for(milliseconds(2));
    }
    CHECK(g.poll_stats().expirations == 1);
    l.release();

    // Disarmed: no expiry without polls.
    g.set_poll_deadline(milliseconds(0));
    CHECK(g.poll_stats().deadline_ms == 0);
    g.assigned("orders", {0});
    std::this_thread::sleep_for(milliseconds(400));
    CHECK(h.state().assigned && g.poll_stats().expirations == 1);
}

int main() {
    kat::tracker t;
    tokens_and_member_id(t);
    leases(t);
    drain_barrier(t);
    wait_not_owned(t);
    loss_notifications(t);
    poll_deadline(t);
    std::printf("cpp_ownership: %lu checks passed\n", checks);
    return 0;
}
