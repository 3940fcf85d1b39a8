// kat.hpp: header-only C++17 wrapper over kat.h, the C ABI of kat, the
// Kafka assignments tracker.
//
// - Ownership: `kat::tracker`, `kat::group`, `kat::snapshot`,
//   `kat::generations` and `kat::partition_handle` own one C handle each;
//   they are move-only and free it in their destructor. `kat::tracker_ref`
//   is a non-owning, copyable view of a tracker (`kat::tracker::global()`
//   returns one). A moved-from object holds no handle; calling a throwing
//   member on it throws `kat::error` (KAT_ERR_NULL_POINTER).
// - Errors: every failing C call throws `kat::error`, a std::runtime_error
//   that carries the `kat_result` code (`code()`) and, in `what()`, the
//   detailed message of kat_last_error_message(). kat only fails on bad input
//   (names, partitions, lists) or misuse, never on the hot path of correct
//   programs, so exceptions cost nothing there; the wait-free reads and
//   `partition_handle::state()` / `owned_at()` never throw on a live handle.
//   Never let an exception escape a librdkafka callback: use the glue at
//   the end of this file (`kat::rebalance_cb`, `kat::rebalance`), which is
//   noexcept and reports by return code.
// - Strings in are std::string_view. The C API wants NUL-terminated strings,
//   so each name is copied (into a stack buffer when short, a std::string
//   otherwise); a view is never read past its end. A name containing a NUL
//   byte is rejected with KAT_ERR_INVALID_ARGUMENT.
// - Strings and arrays out are std::string_view / `kat::partitions` ranges
//   borrowed from the snapshot or generations list they came from: valid
//   while that object lives (and is not moved from).
// - Thread-safety is that of the C API: every object may be used from any
//   thread; do not move or destroy an object while another thread uses it.
#ifndef KAT_HPP
#define KAT_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kat.h"

// The librdkafka glue: used when librdkafka's header came first or
// KAT_WITH_RDKAFKA is defined, and kat_rdkafka.h is on the include path.
#if defined(KAT_WITH_RDKAFKA) || defined(RD_KAFKA_VERSION)
#if defined(__has_include)
#if __has_include("kat_rdkafka.h")
#include "kat_rdkafka.h"
#define KAT_HPP_HAS_RDKAFKA_GLUE 1
#endif
#endif
#endif

namespace kat {

/// The failure of a kat call: its result code and detailed message.
class error : public std::runtime_error {
public:
    error(kat_result code, const std::string &detail)
        : std::runtime_error(detail.empty() ? std::string(kat_result_message(code)) : detail),
          code_(code) {}

    /// The kat_result of the failed call (never KAT_OK).
    kat_result code() const noexcept { return code_; }

    /// The static description of the code (kat_result_message).
    const char *code_message() const noexcept { return kat_result_message(code_); }

private:
    kat_result code_;
};

/// Status of a key.
enum class status : int {
    none = KAT_STATUS_NONE,
    assigned = KAT_STATUS_ASSIGNED,
    revoked = KAT_STATUS_REVOKED,
    lost = KAT_STATUS_LOST,
};

/// kat's version ("0.1.0").
inline std::string_view version() noexcept { return kat_version(); }

namespace detail {

inline std::string last_error() {
    std::string message(kat_last_error_message(nullptr, 0), '\0');
    if (!message.empty()) {
        // The returned length excludes the NUL the C side writes.
        std::vector<char> buf(message.size() + 1);
        kat_last_error_message(buf.data(), buf.size());
        message.assign(buf.data(), message.size());
    }
    return message;
}

inline void check(kat_result r) {
    if (r != KAT_OK) {
        throw error(r, last_error());
    }
}

/// A NUL-terminated copy of a string_view: on the stack when short.
class c_string {
public:
    explicit c_string(std::string_view s) {
        if (s.find('\0') != std::string_view::npos) {
            throw error(KAT_ERR_INVALID_ARGUMENT, "kat.hpp: a name contains a NUL byte");
        }
        if (s.size() < sizeof small_) {
            if (!s.empty()) {
                std::memcpy(small_, s.data(), s.size());
            }
            small_[s.size()] = '\0';
            ptr_ = small_;
        } else {
            large_.assign(s.data(), s.size());
            ptr_ = large_.c_str();
        }
    }
    c_string(const c_string &) = delete;
    c_string &operator=(const c_string &) = delete;

