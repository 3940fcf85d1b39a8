// cpp_api.cpp: the C++ wrapper (bindings/cpp/kat.hpp) used fully: RAII and
// moves, exceptions on bad input, iteration without copying.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

#include "kat.hpp"

static unsigned long checks = 0;

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            std::exit(1);                                                               \
        }                                                                               \
        ++checks;                                                                       \
    } while (0)

// `expr` throws kat::error with code `want` and a message containing `needle`.
#define CHECK_THROWS(expr, want, needle)                                               \
    do {                                                                               \
        bool thrown_ = false;                                                          \
        try {                                                                          \
            (void)(expr);                                                              \
        } catch (const kat::error &e_) {                                               \
            thrown_ = true;                                                            \
            CHECK(e_.code() == (want));                                                \
            CHECK(std::string(e_.what()).find(needle) != std::string::npos);           \
            CHECK(e_.code_message() == std::string(kat_result_message(want)));         \
        }                                                                              \
        CHECK(thrown_);                                                                \
    } while (0)

// Move-only RAII types.
static_assert(!std::is_copy_constructible_v<kat::tracker>);
static_assert(!std::is_copy_assignable_v<kat::tracker>);
static_assert(std::is_nothrow_move_constructible_v<kat::tracker>);
static_assert(!std::is_copy_constructible_v<kat::group>);
static_assert(std::is_nothrow_move_assignable_v<kat::group>);
static_assert(!std::is_copy_constructible_v<kat::snapshot>);
static_assert(!std::is_copy_constructible_v<kat::generations>);
static_assert(!std::is_copy_constructible_v<kat::partition_handle>);
static_assert(std::is_nothrow_move_constructible_v<kat::partition_handle>);
static_assert(std::is_copy_constructible_v<kat::tracker_ref>);
// No slicing: a tracker is not a tracker_ref; only an lvalue lends one.
static_assert(!std::is_base_of_v<kat::tracker_ref, kat::tracker>);
static_assert(std::is_convertible_v<kat::tracker &, kat::tracker_ref>);
static_assert(std::is_convertible_v<const kat::tracker &, kat::tracker_ref>);
static_assert(!std::is_convertible_v<kat::tracker &&, kat::tracker_ref>);
static_assert(!std::is_convertible_v<kat::tracker, kat::tracker_ref>);
static_assert(!std::is_constructible_v<kat::tracker_ref, kat::tracker &&>);
static_assert(std::is_base_of_v<std::runtime_error, kat::error>);

static void test_version_and_global() {
    CHECK(kat::version() == KAT_VERSION_STRING);
    kat::tracker_ref g1 = kat::tracker::global();
    kat::tracker_ref g2 = kat::tracker::global();
    CHECK(g1.get() == g2.get() && g1.get() == kat_tracker_global());
    kat::group g = g1.group("cpp-global");
    g.assigned("orders", {0});
    CHECK(g2.generation("cpp-global", "orders", 0) == 1);
}

static void test_events_and_reads() {
    kat::tracker t;
    CHECK(t.epoch() == 0);
    CHECK(t.generations_topics_limit() == KAT_DEFAULT_GENERATIONS_TOPICS_LIMIT);
    kat::group g = t.group("billing");
    CHECK(g.name() == "billing");
    kat::group same = t.group(std::string_view("billing-and-more").substr(0, 7));
    CHECK(same.name() == "billing");

    g.assigned("orders", {2, 0, 1, 1});
    CHECK(t.epoch() == 1);
    CHECK(same.generation("orders", 1) == 1 && same.is_assigned("orders", 2));
    const std::vector<int32_t> revoke{1};
    g.revoked("orders", revoke);
    CHECK(!g.is_assigned("orders", 1) && g.generation("orders", 1) == 1);
    const std::array<int32_t, 2> again{{1, 0}};
    g.assigned("orders", again);
    CHECK(g.generation("orders", 1) == 2 && g.generation("orders", 0) == 2);
    const int32_t raw[] = {5};
    g.assigned("audit", raw, 1);
    g.replace("orders", {1, 3});
    CHECK(g.is_assigned("orders", 1) && g.generation("orders", 1) == 3);
    CHECK(g.is_assigned("orders", 3) && !g.is_assigned("orders", 0));
    CHECK(!g.is_assigned("audit", 5));  // replace: exactly the list

    g.assigned({{"a", 0}, {"b", 1}, {"a", 0}});
    CHECK(g.generation("a", 0) == 1 && g.generation("b", 1) == 1);
    std::vector<kat::topic_partition> pairs{{"b", 1}};
    g.revoked(pairs);
    CHECK(!g.is_assigned("b", 1));
    g.replace(std::vector<kat::topic_partition>{{"c", 9}});
    CHECK(g.is_assigned("c", 9) && !g.is_assigned("a", 0) && !g.is_assigned("orders", 1));
    g.revoked({{"c", 9}});
    g.assigned({{"c", 9}});
    CHECK(g.generation("c", 9) == 2);
    g.lost();
    CHECK(!g.is_assigned("c", 9));
    g.assigned("c", {9});
    g.reset();
    const kat::group_stats s = g.stats();
    CHECK(s.lost_events == 1 && s.reset_events == 1 && s.assigned_events >= 6);
    CHECK(t.generation("billing", "c", 9) == 3 && !t.is_assigned("billing", "c", 9));

    // Long names go through the heap copy, short ones through the stack.
    std::string long_group(1000, 'g');
    kat::group lg = t.group(long_group);
    CHECK(lg.name() == long_group);
    std::string long_topic(249, 't');
    lg.assigned(long_topic, {0});
    CHECK(lg.generation(long_topic, 0) == 1);
    // A view is never read past its end: the tail here is not part of the name.
    const char buf[] = "orders-and-more";
    g.assigned(std::string_view(buf, 6), {7});
    CHECK(g.is_assigned("orders", 7) && !g.is_assigned("orders-and-more", 7));

    t.clear();
    CHECK(g.generation("orders", 7) == 0);
    t.set_generations_topics_limit(5);
    CHECK(t.generations_topics_limit() == 5);
}

