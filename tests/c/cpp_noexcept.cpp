// cpp_noexcept.cpp: kat.hpp compiled with -fno-exceptions (tests/cpp.rs):
// the `try_` forms and kat::result, the only API there; errors come back as
// values with their code and detail, and nothing aborts.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "kat.hpp"

#if defined(__cpp_exceptions) || KAT_HPP_EXCEPTIONS
#error "cpp_noexcept.cpp must be compiled with -fno-exceptions"
#endif

static unsigned long checks = 0;

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            std::exit(1);                                                               \
        }                                                                               \
        ++checks;                                                                       \
    } while (0)

// `r` failed with `want`, and its detail contains `needle`.
template <typename R>
static bool failed_with(const R &r, kat_result want, const char *needle) {
    return !r.ok() && r.err().code() == want &&
           std::string(r.err().what()).find(needle) != std::string::npos;
}

int main() {
    kat::tracker t;
    kat::result<kat::group> made = t.try_group("noexcept");
    CHECK(made.ok());
    const kat::group g = std::move(made).value();
    CHECK(g.name() == "noexcept");

    CHECK(g.try_assigned("orders", {0, 1, 2}).ok());
    const std::vector<std::int32_t> revoke{1};
    CHECK(g.try_revoked("orders", revoke).ok());
    CHECK(g.try_assigned({{"audit", 4}, {"orders", 1}}).ok());

    const kat::result<std::uint64_t> gen = g.try_generation("orders", 1);
    CHECK(gen.ok() && *gen == 2);
    CHECK(*t.try_is_assigned("noexcept", std::string_view("audit"), 4));
    CHECK(*t.try_epoch() == 3);

    // Failures are values: code, detail, and nothing changed.
    CHECK(failed_with(g.try_assigned("bad topic", {0}), KAT_ERR_INVALID_TOPIC, "0x20"));
    CHECK(failed_with(g.try_generation("orders", -1), KAT_ERR_INVALID_PARTITION, "negative"));
    CHECK(failed_with(t.try_group(""), KAT_ERR_INVALID_GROUP, "empty"));
    CHECK(failed_with(t.try_group(std::string("a\0b", 3)), KAT_ERR_INVALID_GROUP, "NUL"));
    CHECK(failed_with(kat::tracker::try_create(0), KAT_ERR_INVALID_ARGUMENT, "at least 1"));
    CHECK(t.try_generation("noexcept", "orders", -3).value_or(42) == 42);
    CHECK(*t.try_epoch() == 3);

    // Snapshots and their views, held.
    kat::result<kat::snapshot> taken = t.try_snapshot();
    CHECK(taken.ok());
    const kat::snapshot snap = std::move(taken).value();
    std::size_t partitions = 0;
    for (const kat::group_view gv : snap.groups()) {
        for (const kat::topic_view tv : gv.topics()) {
            partitions += tv.partitions().size();
        }
    }
    CHECK(partitions == 4 && *snap.try_partition_count() == 4);
    const auto found = snap.try_find("noexcept", "orders");
    CHECK(found.ok() && found->has_value() && (*found)->partitions().size() == 3);
    CHECK(failed_with(snap.try_group(9), KAT_ERR_OUT_OF_RANGE, "out of range"));
    CHECK(*snap.try_to_json() ==
          "{\"epoch\":3,\"groups\":{\"noexcept\":{\"audit\":{\"4\":1},"
          "\"orders\":{\"0\":1,\"1\":2,\"2\":1}}}}");

    // Handles and generations.
    kat::result<kat::partition_handle> handle = g.try_partition("orders", 1);
    CHECK(handle.ok() && handle->owned_at(2));
    CHECK((*handle->try_state()).generation == 2);
    const kat::result<kat::generations> gens = t.try_generations();
    CHECK(gens.ok() && *gens->try_size() == 4);

    // A moved-from group reports a null pointer, as a value.
    kat::group moved = std::move(*made);
    CHECK(failed_with(moved.try_lost(), KAT_ERR_NULL_POINTER, "`group`"));
    CHECK(g.try_lost().ok() && !*g.try_is_assigned("orders", 0));

    std::printf("cpp_noexcept: %lu checks passed\n", checks);
    return 0;
}