    const char *get() const noexcept { return ptr_; }

private:
    char small_[256];
    std::string large_;
    const char *ptr_ = nullptr;
};

/// Owned NUL-terminated copies of (topic, partition) pairs for the C API.
class pair_list {
public:
    template <typename It>
    pair_list(It first, It last) {
        for (It it = first; it != last; ++it) {
            const std::string_view topic = it->first;
            if (topic.find('\0') != std::string_view::npos) {
                throw error(KAT_ERR_INVALID_ARGUMENT, "kat.hpp: a topic contains a NUL byte");
            }
            names_.emplace_back(topic);
            parts_.push_back(static_cast<int32_t>(it->second));
        }
        items_.reserve(names_.size());
        for (std::size_t i = 0; i < names_.size(); ++i) {
            items_.push_back(kat_topic_partition_t{names_[i].c_str(), parts_[i]});
        }
    }
    const kat_topic_partition_t *data() const noexcept { return items_.data(); }
    std::size_t size() const noexcept { return items_.size(); }

private:
    std::vector<std::string> names_;
    std::vector<int32_t> parts_;
    std::vector<kat_topic_partition_t> items_;
};

inline std::string_view view(const char *p, std::size_t n) noexcept {
    return p ? std::string_view(p, n) : std::string_view();
}

}  // namespace detail

/// A key's state, read with one atomic load.
struct partition_state {
    std::uint64_t generation = 0;  ///< Times assigned (0: never).
    kat::status status = status::none;
    bool assigned = false;  ///< status == status::assigned.
};

/// A group's event counters.
using group_stats = kat_group_stats_t;

/// A contiguous, borrowed range of kat_assigned_partition_t (span-like).
class partitions {
public:
    using value_type = kat_assigned_partition_t;
    using iterator = const kat_assigned_partition_t *;
    using const_iterator = iterator;

    partitions() noexcept = default;
    partitions(const kat_assigned_partition_t *data, std::size_t size) noexcept
        : data_(data), size_(size) {}

    iterator begin() const noexcept { return data_; }
    iterator end() const noexcept { return data_ + size_; }
    const kat_assigned_partition_t *data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    const kat_assigned_partition_t &operator[](std::size_t i) const noexcept { return data_[i]; }

private:
    const kat_assigned_partition_t *data_ = nullptr;
    std::size_t size_ = 0;
};

/// One assigned topic of a group in a snapshot (borrowed from it).
class topic_view {
public:
    explicit topic_view(const kat_topic_view_t &v) noexcept : v_(v) {}
    std::string_view name() const noexcept { return detail::view(v_.name, v_.name_len); }
    std::string_view group() const noexcept { return detail::view(v_.group, v_.group_len); }
    kat::partitions partitions() const noexcept {
        return kat::partitions(v_.partitions, v_.partition_count);
    }
    const kat_topic_view_t &raw() const noexcept { return v_; }

private:
    kat_topic_view_t v_;
};

namespace detail {

/// An index-based iterator: `Get(handle, index)` makes the value. The handle
/// is a raw C pointer (or a small struct of them) copied into the iterator,
/// so iterators stay valid as long as the C object, not the C++ wrapper
/// temporary they came from.
template <typename Handle, typename Value, Value (*Get)(Handle, std::size_t)>
class index_iterator {
public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Value;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Value;

    index_iterator(Handle handle, std::size_t index) noexcept : handle_(handle), index_(index) {}
    Value operator*() const { return Get(handle_, index_); }
    index_iterator &operator++() noexcept {
        ++index_;
        return *this;
    }
    index_iterator operator++(int) noexcept {
        index_iterator old = *this;
        ++index_;
        return old;
    }
    bool operator==(const index_iterator &o) const noexcept { return index_ == o.index_; }
    bool operator!=(const index_iterator &o) const noexcept { return !(*this == o); }

private:
    Handle handle_;
    std::size_t index_;
};

template <typename Iterator>
class range {
public:
    range(Iterator b, Iterator e, std::size_t n) noexcept : b_(b), e_(e), n_(n) {}
    Iterator begin() const noexcept { return b_; }
    Iterator end() const noexcept { return e_; }
    std::size_t size() const noexcept { return n_; }
    bool empty() const noexcept { return n_ == 0; }

private:
    Iterator b_, e_;
    std::size_t n_;
};

}  // namespace detail

/// One group of a snapshot (borrowed from it).
class group_view {
public:
    group_view(const kat_snapshot_t *snapshot, std::size_t index, const kat_group_view_t &v) noexcept
        : snapshot_(snapshot), index_(index), v_(v) {}