static void test_errors() {
    kat::tracker t;
    kat::group g = t.group("errors");
    const uint64_t epoch = t.epoch();
    CHECK_THROWS(t.group(""), KAT_ERR_INVALID_GROUP, "kat_tracker_group: group name is empty");
    CHECK_THROWS(t.group(std::string(1025, 'g')), KAT_ERR_INVALID_GROUP, "1025");
    CHECK_THROWS(t.group("bad\xff"), KAT_ERR_INVALID_UTF8, "UTF-8");
    // Embedded NUL bytes: never a shorter name, whatever the string type.
    CHECK_THROWS(t.group(std::string_view("a\0b", 3)), KAT_ERR_INVALID_GROUP, "NUL");
    CHECK_THROWS(t.group(std::string("a\0b", 3)), KAT_ERR_INVALID_GROUP, "NUL");
    CHECK_THROWS(g.generation(std::string("orders\0x", 8), 0), KAT_ERR_INVALID_TOPIC, "0x00");
    CHECK_THROWS(g.assigned(std::string("orders\0x", 8), {0}), KAT_ERR_INVALID_ARGUMENT, "NUL");
    CHECK_THROWS(g.assigned({{std::string_view("a\0", 2), 0}}), KAT_ERR_INVALID_ARGUMENT, "NUL");
    CHECK_THROWS(t.snapshot().generation("errors", std::string_view("o\0", 2), 0),
                 KAT_ERR_INVALID_ARGUMENT, "NUL");
    CHECK_THROWS(t.generation(static_cast<const char *>(nullptr), std::string_view("o"), 0),
                 KAT_ERR_NULL_POINTER, "`group`");
    CHECK_THROWS(g.assigned("bad topic", {0}), KAT_ERR_INVALID_TOPIC, "illegal byte 0x20");
    CHECK_THROWS(g.assigned("..", {0}), KAT_ERR_INVALID_TOPIC, "reserved");
    CHECK_THROWS(g.assigned(std::string(250, 't'), {0}), KAT_ERR_INVALID_TOPIC, "250 bytes");
    CHECK_THROWS(g.assigned("orders", {0, -1}), KAT_ERR_INVALID_PARTITION, "element 1");
    CHECK_THROWS(g.assigned({{"ok", 0}, {"", 1}}), KAT_ERR_INVALID_TOPIC, "element 1");
    CHECK_THROWS(g.revoked({{"ok", -3}}), KAT_ERR_INVALID_PARTITION, "-3");
    CHECK_THROWS(g.generation("orders", -1), KAT_ERR_INVALID_PARTITION, "negative");
    CHECK_THROWS(g.partition("a/b", 0), KAT_ERR_INVALID_TOPIC, "0x2f");
    CHECK_THROWS(g.assigned(static_cast<const rd_kafka_topic_partition_list_s *>(nullptr)),
                 KAT_ERR_NULL_POINTER, "`partitions`");
    CHECK_THROWS(t.set_generations_topics_limit(0), KAT_ERR_INVALID_ARGUMENT, "limit");
    CHECK_THROWS(kat::tracker(0), KAT_ERR_INVALID_ARGUMENT, "at least 1");
    CHECK(t.epoch() == epoch);  // failed events change nothing

    kat::snapshot snap = t.snapshot();
    CHECK_THROWS(snap.group(0), KAT_ERR_OUT_OF_RANGE, "out of range");
    CHECK_THROWS(snap.generation("g", "t", -1), KAT_ERR_INVALID_PARTITION, "-1");
    kat::generations gens = t.generations();
    CHECK_THROWS(gens[0], KAT_ERR_OUT_OF_RANGE, "index 0");

    // Moved-from objects hold nothing: throwing members throw NULL_POINTER.
    kat::group moved = std::move(g);
    CHECK(g.get() == nullptr && g.name().empty());
    CHECK_THROWS(g.lost(), KAT_ERR_NULL_POINTER, "`group`");
    CHECK(moved.name() == "errors");
    kat::tracker t2 = std::move(t);
    CHECK_THROWS(t.epoch(), KAT_ERR_NULL_POINTER, "`tracker`");
    CHECK(t2.epoch() == epoch);
    kat::snapshot s2 = std::move(snap);
    CHECK_THROWS(snap.epoch(), KAT_ERR_NULL_POINTER, "`snapshot`");
    CHECK(s2.epoch() == epoch);
}