    std::string_view name() const noexcept { return detail::view(v_.name, v_.name_len); }
    std::size_t topic_count() const noexcept { return v_.topic_count; }
    std::size_t partition_count() const noexcept { return v_.partition_count; }
    const group_stats &stats() const noexcept { return v_.stats; }

    /// Topic `i` (sorted by name). Throws on an index past the end.
    topic_view topic(std::size_t i) const { return topic_at(where{snapshot_, index_}, i); }

    struct where {
        const kat_snapshot_t *snapshot;
        std::size_t group;
    };
    static topic_view topic_at(where w, std::size_t i) {
        kat_topic_view_t tv;
        detail::check(kat_snapshot_topic(w.snapshot, w.group, i, &tv));
        return topic_view(tv);
    }
    using topic_iterator = detail::index_iterator<where, topic_view, &group_view::topic_at>;

    /// The group's assigned topics, sorted by name; iterated without copying.
    detail::range<topic_iterator> topics() const noexcept {
        const where w{snapshot_, index_};
        return {topic_iterator(w, 0), topic_iterator(w, v_.topic_count), v_.topic_count};
    }

private:
    const kat_snapshot_t *snapshot_;
    std::size_t index_;
    kat_group_view_t v_;
};

/// An immutable view of a tracker at one epoch. Move-only.
class snapshot {
public:
    explicit snapshot(kat_snapshot_t *raw) noexcept : raw_(raw) {}
    snapshot(snapshot &&o) noexcept : raw_(std::exchange(o.raw_, nullptr)) {}
    snapshot &operator=(snapshot &&o) noexcept {
        if (this != &o) {
            kat_snapshot_free(raw_);
            raw_ = std::exchange(o.raw_, nullptr);
        }
        return *this;
    }
    snapshot(const snapshot &) = delete;
    snapshot &operator=(const snapshot &) = delete;
    ~snapshot() { kat_snapshot_free(raw_); }

    std::uint64_t epoch() const {
        std::uint64_t e = 0;
        detail::check(kat_snapshot_epoch(raw_, &e));
        return e;
    }
    std::size_t group_count() const {
        std::size_t n = 0;
        detail::check(kat_snapshot_group_count(raw_, &n));
        return n;
    }
    std::size_t partition_count() const {
        std::size_t n = 0;
        detail::check(kat_snapshot_partition_count(raw_, &n));
        return n;
    }

    /// Group `i` (sorted by name). Throws on an index past the end.
    group_view group(std::size_t i) const { return group_at(raw_, i); }

    static group_view group_at(const kat_snapshot_t *s, std::size_t i) {
        kat_group_view_t v;
        detail::check(kat_snapshot_group(s, i, &v));
        return group_view(s, i, v);
    }
    using group_iterator =
        detail::index_iterator<const kat_snapshot_t *, group_view, &snapshot::group_at>;

    /// Every group that has had a change, sorted by name; iterated without
    /// copying (views borrow from the snapshot).
    detail::range<group_iterator> groups() const {
        const std::size_t n = group_count();
        return {group_iterator(raw_, 0), group_iterator(raw_, n), n};
    }

    /// The assigned partitions of group/topic, or nullopt if it owns none.
    std::optional<topic_view> find(std::string_view group, std::string_view topic) const {
        detail::c_string g(group), t(topic);
        kat_topic_view_t v;
        const kat_result r = kat_snapshot_find_topic(raw_, g.get(), t.get(), &v);
        if (r == KAT_ERR_NOT_FOUND) {
            return std::nullopt;
        }
        detail::check(r);
        return topic_view(v);
    }

    std::uint64_t generation(std::string_view group, std::string_view topic,
                             std::int32_t partition) const {
        detail::c_string g(group), t(topic);
        std::uint64_t gen = 0;
        detail::check(kat_snapshot_generation(raw_, g.get(), t.get(), partition, &gen));
        return gen;
    }

    bool is_assigned(std::string_view group, std::string_view topic,
                     std::int32_t partition) const {
        detail::c_string g(group), t(topic);
        bool a = false;
        detail::check(kat_snapshot_is_assigned(raw_, g.get(), t.get(), partition, &a));
        return a;
    }

    /// `{"epoch":N,"groups":{"group":{"topic":{"partition":generation}}}}`.
    std::string to_json() const {
        std::size_t len = 0;
        detail::check(kat_snapshot_to_json(raw_, nullptr, 0, &len));
        std::vector<char> buf(len + 1);
        detail::check(kat_snapshot_to_json(raw_, buf.data(), buf.size(), &len));
        return std::string(buf.data(), len);
    }

    const kat_snapshot_t *get() const noexcept { return raw_; }

private:
    kat_snapshot_t *raw_;
};

/// One key of a generations list (names borrowed from the list).
struct generation_entry {
    std::string_view group;
    std::string_view topic;
    std::int32_t partition;
    std::uint64_t generation;
    kat::status status;
};

/// A frozen copy of every generation, sorted by group, topic, partition.
class generations {
public:
    explicit generations(kat_generations_t *raw) noexcept : raw_(raw) {}
    generations(generations &&o) noexcept : raw_(std::exchange(o.raw_, nullptr)) {}
    generations &operator=(generations &&o) noexcept {
        if (this != &o) {
            kat_generations_free(raw_);
            raw_ = std::exchange(o.raw_, nullptr);
        }
        return *this;
    }
    generations(const generations &) = delete;
    generations &operator=(const generations &) = delete;
    ~generations() { kat_generations_free(raw_); }

    std::size_t size() const {
        std::size_t n = 0;
        detail::check(kat_generations_count(raw_, &n));
        return n;
    }
    std::uint64_t epoch() const {
        std::uint64_t e = 0;
        detail::check(kat_generations_epoch(raw_, &e));
        return e;
    }
    /// Entry `i`. Throws on an index past the end.
    generation_entry operator[](std::size_t i) const { return entry_at(raw_, i); }

    static generation_entry entry_at(const kat_generations_t *g, std::size_t i) {
        kat_generation_entry_t e;
        detail::check(kat_generations_get(g, i, &e));
        return generation_entry{detail::view(e.group, e.group_len),
                                detail::view(e.topic, e.topic_len), e.partition, e.generation,
                                static_cast<kat::status>(e.status)};
    }
    using iterator =
        detail::index_iterator<const kat_generations_t *, generation_entry, &generations::entry_at>;
    iterator begin() const noexcept { return iterator(raw_, 0); }
    iterator end() const { return iterator(raw_, size()); }

    std::string to_json() const {
        std::size_t len = 0;
        detail::check(kat_generations_to_json(raw_, nullptr, 0, &len));
        std::vector<char> buf(len + 1);
        detail::check(kat_generations_to_json(raw_, buf.data(), buf.size(), &len));
        return std::string(buf.data(), len);
    }

    const kat_generations_t *get() const noexcept { return raw_; }

private:
    kat_generations_t *raw_;
};

/// A long-lived handle on one key: one atomic load per check. Move-only.
class partition_handle {
public:
    explicit partition_handle(kat_partition_handle_t *raw) noexcept : raw_(raw) {}
    partition_handle(partition_handle &&o) noexcept : raw_(std::exchange(o.raw_, nullptr)) {}
    partition_handle &operator=(partition_handle &&o) noexcept {
        if (this != &o) {
            kat_partition_handle_free(raw_);
            raw_ = std::exchange(o.raw_, nullptr);
        }
        return *this;
    }
    partition_handle(const partition_handle &) = delete;
    partition_handle &operator=(const partition_handle &) = delete;
    ~partition_handle() { kat_partition_handle_free(raw_); }

    /// Generation and status from one atomic load. Wait-free.
    partition_state state() const {
        kat_partition_state_t s;
        detail::check(kat_partition_handle_state(raw_, &s));
        return partition_state{s.generation, static_cast<kat::status>(s.status), s.assigned};
    }

    /// True if assigned now at exactly `generation` (false when empty).
    bool owned_at(std::uint64_t generation) const noexcept {
        return kat_partition_handle_owned_at(raw_, generation);
    }