static void test_snapshot_iteration() {
    kat::tracker t;
    kat::group zeta = t.group("zeta");
    kat::group alpha = t.group("alpha");
    zeta.assigned("t2", {5, 3, 4});
    zeta.assigned("t1", {5});
    alpha.assigned("t1", {4, 3});
    alpha.assigned("t1", {3});

    kat::snapshot s = t.snapshot();
    CHECK(s.epoch() == 4 && s.group_count() == 2 && s.partition_count() == 6);
    std::string walk;
    std::size_t total = 0;
    for (const kat::group_view g : s.groups()) {
        walk += std::string(g.name()) + ":";
        CHECK(g.topics().size() == g.topic_count());
        for (const kat::topic_view tv : g.topics()) {
            CHECK(tv.group() == g.name());
            walk += std::string(tv.name()) + "[";
            for (const kat_assigned_partition_t &p : tv.partitions()) {
                walk += std::to_string(p.partition) + "@" + std::to_string(p.generation) + ",";
                ++total;
            }
            walk += "]";
        }
        walk += ";";
    }
    CHECK(walk == "alpha:t1[3@2,4@1,];zeta:t1[5@1,]t2[3@1,4@1,5@1,];");
    CHECK(total == s.partition_count());

    // No copies: the partitions range points into the snapshot.
    const auto found = s.find("zeta", "t2");
    CHECK(found.has_value());
    const kat::partitions parts = found->partitions();
    CHECK(parts.size() == 3 && parts[0].partition == 3 && parts[2].partition == 5);
    CHECK(parts.data() == s.group(1).topic(1).partitions().data());
    CHECK(!s.find("zeta", "t3").has_value());
    CHECK(!s.find("nobody", "t1").has_value());
    CHECK(s.generation("alpha", "t1", 3) == 2 && s.is_assigned("zeta", "t1", 5));

    // A held snapshot never changes; a moved snapshot keeps its views valid.
    zeta.lost();
    kat::snapshot moved = std::move(s);
    CHECK(moved.epoch() == 4 && moved.is_assigned("zeta", "t1", 5));
    CHECK(parts.data() == moved.find("zeta", "t2")->partitions().data());
    CHECK(t.snapshot().partition_count() == 2);

    CHECK(moved.to_json() ==
          "{\"epoch\":4,\"groups\":{\"alpha\":{\"t1\":{\"3\":2,\"4\":1}},"
          "\"zeta\":{\"t1\":{\"5\":1},\"t2\":{\"3\":1,\"4\":1,\"5\":1}}}}");

    // Move assignment frees the previous snapshot.
    kat::snapshot other = t.snapshot();
    other = std::move(moved);
    CHECK(other.epoch() == 4);
}

static void test_generations() {
    kat::tracker t;
    kat::group g = t.group("g");
    g.assigned("x", {1, 0});
    g.revoked("x", {1});
    kat::generations gens = t.generations();
    CHECK(gens.size() == 2 && gens.epoch() == 2);
    std::string walk;
    for (const kat::generation_entry &e : gens) {
        walk += std::string(e.group) + "/" + std::string(e.topic) + "/" +
                std::to_string(e.partition) + "@" + std::to_string(e.generation) +
                (e.status == kat::status::assigned  ? "A"
                 : e.status == kat::status::revoked ? "R"
                                                    : "?") +
                " ";
    }
    CHECK(walk == "g/x/0@1A g/x/1@1R ");
    CHECK(gens.to_json() ==
          "{\"epoch\":2,\"groups\":{\"g\":{\"x\":{\"0\":{\"generation\":1,\"status\":"
          "\"assigned\"},\"1\":{\"generation\":1,\"status\":\"revoked\"}}}}}");
    kat::generations moved = std::move(gens);
    CHECK(moved.size() == 2);
}