    const kat_partition_handle_t *get() const noexcept { return raw_; }
    explicit operator bool() const noexcept { return raw_ != nullptr; }

private:
    kat_partition_handle_t *raw_;
};

/// A (topic, partition) pair for the multi-topic events.
using topic_partition = std::pair<std::string_view, std::int32_t>;

/// One consumer membership, by name. Move-only; the group's state stays in
/// the tracker when the object is destroyed.
class group {
public:
    explicit group(kat_group_t *raw) noexcept : raw_(raw) {}
    group(group &&o) noexcept : raw_(std::exchange(o.raw_, nullptr)) {}
    group &operator=(group &&o) noexcept {
        if (this != &o) {
            kat_group_free(raw_);
            raw_ = std::exchange(o.raw_, nullptr);
        }
        return *this;
    }
    group(const group &) = delete;
    group &operator=(const group &) = delete;
    ~group() { kat_group_free(raw_); }

    /// The group's name (empty for a moved-from object).
    std::string_view name() const noexcept {
        const char *n = raw_ ? kat_group_name(raw_) : nullptr;
        return n ? std::string_view(n) : std::string_view();
    }

    // Events with librdkafka's own list (read through its public layout).
    void assigned(const rd_kafka_topic_partition_list_s *list) const {
        detail::check(kat_group_assigned(raw_, list));
    }
    void revoked(const rd_kafka_topic_partition_list_s *list) const {
        detail::check(kat_group_revoked(raw_, list));
    }
    void replace(const rd_kafka_topic_partition_list_s *list) const {
        detail::check(kat_group_replace(raw_, list));
    }

    // Events for one topic: an array, or any contiguous container of int32_t.
    void assigned(std::string_view topic, const std::int32_t *parts, std::size_t n) const {
        detail::c_string t(topic);
        detail::check(kat_group_assigned_partitions(raw_, t.get(), parts, n));
    }
    void revoked(std::string_view topic, const std::int32_t *parts, std::size_t n) const {
        detail::c_string t(topic);
        detail::check(kat_group_revoked_partitions(raw_, t.get(), parts, n));
    }
    void replace(std::string_view topic, const std::int32_t *parts, std::size_t n) const {
        detail::c_string t(topic);
        detail::check(kat_group_replace_partitions(raw_, t.get(), parts, n));
    }
    void assigned(std::string_view topic, std::initializer_list<std::int32_t> parts) const {
        assigned(topic, parts.begin(), parts.size());
    }
    void revoked(std::string_view topic, std::initializer_list<std::int32_t> parts) const {
        revoked(topic, parts.begin(), parts.size());
    }
    void replace(std::string_view topic, std::initializer_list<std::int32_t> parts) const {
        replace(topic, parts.begin(), parts.size());
    }
    template <typename Container,
              typename = decltype(static_cast<const std::int32_t *>(std::data(std::declval<const Container &>())))>
    void assigned(std::string_view topic, const Container &parts) const {
        assigned(topic, std::data(parts), std::size(parts));
    }
    template <typename Container,
              typename = decltype(static_cast<const std::int32_t *>(std::data(std::declval<const Container &>())))>
    void revoked(std::string_view topic, const Container &parts) const {
        revoked(topic, std::data(parts), std::size(parts));
    }
    template <typename Container,
              typename = decltype(static_cast<const std::int32_t *>(std::data(std::declval<const Container &>())))>
    void replace(std::string_view topic, const Container &parts) const {
        replace(topic, std::data(parts), std::size(parts));
    }

    // Events over several topics: (topic, partition) pairs.
    void assigned(std::initializer_list<topic_partition> pairs) const {
        detail::pair_list l(pairs.begin(), pairs.end());
        detail::check(kat_group_assigned_pairs(raw_, l.data(), l.size()));
    }
    void revoked(std::initializer_list<topic_partition> pairs) const {
        detail::pair_list l(pairs.begin(), pairs.end());
        detail::check(kat_group_revoked_pairs(raw_, l.data(), l.size()));
    }
    void replace(std::initializer_list<topic_partition> pairs) const {
        detail::pair_list l(pairs.begin(), pairs.end());
        detail::check(kat_group_replace_pairs(raw_, l.data(), l.size()));
    }
    void assigned(const std::vector<topic_partition> &pairs) const {
        detail::pair_list l(pairs.begin(), pairs.end());
        detail::check(kat_group_assigned_pairs(raw_, l.data(), l.size()));
    }
    void revoked(const std::vector<topic_partition> &pairs) const {
        detail::pair_list l(pairs.begin(), pairs.end());
        detail::check(kat_group_revoked_pairs(raw_, l.data(), l.size()));
    }
    void replace(const std::vector<topic_partition> &pairs) const {
        detail::pair_list l(pairs.begin(), pairs.end());
        detail::check(kat_group_replace_pairs(raw_, l.data(), l.size()));
    }

    void lost() const { detail::check(kat_group_lost(raw_)); }
    void reset() const { detail::check(kat_group_reset(raw_)); }

    // Reads: wait-free.
    std::uint64_t generation(std::string_view topic, std::int32_t partition) const {
        detail::c_string t(topic);
        std::uint64_t g = 0;
        detail::check(kat_group_generation(raw_, t.get(), partition, &g));
        return g;
    }
    bool is_assigned(std::string_view topic, std::int32_t partition) const {
        detail::c_string t(topic);
        bool a = false;
        detail::check(kat_group_is_assigned(raw_, t.get(), partition, &a));
        return a;
    }
    group_stats stats() const {
        group_stats s;
        detail::check(kat_group_stats(raw_, &s));
        return s;
    }

    /// A handle on topic/partition for one-load ownership checks.
    partition_handle partition(std::string_view topic, std::int32_t partition) const {
        detail::c_string t(topic);
        kat_partition_handle_t *h = nullptr;
        detail::check(kat_group_partition(raw_, t.get(), partition, &h));
        return partition_handle(h);
    }

    /// The C handle, e.g. as the opaque of kat_rebalance_cb. Still owned.
    kat_group_t *get() const noexcept { return raw_; }

private:
    kat_group_t *raw_;
};

/// A non-owning, copyable view of a tracker.
class tracker_ref {
public:
    explicit tracker_ref(kat_tracker_t *raw) noexcept : raw_(raw) {}

    /// The group called `name`, created on first use (get-or-create).
    kat::group group(std::string_view name) const {
        detail::c_string n(name);
        kat_group_t *g = nullptr;
        detail::check(kat_tracker_group(raw_, n.get(), &g));
        return kat::group(g);
    }

    kat::snapshot snapshot() const {
        kat_snapshot_t *s = nullptr;
        detail::check(kat_tracker_snapshot(raw_, &s));
        return kat::snapshot(s);
    }

    kat::generations generations() const {
        kat_generations_t *g = nullptr;
        detail::check(kat_tracker_generations(raw_, &g));
        return kat::generations(g);
    }

    std::uint64_t epoch() const {
        std::uint64_t e = 0;
        detail::check(kat_tracker_epoch(raw_, &e));
        return e;
    }

    /// Blocks until the epoch differs from `epoch` or `timeout` passes;
    /// returns the epoch then. For monitoring threads only.
    std::uint64_t wait_for_change(std::uint64_t epoch, std::chrono::milliseconds timeout) const {
        std::uint64_t now = 0;
        const auto ms = timeout.count() < 0 ? 0 : static_cast<std::uint64_t>(timeout.count());
        detail::check(kat_tracker_wait_for_change(raw_, epoch, ms, &now));
        return now;
    }

    std::uint64_t generation(std::string_view group, std::string_view topic,
                             std::int32_t partition) const {
        detail::c_string g(group), t(topic);
        std::uint64_t gen = 0;
        detail::check(kat_tracker_generation(raw_, g.get(), t.get(), partition, &gen));
        return gen;
    }

    bool is_assigned(std::string_view group, std::string_view topic,
                     std::int32_t partition) const {
        detail::c_string g(group), t(topic);
        bool a = false;
        detail::check(kat_tracker_is_assigned(raw_, g.get(), t.get(), partition, &a));
        return a;
    }

    void clear() const { detail::check(kat_tracker_clear(raw_)); }

    std::size_t generations_topics_limit() const {
        std::size_t n = 0;
        detail::check(kat_tracker_generations_topics_limit(raw_, &n));
        return n;
    }
    void set_generations_topics_limit(std::size_t limit) const {
        detail::check(kat_tracker_set_generations_topics_limit(raw_, limit));
    }

    kat_tracker_t *get() const noexcept { return raw_; }

protected:
    kat_tracker_t *raw_;
};

/// An owning tracker. Move-only; groups, snapshots and handles taken from
/// it stay valid after it is destroyed.
class tracker : public tracker_ref {
public:
    /// An empty tracker (generations limit 100 000).
    tracker() : tracker_ref(kat_tracker_new()) {}