static void test_handles() {
    kat::partition_handle keep(nullptr);
    CHECK(!keep && !keep.owned_at(0));
    {
        kat::tracker t;
        kat::group g = t.group("h");
        kat::partition_handle h = g.partition("orders", 3);
        CHECK(h);
        kat::partition_state st = h.state();
        CHECK(st.generation == 0 && st.status == kat::status::none && !st.assigned);
        g.assigned("orders", {3});
        st = h.state();
        CHECK(st.generation == 1 && st.status == kat::status::assigned && st.assigned);
        CHECK(h.owned_at(1) && !h.owned_at(2));
        g.revoked("orders", {3});
        CHECK(h.state().status == kat::status::revoked && !h.owned_at(1));
        g.assigned("orders", {3});
        g.lost();
        CHECK(h.state().status == kat::status::lost && h.state().generation == 2);
        t.clear();
        CHECK(h.state().generation == 0);
        g.assigned("orders", {3});
        keep = std::move(h);
        CHECK(!h && !h.owned_at(1));
        CHECK_THROWS(h.state(), KAT_ERR_NULL_POINTER, "`handle`");
    }
    // The handle outlives its tracker and group.
    CHECK(keep.owned_at(1));
}

static void test_results_and_refs() {
    kat::tracker t;
    kat::tracker_ref r = t;  // borrows t
    CHECK(r.get() == t.get() && t.ref().get() == t.get());
    kat::result<kat::group> g = r.try_group("res");
    CHECK(g.ok() && static_cast<bool>(g) && g->name() == "res");
    CHECK(g->try_assigned("orders", {1}).ok());
    kat::result<std::uint64_t> gen = t.try_generation("res", "orders", 1);
    CHECK(gen.ok() && *gen == 1 && gen.value() == 1 && gen.value_or(9) == 1);
    kat::result<std::uint64_t> bad = t.try_generation("res", "orders", -1);
    CHECK(!bad.ok() && bad.err().code() == KAT_ERR_INVALID_PARTITION);
    CHECK(bad.value_or(7) == 7);
    CHECK(std::string(bad.err().what()).find("negative") != std::string::npos);
    CHECK_THROWS(bad.value(), KAT_ERR_INVALID_PARTITION, "negative");
    const kat::result<void> failed = g->try_assigned("bad topic", {0});
    CHECK(!failed && failed.err().code() == KAT_ERR_INVALID_TOPIC);
    CHECK_THROWS(failed.value(), KAT_ERR_INVALID_TOPIC, "0x20");
    kat::result<kat::tracker> limited = kat::tracker::try_create(0);
    CHECK(!limited && limited.err().code() == KAT_ERR_INVALID_ARGUMENT);
    kat::result<kat::tracker> ok = kat::tracker::try_create(3);
    CHECK(ok && ok->generations_topics_limit() == 3);
    // Names by const char *, std::string and std::string_view agree.
    const std::string topic = "orders";
    const char *ctopic = topic.c_str();
    CHECK(g->generation(topic, 1) == 1 && g->generation(ctopic, 1) == 1 &&
          g->generation(std::string_view("orders-x").substr(0, 6), 1) == 1);
    CHECK(t.is_assigned(std::string("res"), std::string_view("orders"), 1) &&
          t.is_assigned("res", topic, 1));
    CHECK(g->partition(std::string_view("ordersXX", 6), 1).owned_at(1));
    // Views are taken from a held snapshot.
    const kat::snapshot snap = t.snapshot();
    const kat::result<std::optional<kat::topic_view>> found = snap.try_find("res", topic);
    CHECK(found && found->has_value() && (*found)->partitions().size() == 1);
    CHECK(snap.try_group(5).err().code() == KAT_ERR_OUT_OF_RANGE);
}

static void test_wait_for_change() {
    kat::tracker t;
    CHECK(t.wait_for_change(0, std::chrono::milliseconds(10)) == 0);
    CHECK(t.wait_for_change(7, std::chrono::milliseconds(600000)) == 0);
    kat::group g = t.group("w");
    g.assigned("t", {0});
    CHECK(t.wait_for_change(0, std::chrono::milliseconds(600000)) == 1);
}

int main() {
    test_version_and_global();
    test_events_and_reads();
    test_errors();
    test_snapshot_iteration();
    test_generations();
    test_handles();
    test_wait_for_change();
    test_results_and_refs();
    std::printf("cpp_api: %lu checks passed\n", checks);
    return 0;
}