    /// An empty tracker keeping at most `generations_topics_limit` entries.
    explicit tracker(std::size_t generations_topics_limit) : tracker_ref(nullptr) {
        kat_tracker_t *t = nullptr;
        detail::check(kat_tracker_new_with_limit(generations_topics_limit, &t));
        raw_ = t;
    }

    tracker(tracker &&o) noexcept : tracker_ref(std::exchange(o.raw_, nullptr)) {}
    tracker &operator=(tracker &&o) noexcept {
        if (this != &o) {
            kat_tracker_free(owned());
            raw_ = std::exchange(o.raw_, nullptr);
        }
        return *this;
    }
    tracker(const tracker &) = delete;
    tracker &operator=(const tracker &) = delete;
    ~tracker() { kat_tracker_free(owned()); }

    /// The process-wide tracker (never freed).
    static tracker_ref global() noexcept { return tracker_ref(kat_tracker_global()); }

private:
    // raw_ came from kat_tracker_new*, so it is not really const.
    kat_tracker_t *owned() const noexcept { return const_cast<kat_tracker_t *>(raw_); }
};

#if defined(KAT_HPP_HAS_RDKAFKA_GLUE)
// ---- librdkafka glue (kat_rdkafka.h) --------------------------------------
//
// Present when <librdkafka/rdkafka.h> was included before kat.hpp (or
// KAT_WITH_RDKAFKA is defined) and kat_rdkafka.h is on the include path.
// The rebalance table, the error reporting and the thread rules are those of
// kat_rdkafka.h; this is the same code, reached from C++.
//
// - No exceptions: librdkafka calls a rebalance callback from C, and an
//   exception unwinding through its frames is undefined behaviour. Every
//   function here is noexcept and returns a kat_result like the C glue; on
//   anything but KAT_OK the polling thread's last error detail
//   (kat_last_error_message()) says what failed, with librdkafka's own text
//   for KAT_ERR_RDKAFKA. In your own callback, catch whatever your code may
//   throw before returning to librdkafka.
// - Free functions taking a `const kat::group &`, not members of
//   kat::group: the class stays the same in every translation unit, with
//   or without librdkafka. Like the `static inline` C functions they call,
//   they have internal linkage: each translation unit compiles them against
//   the librdkafka it includes.
// - A moved-from group holds no handle: the assign call is still made (the
//   consumer keeps working), nothing is recorded, KAT_ERR_NULL_POINTER.

/// A ready rebalance_cb whose opaque is the consumer's group handle:
///
///     rd_kafka_conf_set_rebalance_cb(conf, kat::rebalance_cb);
///     rd_kafka_conf_set_opaque(conf, group.get());
///
/// `group` must outlive the consumer (destroy it after rd_kafka_destroy()).
/// Failures are left as the polling thread's last error detail.
constexpr auto rebalance_cb = &::kat_rebalance_cb;

/// Handles one rebalance of `rk` and records it in `g`, for a program
/// with its own rebalance_cb: call it from that callback with librdkafka's
/// arguments. It makes the one assign call librdkafka requires, so the
/// callback must not make one itself. See kat_rebalance() for the results.
static inline kat_result rebalance(const kat::group &g, rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                   rd_kafka_topic_partition_list_t *partitions) noexcept {
    return ::kat_rebalance(g.get(), rk, err, partitions);
}

/// The same for a rebalance delivered through the event API
/// (RD_KAFKA_EVENT_REBALANCE); `ev` stays the caller's to destroy. See
/// kat_rebalance_event().
static inline kat_result rebalance_event(const kat::group &g, rd_kafka_t *rk,
                                         rd_kafka_event_t *ev) noexcept {
    return ::kat_rebalance_event(g.get(), rk, ev);
}

/// For the poll loop: records a loss librdkafka already knows of
/// (rd_kafka_assignment_lost()) in `g` before its revoke is served. One atomic load
/// when nothing is lost. See kat_check_lost().
static inline kat_result check_lost(const kat::group &g, rd_kafka_t *rk) noexcept {
    return ::kat_check_lost(g.get(), rk);
}
#endif

}  // namespace kat

#endif  // KAT_HPP
