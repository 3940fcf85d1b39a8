// kat.hpp: header-only C++17 wrapper over kat.h, the C ABI of kat, the
// Kafka assignments tracker. The librdkafka glue is in kat_rdkafka.hpp
// (librdkafka's C API) and kat_rdkafkacpp.hpp (its C++ API, RdKafka::*).
//
// - Ownership: `kat::tracker`, `kat::group`, `kat::snapshot`,
//   `kat::generations` and `kat::partition_handle` own one C handle each;
//   they are move-only and free it in their destructor. `kat::tracker_ref`
//   is a non-owning, copyable reference to a tracker (`kat::tracker::global()`
//   returns one). An owning type never converts into a borrowing one by
//   slicing: a `kat::tracker` lvalue converts to a `kat::tracker_ref` that
//   borrows it, a temporary `kat::tracker` does not convert at all
//   (`kat::tracker_ref r = kat::tracker();` does not compile).
// - Borrowed views (`group_view`, `topic_view`, `partitions`, the ranges of
//   `snapshot::groups()`, `generation_entry`, `group::name()`) and a
//   `kat::lease` (which releases itself through its partition_handle) point
//   into the object they came from and are valid while it lives (and is not
//   moved from). They cannot be taken from a temporary: those members are
//   deleted on rvalues, so `t.snapshot().find("g", "t")` and
//   `g.partition("t", 0).lease(1)` do not compile; hold the snapshot or
//   handle in a variable first.
// - Errors, two ways:
//   * every fallible call has a `try_` form that returns `kat::result<T>`
//     (a value or a `kat::error`), never throws a kat::error, and works with
//     `-fno-exceptions`;
//   * when exceptions are enabled (and KAT_NO_EXCEPTIONS is not defined),
//     the plain form returns T and throws `kat::error` on failure. With
//     exceptions disabled the plain forms do not exist: a program compiled
//     with -fno-exceptions uses the `try_` forms (using a plain form there is
//     a compile error, not a hidden abort). Every translation unit of a
//     program must be compiled in the same mode.
//   kat only fails on bad input (names, partitions, lists) or misuse (a
//   moved-from object), never on the hot path of a correct program;
//   `partition_handle::owned_at()` never fails. `result::value()` on an error
//   throws it, or without exceptions prints it and calls std::abort();
//   `*r` and `r->` on an error print it and call std::abort() in both modes.
//   Allocation failures are std::bad_alloc as anywhere in the standard
//   library (std::abort() without exceptions).
// - Strings in: anything that converts to `kat::name_arg`: `const char *`
//   (NUL-terminated), `const std::string &` or `std::string_view`. Reads by
//   name (tracker/group `generation`, `is_assigned`, `group()`,
//   `partition()`) never copy a name: a NUL-terminated one goes to kat as
//   is, a view goes through kat's pointer + length entry points. Events and
//   snapshot lookups copy a view (not a `const char *` or std::string) into
//   a NUL-terminated buffer, on the stack when shorter than 256 bytes. A
//   name containing a NUL byte is rejected (KAT_ERR_INVALID_ARGUMENT or
//   KAT_ERR_INVALID_TOPIC / _GROUP); a view is never read past its end.
// - Thread-safety is that of the C API: every object may be used from any
//   thread; do not move or destroy an object while another thread uses it.
#ifndef KAT_HPP
#define KAT_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "kat.h"

#if !defined(KAT_NO_EXCEPTIONS) && (defined(__cpp_exceptions) || defined(__EXCEPTIONS))
/// 1 when the throwing forms exist (exceptions on, KAT_NO_EXCEPTIONS unset).
#define KAT_HPP_EXCEPTIONS 1
#else
#define KAT_HPP_EXCEPTIONS 0
#endif

namespace kat {

/// The failure of a kat call: its result code and detailed message. A
/// std::runtime_error, thrown by the plain forms and carried by
/// kat::result; usable without exceptions too.
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

namespace detail {

[[noreturn]] inline void die(const char *what, const error &e) noexcept {
    std::fprintf(stderr, "kat.hpp: %s on an error result: %s\n", what, e.what());
    std::abort();
}

[[noreturn]] inline void raise(const error &e) {
#if KAT_HPP_EXCEPTIONS
    throw e;
#else
    die("value()", e);
#endif
}

}  // namespace detail

/// A value of type T, or the kat::error that prevented it. Returned by every
/// `try_` call and by the librdkafka glue; dropping one unread is a warning.
template <typename T>
class [[nodiscard]] result {
public:
    result(T value) noexcept(std::is_nothrow_move_constructible_v<T>)
        : v_(std::in_place_index<0>, std::move(value)) {}
    result(kat::error e) noexcept : v_(std::in_place_index<1>, std::move(e)) {}

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    /// The value; throws the error (without exceptions: aborts) if there is none.
    T &value() & {
        check_value();
        return *std::get_if<0>(&v_);
    }
    const T &value() const & {
        check_value();
        return *std::get_if<0>(&v_);
    }
    T value() && {
        check_value();
        return std::move(*std::get_if<0>(&v_));
    }
    /// The value, or `fallback` on an error.
    template <typename U>
    T value_or(U &&fallback) const & {
        return ok() ? *std::get_if<0>(&v_) : static_cast<T>(std::forward<U>(fallback));
    }
    template <typename U>
    T value_or(U &&fallback) && {
        return ok() ? std::move(*std::get_if<0>(&v_)) : static_cast<T>(std::forward<U>(fallback));
    }

    /// Checked access: aborts with the error's message if there is no value.
    T &operator*() & noexcept { return *checked("operator*"); }
    const T &operator*() const & noexcept { return *checked("operator*"); }
    T &&operator*() && noexcept { return std::move(*checked("operator*")); }
    /// Not on a temporary result: what it points to dies with it (hold
    /// the result, or use `*r`, which moves out of a temporary).
    T *operator->() & noexcept { return checked("operator->"); }
    const T *operator->() const & noexcept { return checked("operator->"); }
    T *operator->() && = delete;
    const T *operator->() const && = delete;

    /// The error; aborts if there is none (check ok() first).
    const kat::error &err() const noexcept {
        if (const kat::error *e = std::get_if<1>(&v_)) {
            return *e;
        }
        std::fputs("kat.hpp: err() on a result holding a value\n", stderr);
        std::abort();
    }

private:
    void check_value() const {
        if (const kat::error *e = std::get_if<1>(&v_)) {
            detail::raise(*e);
        }
    }
    T *checked(const char *what) noexcept {
        if (const kat::error *e = std::get_if<1>(&v_)) {
            detail::die(what, *e);
        }
        return std::get_if<0>(&v_);
    }
    const T *checked(const char *what) const noexcept {
        if (const kat::error *e = std::get_if<1>(&v_)) {
            detail::die(what, *e);
        }
        return std::get_if<0>(&v_);
    }

    std::variant<T, kat::error> v_;
};

/// Success, or the kat::error of a call that returns nothing.
template <>
class [[nodiscard]] result<void> {
public:
    result() noexcept = default;
    result(kat::error e) noexcept : e_(std::move(e)) {}

    bool ok() const noexcept { return !e_.has_value(); }
    explicit operator bool() const noexcept { return ok(); }

    /// Throws the error (without exceptions: aborts) if there is one.
    void value() const {
        if (e_) {
            detail::raise(*e_);
        }
    }

    /// The error; aborts if there is none (check ok() first).
    const kat::error &err() const noexcept {
        if (!e_) {
            std::fputs("kat.hpp: err() on a successful result\n", stderr);
            std::abort();
        }
        return *e_;
    }

private:
    std::optional<kat::error> e_;
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

/// The kat::error of a failed C call (the calling thread's last error).
inline kat::error failure(kat_result r) { return kat::error(r, last_error()); }

inline result<void> status_of(kat_result r) {
    if (r != KAT_OK) {
        return failure(r);
    }
    return {};
}

/// `*out` after the C call that wrote it returned `r` (a pointer, so that
/// the value is read after the call, not when the arguments are evaluated).
template <typename T>
result<T> value_of(kat_result r, const T *out) {
    if (r != KAT_OK) {
        return failure(r);
    }
    return *out;
}

/// Text kat copies out snprintf-style (`f(buf, cap, &len)`): asks for the
/// length, then fetches; once more if it grew in between (metrics can).
template <typename F>
result<std::string> text_of(F f) {
    std::size_t len = 0;
    kat_result r = f(nullptr, 0, &len);
    for (int attempt = 0; r == KAT_OK && attempt < 3; ++attempt) {
        std::vector<char> buf(len + 1 + 256);
        r = f(buf.data(), buf.size(), &len);
        if (r == KAT_OK) {
            return std::string(buf.data(), len);
        }
        if (r == KAT_ERR_BUFFER_TOO_SMALL) {
            r = KAT_OK;  // len is the new size: try again
        }
    }
    return failure(r);
}

/// An output handle for a C call whose out parameter is `T **` or
/// `const T **` (both spellings have been used by kat.h): the handle is kept
/// as `T *`, which is what the matching `_free` takes.
template <typename T>
struct out_handle {
    T *p = nullptr;
    operator T **() noexcept { return &p; }
    operator const T **() noexcept { return const_cast<const T **>(&p); }
};

}  // namespace detail

/// A name for kat (group or topic): a `const char *` (NUL-terminated, used
/// as is), a `const std::string &` (its c_str()) or a `std::string_view`
/// (copied with a NUL appended when used). Borrowed: only valid for the
/// call it is passed to.
class name_arg {
public:
    name_arg(const char *s) noexcept : data_(s), size_(unknown), terminated_(true) {}
    name_arg(const std::string &s) noexcept
        : data_(s.c_str()),
          size_(s.size()),
          terminated_(std::memchr(s.data(), '\0', s.size()) == nullptr) {}
    name_arg(std::string_view s) noexcept : data_(s.data()), size_(s.size()), terminated_(false) {}

    /// Calls `f(const char *)` with a NUL-terminated name: the caller's own
    /// pointer when it already is one, else a copy. Returns f's kat_result, or
    /// KAT_ERR_INVALID_ARGUMENT (and nothing called) for an embedded NUL.
    template <typename F>
    kat_result with_c_str(F &&f) const {
        if (terminated_) {
            return f(data_);
        }
        if (size_ != 0 && std::memchr(data_, '\0', size_) != nullptr) {
            kat_set_last_error_message("kat.hpp", "a name contains a NUL byte");
            return KAT_ERR_INVALID_ARGUMENT;
        }
        if (size_ < 256) {
            char buf[256];
            if (size_ != 0) {
                std::memcpy(buf, data_, size_);
            }
            buf[size_] = '\0';
            return f(static_cast<const char *>(buf));
        }
        const std::string copy(data_, size_);
        return f(copy.c_str());
    }

    /// True if data() is NUL-terminated at size() (no copy is ever needed).
    bool is_c_str() const noexcept { return terminated_; }
    /// True for a null `const char *`.
    bool is_null() const noexcept { return data_ == nullptr; }
    const char *data() const noexcept { return data_; }
    /// The length in bytes (strlen() of a `const char *`, computed here).
    std::size_t size() const noexcept {
        return size_ != unknown ? size_ : data_ != nullptr ? std::strlen(data_) : 0;
    }

private:
    static constexpr std::size_t unknown = static_cast<std::size_t>(-1);
    const char *data_;
    std::size_t size_;
    bool terminated_;
};

namespace detail {

/// Two names made NUL-terminated for one call.
template <typename F>
kat_result with_c_strs(const name_arg &a, const name_arg &b, F &&f) {
    return a.with_c_str([&](const char *x) { return b.with_c_str([&](const char *y) { return f(x, y); }); });
}

/// A read by one name without copying it: `by_c_str(const char *)` when the
/// name is NUL-terminated, else `by_len(const char *, size_t)`.
template <typename C, typename N>
kat_result by_name(const name_arg &a, C &&by_c_str, N &&by_len) {
    return a.is_c_str() ? by_c_str(a.data()) : by_len(a.data(), a.size());
}

/// The same with two names (group, topic). A null `const char *` goes to
/// the NUL-terminated entry point, which reports it as a null pointer.
template <typename C, typename N>
kat_result by_names(const name_arg &a, const name_arg &b, C &&by_c_str, N &&by_len) {
    if (a.is_c_str() && b.is_c_str()) {
        return by_c_str(a.data(), b.data());
    }
    if (a.is_null() || b.is_null()) {
        return with_c_strs(a, b, by_c_str);
    }
    return by_len(a.data(), a.size(), b.data(), b.size());
}

/// A contiguous run of int32_t partitions: any contiguous container of
/// int32_t (std::vector, std::array, ...). Borrowed for the call.
class partition_span {
public:
    template <typename Container,
              typename = decltype(static_cast<const std::int32_t *>(
                  std::data(std::declval<const Container &>()))),
              typename = decltype(std::size(std::declval<const Container &>()))>
    partition_span(const Container &c) noexcept : p_(std::data(c)), n_(std::size(c)) {}
    const std::int32_t *data() const noexcept { return p_; }
    std::size_t size() const noexcept { return n_; }

private:
    const std::int32_t *p_;
    std::size_t n_;
};

}  // namespace detail

/// A (topic, partition) pair for the multi-topic events.
using topic_partition = std::pair<std::string_view, std::int32_t>;

namespace detail {

/// NUL-terminated copies of (topic, partition) pairs for the C API.
template <typename Pairs, typename F, typename Group>
kat_result with_pairs(const Pairs &pairs, F f, Group *g) {
    std::vector<std::string> names;
    std::vector<kat_topic_partition_t> items;
    for (const topic_partition &tp : pairs) {
        if (tp.first.find('\0') != std::string_view::npos) {
            kat_set_last_error_message("kat.hpp", "a topic contains a NUL byte");
            return KAT_ERR_INVALID_ARGUMENT;
        }
        names.emplace_back(tp.first);
    }
    items.reserve(names.size());
    std::size_t i = 0;
    for (const topic_partition &tp : pairs) {
        items.push_back(kat_topic_partition_t{names[i++].c_str(), tp.second});
    }
    return f(g, items.data(), items.size());
}

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
/// A group's poll marks, armed poll deadline and expiries.
using poll_stats = kat_poll_stats_t;
/// A group's drain barrier: timeout and what the drains found.
using drain_stats = kat_drain_stats_t;

namespace detail {
/// A duration as the C API's unsigned milliseconds (negative: 0).
inline std::uint64_t ms_of(std::chrono::milliseconds d) noexcept {
    return d.count() > 0 ? static_cast<std::uint64_t>(d.count()) : 0;
}
}  // namespace detail

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
/// so iterators stay valid as long as the C object lives.
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

    /// Topic `i` (sorted by name); KAT_ERR_OUT_OF_RANGE past the end.
    [[nodiscard]] result<topic_view> try_topic(std::size_t i) const {
        kat_topic_view_t tv;
        const kat_result r = kat_snapshot_topic(snapshot_, index_, i, &tv);
        if (r != KAT_OK) {
            return detail::failure(r);
        }
        return topic_view(tv);
    }
#if KAT_HPP_EXCEPTIONS
    [[nodiscard]] topic_view topic(std::size_t i) const { return try_topic(i).value(); }
#endif

    struct where {
        const kat_snapshot_t *snapshot;
        std::size_t group;
    };
    static topic_view topic_at(where w, std::size_t i) {
        return group_view(w.snapshot, w.group, kat_group_view_t{}).try_topic(i).value();
    }
    using topic_iterator = detail::index_iterator<where, topic_view, &group_view::topic_at>;

    /// The group's assigned topics, sorted by name; iterated without copying.
    [[nodiscard]] detail::range<topic_iterator> topics() const noexcept {
        const where w{snapshot_, index_};
        return {topic_iterator(w, 0), topic_iterator(w, v_.topic_count), v_.topic_count};
    }

private:
    const kat_snapshot_t *snapshot_;
    std::size_t index_;
    kat_group_view_t v_;
};

/// An immutable view of a tracker at one epoch. Move-only. Its views
/// (groups(), group(), find()) borrow from it and cannot be taken from a
/// temporary snapshot.
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

    [[nodiscard]] result<std::uint64_t> try_epoch() const {
        std::uint64_t e = 0;
        return detail::value_of(kat_snapshot_epoch(raw_, &e), &e);
    }
    [[nodiscard]] result<std::size_t> try_group_count() const {
        std::size_t n = 0;
        return detail::value_of(kat_snapshot_group_count(raw_, &n), &n);
    }
    [[nodiscard]] result<std::size_t> try_partition_count() const {
        std::size_t n = 0;
        return detail::value_of(kat_snapshot_partition_count(raw_, &n), &n);
    }

    /// Group `i` (sorted by name); KAT_ERR_OUT_OF_RANGE past the end.
    [[nodiscard]] result<group_view> try_group(std::size_t i) const & {
        kat_group_view_t v;
        const kat_result r = kat_snapshot_group(raw_, i, &v);
        if (r != KAT_OK) {
            return detail::failure(r);
        }
        return group_view(raw_, i, v);
    }
    result<group_view> try_group(std::size_t i) const && = delete;

    static group_view group_at(const kat_snapshot_t *s, std::size_t i) {
        return snapshot::borrow(s).try_group(i).value();
    }
    using group_iterator =
        detail::index_iterator<const kat_snapshot_t *, group_view, &snapshot::group_at>;

    /// Every group holding a retained (group, topic) entry (README,
    /// "Bounded memory"), sorted by name; iterated without
    /// copying (views borrow from the snapshot). Empty on a moved-from one.
    [[nodiscard]] detail::range<group_iterator> groups() const & {
        const std::size_t n = try_group_count().value_or(0);
        return {group_iterator(raw_, 0), group_iterator(raw_, n), n};
    }
    detail::range<group_iterator> groups() const && = delete;

    /// The assigned partitions of group/topic, or nullopt if it owns none.
    [[nodiscard]] result<std::optional<topic_view>> try_find(name_arg group,
                                                             name_arg topic) const & {
        kat_topic_view_t v;
        const kat_result r = detail::with_c_strs(group, topic, [&](const char *g, const char *t) {
            return kat_snapshot_find_topic(raw_, g, t, &v);
        });
        if (r == KAT_ERR_NOT_FOUND) {
            return std::optional<topic_view>();
        }
        if (r != KAT_OK) {
            return detail::failure(r);
        }
        return std::optional<topic_view>(topic_view(v));
    }
    result<std::optional<topic_view>> try_find(name_arg, name_arg) const && = delete;

    [[nodiscard]] result<std::uint64_t> try_generation(name_arg group, name_arg topic,
                                                       std::int32_t partition) const {
        std::uint64_t gen = 0;
        return detail::value_of(
            detail::with_c_strs(group, topic,
                                [&](const char *g, const char *t) {
                                    return kat_snapshot_generation(raw_, g, t, partition, &gen);
                                }),
            &gen);
    }
    [[nodiscard]] result<bool> try_is_assigned(name_arg group, name_arg topic,
                                               std::int32_t partition) const {
        bool a = false;
        return detail::value_of(
            detail::with_c_strs(group, topic,
                                [&](const char *g, const char *t) {
                                    return kat_snapshot_is_assigned(raw_, g, t, partition, &a);
                                }),
            &a);
    }

    /// `{"epoch":N,"groups":{"group":{"topic":{"partition":generation}}}}`.
    [[nodiscard]] result<std::string> try_to_json() const {
        std::size_t len = 0;
        kat_result r = kat_snapshot_to_json(raw_, nullptr, 0, &len);
        if (r != KAT_OK) {
            return detail::failure(r);
        }
        std::vector<char> buf(len + 1);
        r = kat_snapshot_to_json(raw_, buf.data(), buf.size(), &len);
        if (r != KAT_OK) {
            return detail::failure(r);
        }
        return std::string(buf.data(), len);
    }

#if KAT_HPP_EXCEPTIONS
    [[nodiscard]] std::uint64_t epoch() const { return try_epoch().value(); }
    [[nodiscard]] std::size_t group_count() const { return try_group_count().value(); }
    [[nodiscard]] std::size_t partition_count() const { return try_partition_count().value(); }
    [[nodiscard]] group_view group(std::size_t i) const & { return try_group(i).value(); }
    group_view group(std::size_t i) const && = delete;
    [[nodiscard]] std::optional<topic_view> find(name_arg group, name_arg topic) const & {
        return try_find(group, topic).value();
    }
    std::optional<topic_view> find(name_arg group, name_arg topic) const && = delete;
    [[nodiscard]] std::uint64_t generation(name_arg group, name_arg topic,
                                           std::int32_t partition) const {
        return try_generation(group, topic, partition).value();
    }
    [[nodiscard]] bool is_assigned(name_arg group, name_arg topic, std::int32_t partition) const {
        return try_is_assigned(group, topic, partition).value();
    }
    [[nodiscard]] std::string to_json() const { return try_to_json().value(); }
#endif

    const kat_snapshot_t *get() const noexcept { return raw_; }

private:
    // A non-owning snapshot object for the iterators' static helpers.
    struct borrowed {
        const kat_snapshot_t *raw;
        result<group_view> try_group(std::size_t i) const {
            kat_group_view_t v;
            const kat_result r = kat_snapshot_group(raw, i, &v);
            if (r != KAT_OK) {
                return detail::failure(r);
            }
            return group_view(raw, i, v);
        }
    };
    static borrowed borrow(const kat_snapshot_t *s) noexcept { return borrowed{s}; }

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
/// Its entries borrow from it and cannot be taken from a temporary.
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

    [[nodiscard]] result<std::size_t> try_size() const {
        std::size_t n = 0;
        return detail::value_of(kat_generations_count(raw_, &n), &n);
    }
    [[nodiscard]] result<std::uint64_t> try_epoch() const {
        std::uint64_t e = 0;
        return detail::value_of(kat_generations_epoch(raw_, &e), &e);
    }
    /// Entry `i`; KAT_ERR_OUT_OF_RANGE past the end.
    [[nodiscard]] result<generation_entry> try_at(std::size_t i) const & {
        kat_generation_entry_t e;
        const kat_result r = kat_generations_get(raw_, i, &e);
        if (r != KAT_OK) {
            return detail::failure(r);
        }
        return generation_entry{detail::view(e.group, e.group_len),
                                detail::view(e.topic, e.topic_len), e.partition, e.generation,
                                static_cast<kat::status>(e.status)};
    }
    result<generation_entry> try_at(std::size_t i) const && = delete;

    static generation_entry entry_at(const kat_generations_t *g, std::size_t i) {
        kat_generation_entry_t e;
        const kat_result r = kat_generations_get(g, i, &e);
        if (r != KAT_OK) {
            detail::raise(detail::failure(r));
        }
        return generation_entry{detail::view(e.group, e.group_len),
                                detail::view(e.topic, e.topic_len), e.partition, e.generation,
                                static_cast<kat::status>(e.status)};
    }
    using iterator =
        detail::index_iterator<const kat_generations_t *, generation_entry, &generations::entry_at>;
    /// Iteration (range-for over a temporary works: the loop keeps it alive).
    iterator begin() const & noexcept { return iterator(raw_, 0); }
    iterator end() const & { return iterator(raw_, try_size().value_or(0)); }
    iterator begin() const && = delete;
    iterator end() const && = delete;

    [[nodiscard]] result<std::string> try_to_json() const {
        std::size_t len = 0;
        kat_result r = kat_generations_to_json(raw_, nullptr, 0, &len);
        if (r != KAT_OK) {
            return detail::failure(r);
        }
        std::vector<char> buf(len + 1);
        r = kat_generations_to_json(raw_, buf.data(), buf.size(), &len);
        if (r != KAT_OK) {
            return detail::failure(r);
        }
        return std::string(buf.data(), len);
    }

#if KAT_HPP_EXCEPTIONS
    [[nodiscard]] std::size_t size() const { return try_size().value(); }
    [[nodiscard]] std::uint64_t epoch() const { return try_epoch().value(); }
    [[nodiscard]] generation_entry operator[](std::size_t i) const & { return try_at(i).value(); }
    generation_entry operator[](std::size_t i) const && = delete;
    [[nodiscard]] std::string to_json() const { return try_to_json().value(); }
#endif

    const kat_generations_t *get() const noexcept { return raw_; }

private:
    kat_generations_t *raw_;
};

/// A fencing token (`partition_handle::token()`): what a job carries into
/// its own store's conditional write.
struct fencing_token {
    /// kat's generation of the partition (times this group was assigned it).
    std::uint64_t generation = 0;
    /// The broker's group generation id (classic protocol) or member epoch
    /// (KIP-848) at the last rebalance the glue handled; 0: unknown.
    std::int32_t broker_generation = 0;
    /// Whether the partition is assigned now; when false the other fields
    /// are 0 and there is no token to act on.
    bool owned = false;
};

/// An in-flight lease on a partition (`partition_handle::lease()`): an
/// orderly revoke with a drain timeout (`group::set_drain_timeout()`) waits
/// for it before giving the partition back. Move-only; released by the
/// destructor (or `release()`). It borrows the partition_handle it came
/// from, which must outlive it (taking one from a temporary handle does not
/// compile).
class [[nodiscard]] lease {
public:
    lease(lease &&o) noexcept : h_(std::exchange(o.h_, nullptr)), generation_(o.generation_) {}
    lease &operator=(lease &&o) noexcept {
        if (this != &o) {
            release();
            h_ = std::exchange(o.h_, nullptr);
            generation_ = o.generation_;
        }
        return *this;
    }
    lease(const lease &) = delete;
    lease &operator=(const lease &) = delete;
    ~lease() { release(); }

    /// Whether work under this lease may still act on the partition: it is
    /// assigned at the lease's generation, or an orderly revoke is draining
    /// it. False at once after a loss or a poll-deadline expiry, after the
    /// drain ended, and after release(). One or two atomic loads.
    [[nodiscard]] bool valid() const noexcept {
        return h_ != nullptr && kat_partition_handle_lease_valid(h_, generation_);
    }
    /// True until released (by release(), a move, or the destructor).
    [[nodiscard]] bool held() const noexcept { return h_ != nullptr; }
    /// The generation the lease was taken at.
    [[nodiscard]] std::uint64_t generation() const noexcept { return generation_; }
    /// Releases the lease now (no-op if already released). One atomic
    /// decrement.
    void release() noexcept {
        if (h_ != nullptr) {
            (void)kat_partition_handle_lease_release(h_);
            h_ = nullptr;
        }
    }

private:
    friend class partition_handle;
    lease(const kat_partition_handle_t *h, std::uint64_t generation) noexcept
        : h_(h), generation_(generation) {}

    const kat_partition_handle_t *h_;
    std::uint64_t generation_;
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

    /// Generation and status from one atomic load. Wait-free; fails only on
    /// a moved-from handle.
    [[nodiscard]] result<partition_state> try_state() const {
        kat_partition_state_t s;
        const kat_result r = kat_partition_handle_state(raw_, &s);
        if (r != KAT_OK) {
            return detail::failure(r);
        }
        return partition_state{s.generation, static_cast<kat::status>(s.status), s.assigned};
    }
#if KAT_HPP_EXCEPTIONS
    [[nodiscard]] partition_state state() const { return try_state().value(); }
#endif

    /// True if assigned now at exactly `generation` (false when empty).
    [[nodiscard]] bool owned_at(std::uint64_t generation) const noexcept {
        return kat_partition_handle_owned_at(raw_, generation);
    }

    /// The fencing token: kat's generation of the partition and its group's
    /// broker generation, read as of one moment. Wait-free in practice;
    /// fails only on a moved-from handle.
    [[nodiscard]] result<fencing_token> try_token() const {
        kat_fencing_token_t t{};
        const kat_result r = kat_partition_handle_token(raw_, &t);
        if (r != KAT_OK) {
            return detail::failure(r);
        }
        return fencing_token{t.generation, t.broker_generation, t.owned};
    }

    /// Takes a lease on the partition at `generation` (normally the one read
    /// when the work started). Fails with KAT_ERR_NOT_FOUND unless the
    /// partition is assigned at exactly that generation (not while a revoke
    /// is draining it, nor after), and with KAT_ERR_NULL_POINTER on a
    /// moved-from handle. Lock-free. The lease borrows this handle: not on a
    /// temporary handle.
    [[nodiscard]] result<kat::lease> try_lease(std::uint64_t generation) const & {
        if (raw_ == nullptr) {
            return kat::error(KAT_ERR_NULL_POINTER, "lease on a moved-from partition_handle");
        }
        if (!kat_partition_handle_lease_acquire(raw_, generation)) {
            return kat::error(KAT_ERR_NOT_FOUND, "the partition is not owned at generation " +
                                                     std::to_string(generation));
        }
        return kat::lease(raw_, generation);
    }
    result<kat::lease> try_lease(std::uint64_t generation) const && = delete;

    /// Blocks until the partition is no longer assigned at `generation`
    /// (revoked, lost, expired, drained, or reassigned) or `timeout`
    /// passes; true if ownership at `generation` ended. Returns at once if
    /// it already has. For worker or monitoring threads, never the
    /// rebalance thread or a hot path.
    [[nodiscard]] result<bool> try_wait_not_owned(std::uint64_t generation,
                                                  std::chrono::milliseconds timeout) const {
        bool ended = false;
        const auto ms = timeout.count() < 0 ? 0 : static_cast<std::uint64_t>(timeout.count());
        return detail::value_of(
            kat_partition_handle_wait_not_owned(raw_, generation, ms, &ended), &ended);
    }

#if KAT_HPP_EXCEPTIONS
    [[nodiscard]] fencing_token token() const { return try_token().value(); }
    [[nodiscard]] kat::lease lease(std::uint64_t generation) const & {
        return try_lease(generation).value();
    }
    kat::lease lease(std::uint64_t generation) const && = delete;
    bool wait_not_owned(std::uint64_t generation, std::chrono::milliseconds timeout) const {
        return try_wait_not_owned(generation, timeout).value();
    }
#endif

    const kat_partition_handle_t *get() const noexcept { return raw_; }
    explicit operator bool() const noexcept { return raw_ != nullptr; }

private:
    kat_partition_handle_t *raw_;
};

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

    /// The group's name, borrowed from this object (empty for a moved-from
    /// one). Not available on a temporary group.
    [[nodiscard]] std::string_view name() const & noexcept {
        const char *n = raw_ ? kat_group_name(raw_) : nullptr;
        return n ? std::string_view(n) : std::string_view();
    }
    std::string_view name() const && = delete;

    // Events with librdkafka's own list (read through its public layout).
    [[nodiscard]] result<void> try_assigned(const rd_kafka_topic_partition_list_s *list) const {
        return detail::status_of(kat_group_assigned(raw_, list));
    }
    [[nodiscard]] result<void> try_revoked(const rd_kafka_topic_partition_list_s *list) const {
        return detail::status_of(kat_group_revoked(raw_, list));
    }
    [[nodiscard]] result<void> try_replace(const rd_kafka_topic_partition_list_s *list) const {
        return detail::status_of(kat_group_replace(raw_, list));
    }

    // Events for one topic: an array, a braced list, or any contiguous
    // container of int32_t.
    [[nodiscard]] result<void> try_assigned(name_arg topic, const std::int32_t *parts,
                                            std::size_t n) const {
        return one_topic(kat_group_assigned_partitions, topic, parts, n);
    }
    [[nodiscard]] result<void> try_revoked(name_arg topic, const std::int32_t *parts,
                                           std::size_t n) const {
        return one_topic(kat_group_revoked_partitions, topic, parts, n);
    }
    [[nodiscard]] result<void> try_replace(name_arg topic, const std::int32_t *parts,
                                           std::size_t n) const {
        return one_topic(kat_group_replace_partitions, topic, parts, n);
    }
    [[nodiscard]] result<void> try_assigned(name_arg topic,
                                       std::initializer_list<std::int32_t> parts) const {
        return try_assigned(topic, parts.begin(), parts.size());
    }
    [[nodiscard]] result<void> try_revoked(name_arg topic,
                                       std::initializer_list<std::int32_t> parts) const {
        return try_revoked(topic, parts.begin(), parts.size());
    }
    [[nodiscard]] result<void> try_replace(name_arg topic,
                                       std::initializer_list<std::int32_t> parts) const {
        return try_replace(topic, parts.begin(), parts.size());
    }
    [[nodiscard]] result<void> try_assigned(name_arg topic, detail::partition_span parts) const {
        return try_assigned(topic, parts.data(), parts.size());
    }
    [[nodiscard]] result<void> try_revoked(name_arg topic, detail::partition_span parts) const {
        return try_revoked(topic, parts.data(), parts.size());
    }
    [[nodiscard]] result<void> try_replace(name_arg topic, detail::partition_span parts) const {
        return try_replace(topic, parts.data(), parts.size());
    }

    // Events over several topics: (topic, partition) pairs.
    [[nodiscard]] result<void> try_assigned(std::initializer_list<topic_partition> pairs) const {
        return detail::status_of(detail::with_pairs(pairs, kat_group_assigned_pairs, raw_));
    }
    [[nodiscard]] result<void> try_assigned(const std::vector<topic_partition> & pairs) const {
        return detail::status_of(detail::with_pairs(pairs, kat_group_assigned_pairs, raw_));
    }
    [[nodiscard]] result<void> try_revoked(std::initializer_list<topic_partition> pairs) const {
        return detail::status_of(detail::with_pairs(pairs, kat_group_revoked_pairs, raw_));
    }
    [[nodiscard]] result<void> try_revoked(const std::vector<topic_partition> & pairs) const {
        return detail::status_of(detail::with_pairs(pairs, kat_group_revoked_pairs, raw_));
    }
    [[nodiscard]] result<void> try_replace(std::initializer_list<topic_partition> pairs) const {
        return detail::status_of(detail::with_pairs(pairs, kat_group_replace_pairs, raw_));
    }
    [[nodiscard]] result<void> try_replace(const std::vector<topic_partition> & pairs) const {
        return detail::status_of(detail::with_pairs(pairs, kat_group_replace_pairs, raw_));
    }

    [[nodiscard]] result<void> try_lost() const { return detail::status_of(kat_group_lost(raw_)); }
    [[nodiscard]] result<void> try_reset() const {
        return detail::status_of(kat_group_reset(raw_));
    }

    // Reads: wait-free.
    [[nodiscard]] result<std::uint64_t> try_generation(name_arg topic,
                                                       std::int32_t partition) const {
        std::uint64_t g = 0;
        const kat_result r = detail::by_name(
            topic, [&](const char *t) { return kat_group_generation(raw_, t, partition, &g); },
            [&](const char *t, std::size_t n) {
                return kat_group_generation_n(raw_, t, n, partition, &g);
            });
        return detail::value_of(r, &g);
    }
    [[nodiscard]] result<bool> try_is_assigned(name_arg topic, std::int32_t partition) const {
        bool a = false;
        const kat_result r = detail::by_name(
            topic, [&](const char *t) { return kat_group_is_assigned(raw_, t, partition, &a); },
            [&](const char *t, std::size_t n) {
                return kat_group_is_assigned_n(raw_, t, n, partition, &a);
            });
        return detail::value_of(r, &a);
    }
    [[nodiscard]] result<group_stats> try_stats() const {
        group_stats s{};
        return detail::value_of(kat_group_stats(raw_, &s), &s);
    }

    /// A handle on topic/partition for one-load ownership checks.
    [[nodiscard]] result<partition_handle> try_partition(name_arg topic,
                                                         std::int32_t partition) const {
        detail::out_handle<kat_partition_handle_t> h;
        const kat_result r = detail::by_name(
            topic, [&](const char *t) { return kat_group_partition(raw_, t, partition, h); },
            [&](const char *t, std::size_t n) {
                return kat_group_partition_n(raw_, t, n, partition, h);
            });
        if (r != KAT_OK) {
            return detail::failure(r);
        }
        return partition_handle(h.p);
    }

    /// Monitoring (README "Monitoring"): the group's health and since when,
    /// one wait-free read.
    [[nodiscard]] result<kat_group_health_t> try_health() const {
        kat_group_health_t h{};
        return detail::value_of(kat_group_health(raw_, &h), &h);
    }
    /// The rebalance history as a JSON array, oldest first.
    [[nodiscard]] result<std::string> try_history_json() const {
        return detail::text_of([&](char *b, std::size_t c, std::size_t *n) {
            return kat_group_history_json(raw_, b, c, n);
        });
    }
    /// Health says `stalled` once the last poll mark is older than `after`
    /// (0 turns it off).
    [[nodiscard]] result<void> try_set_stall_after(std::chrono::milliseconds after) const {
        return detail::status_of(kat_group_set_stall_after_ms(
            raw_, after.count() > 0 ? static_cast<std::uint64_t>(after.count()) : 0));
    }
    /// Records a poll of the group's consumer now (the poll deadline
    /// measures from the last mark). kat::check_lost() and the rebalance
    /// glue mark polls already. Lock-free.
    [[nodiscard]] result<void> try_mark_poll() const {
        return detail::status_of(kat_group_mark_poll(raw_));
    }
    /// Arms, changes or (with a zero interval) disarms the poll deadline:
    /// with no poll mark for `max_poll_interval - margin`, kat's timer
    /// thread marks every partition of the group lost, with no call from
    /// the stuck thread. KAT_ERR_INVALID_ARGUMENT if `margin` is not below
    /// a non-zero interval. kat::set_poll_deadline() (kat_rdkafka.hpp)
    /// reads the interval from the consumer.
    [[nodiscard]] result<void> try_set_poll_deadline(
        std::chrono::milliseconds max_poll_interval,
        std::chrono::milliseconds margin = std::chrono::milliseconds(0)) const {
        return detail::status_of(kat_group_set_poll_deadline(raw_, detail::ms_of(max_poll_interval),
                                                             detail::ms_of(margin)));
    }
    /// Poll marks, the armed deadline and the expiries. Never locks.
    [[nodiscard]] result<kat::poll_stats> try_poll_stats() const {
        kat::poll_stats s{};
        return detail::value_of(kat_group_poll_stats(raw_, &s), &s);
    }
    /// How long an orderly revoke handled by the glue waits for leases on
    /// the revoked partitions before the unassign call (0, the default: no
    /// wait). Keep it well below max.poll.interval.ms.
    [[nodiscard]] result<void> try_set_drain_timeout(std::chrono::milliseconds timeout) const {
        return detail::status_of(kat_group_set_drain_timeout(raw_, detail::ms_of(timeout)));
    }
    /// The drain timeout and what the drains found (leases held at it).
    [[nodiscard]] result<kat::drain_stats> try_drain_stats() const {
        kat::drain_stats s{};
        return detail::value_of(kat_group_drain_stats(raw_, &s), &s);
    }
    /// The broker generation (classic) or member epoch (KIP-848) recorded
    /// at the group's last rebalance; 0: unknown. One atomic load.
    [[nodiscard]] result<std::int32_t> try_broker_generation() const {
        std::int32_t g = 0;
        return detail::value_of(kat_group_broker_generation(raw_, &g), &g);
    }
    /// The member id recorded at the group's last rebalance
    /// (KAT_ERR_NOT_FOUND if none was).
    [[nodiscard]] result<std::string> try_member_id() const {
        return detail::text_of([&](char *b, std::size_t c, std::size_t *n) {
            return kat_group_member_id(raw_, b, c, n);
        });
    }

    /// Sets (or, with `cb == nullptr`, removes) the group's loss notifier:
    /// `cb(group_name, opaque)` is called after every event that took
    /// partitions away (revoke, loss, reset, poll-deadline expiry, start of
    /// a drain), on the thread that applied it (the polling thread, or kat's
    /// timer thread). It must be quick, must not block and must not throw.
    /// Replaces a loss eventfd. `opaque` must stay valid until removed.
    [[nodiscard]] result<void> try_set_loss_callback(kat_loss_cb cb, void *opaque) const {
        return detail::status_of(kat_group_set_loss_callback(raw_, cb, opaque));
    }
    /// Linux: an eventfd that becomes readable whenever the group loses
    /// partitions (read its 8-byte counter to reset it). kat's fd: close it
    /// only with close_loss_eventfd(). The same fd on repeated calls.
    [[nodiscard]] result<int> try_loss_eventfd() const {
        int fd = -1;
        return detail::value_of(kat_group_loss_eventfd(raw_, &fd), &fd);
    }
    /// Closes the loss eventfd and removes the notifier (no-op without one).
    [[nodiscard]] result<void> try_close_loss_eventfd() const {
        return detail::status_of(kat_group_close_loss_eventfd(raw_));
    }

    /// Hands kat librdkafka's statistics JSON (a stats_cb's `json`, `json_len`).
    [[nodiscard]] result<void> try_rdkafka_stats(std::string_view json) const {
        return detail::status_of(kat_group_rdkafka_stats(raw_, json.data(), json.size()));
    }
    /// librdkafka's statistics JSON without the partitions this group does not own.
    [[nodiscard]] result<std::string> try_strip_rdkafka_stats(std::string_view json) const {
        return detail::text_of([&](char *b, std::size_t c, std::size_t *n) {
            return kat_group_rdkafka_stats_strip(raw_, json.data(), json.size(), b, c, n);
        });
    }

#if KAT_HPP_EXCEPTIONS
    void assigned(const rd_kafka_topic_partition_list_s *list) const {
        try_assigned(list).value();
    }
    void revoked(const rd_kafka_topic_partition_list_s *list) const { try_revoked(list).value(); }
    void replace(const rd_kafka_topic_partition_list_s *list) const { try_replace(list).value(); }
    void assigned(name_arg topic, const std::int32_t *parts, std::size_t n) const {
        try_assigned(topic, parts, n).value();
    }
    void revoked(name_arg topic, const std::int32_t *parts, std::size_t n) const {
        try_revoked(topic, parts, n).value();
    }
    void replace(name_arg topic, const std::int32_t *parts, std::size_t n) const {
        try_replace(topic, parts, n).value();
    }
    void assigned(name_arg topic, detail::partition_span parts) const {
        try_assigned(topic, parts).value();
    }
    void revoked(name_arg topic, detail::partition_span parts) const {
        try_revoked(topic, parts).value();
    }
    void replace(name_arg topic, detail::partition_span parts) const {
        try_replace(topic, parts).value();
    }
    void assigned(name_arg topic, std::initializer_list<std::int32_t> parts) const {
        try_assigned(topic, parts).value();
    }
    void assigned(std::initializer_list<topic_partition> pairs) const { try_assigned(pairs).value(); }
    void assigned(const std::vector<topic_partition> & pairs) const { try_assigned(pairs).value(); }
    void revoked(name_arg topic, std::initializer_list<std::int32_t> parts) const {
        try_revoked(topic, parts).value();
    }
    void revoked(std::initializer_list<topic_partition> pairs) const { try_revoked(pairs).value(); }
    void revoked(const std::vector<topic_partition> & pairs) const { try_revoked(pairs).value(); }
    void replace(name_arg topic, std::initializer_list<std::int32_t> parts) const {
        try_replace(topic, parts).value();
    }
    void replace(std::initializer_list<topic_partition> pairs) const { try_replace(pairs).value(); }
    void replace(const std::vector<topic_partition> & pairs) const { try_replace(pairs).value(); }
    void lost() const { try_lost().value(); }
    void reset() const { try_reset().value(); }
    [[nodiscard]] std::uint64_t generation(name_arg topic, std::int32_t partition) const {
        return try_generation(topic, partition).value();
    }
    [[nodiscard]] bool is_assigned(name_arg topic, std::int32_t partition) const {
        return try_is_assigned(topic, partition).value();
    }
    [[nodiscard]] kat_group_health_t health() const { return try_health().value(); }
    [[nodiscard]] std::string history_json() const { return try_history_json().value(); }
    void set_stall_after(std::chrono::milliseconds after) const {
        try_set_stall_after(after).value();
    }
    void rdkafka_stats(std::string_view json) const { try_rdkafka_stats(json).value(); }
    [[nodiscard]] std::string strip_rdkafka_stats(std::string_view json) const {
        return try_strip_rdkafka_stats(json).value();
    }
    [[nodiscard]] group_stats stats() const { return try_stats().value(); }
    void mark_poll() const { try_mark_poll().value(); }
    void set_poll_deadline(std::chrono::milliseconds max_poll_interval,
                           std::chrono::milliseconds margin = std::chrono::milliseconds(0)) const {
        try_set_poll_deadline(max_poll_interval, margin).value();
    }
    [[nodiscard]] kat::poll_stats poll_stats() const { return try_poll_stats().value(); }
    void set_drain_timeout(std::chrono::milliseconds timeout) const {
        try_set_drain_timeout(timeout).value();
    }
    [[nodiscard]] kat::drain_stats drain_stats() const { return try_drain_stats().value(); }
    [[nodiscard]] std::int32_t broker_generation() const {
        return try_broker_generation().value();
    }
    [[nodiscard]] std::string member_id() const { return try_member_id().value(); }
    void set_loss_callback(kat_loss_cb cb, void *opaque) const {
        try_set_loss_callback(cb, opaque).value();
    }
    [[nodiscard]] int loss_eventfd() const { return try_loss_eventfd().value(); }
    void close_loss_eventfd() const { try_close_loss_eventfd().value(); }
    [[nodiscard]] partition_handle partition(name_arg topic, std::int32_t partition) const {
        return try_partition(topic, partition).value();
    }
#endif

    /// The C handle, e.g. as the opaque of kat_rebalance_cb. Still owned.
    kat_group_t *get() const noexcept { return raw_; }

private:
    template <typename F>
    result<void> one_topic(F f, const name_arg &topic, const std::int32_t *parts,
                           std::size_t n) const {
        return detail::status_of(
            topic.with_c_str([&](const char *t) { return f(raw_, t, parts, n); }));
    }

    kat_group_t *raw_;
};

namespace detail {

/// The reads and events every tracker offers, for kat::tracker (owning)
/// and kat::tracker_ref (borrowing). Neither derives from the other.
template <typename Self>
class tracker_ops {
public:
    /// The group called `name`, created on first use (get-or-create).
    [[nodiscard]] result<kat::group> try_group(name_arg name) const {
        kat_group_t *g = nullptr;
        const kat_result r = by_name(
            name, [&](const char *n) { return kat_tracker_group(raw(), n, &g); },
            [&](const char *n, std::size_t len) { return kat_tracker_group_n(raw(), n, len, &g); });
        if (r != KAT_OK) {
            return failure(r);
        }
        return kat::group(g);
    }
    /// The current snapshot: never changes while held.
    [[nodiscard]] result<kat::snapshot> try_snapshot() const {
        out_handle<kat_snapshot_t> s;
        const kat_result r = kat_tracker_snapshot(raw(), s);
        if (r != KAT_OK) {
            return failure(r);
        }
        return kat::snapshot(s.p);
    }
    [[nodiscard]] result<kat::generations> try_generations() const {
        kat_generations_t *g = nullptr;
        const kat_result r = kat_tracker_generations(raw(), &g);
        if (r != KAT_OK) {
            return failure(r);
        }
        return kat::generations(g);
    }
    [[nodiscard]] result<std::uint64_t> try_epoch() const {
        std::uint64_t e = 0;
        return value_of(kat_tracker_epoch(raw(), &e), &e);
    }
    /// Blocks until the epoch differs from `epoch` or `timeout` passes;
    /// returns the epoch then. For monitoring threads only.
    [[nodiscard]] result<std::uint64_t> try_wait_for_change(
        std::uint64_t epoch, std::chrono::milliseconds timeout) const {
        std::uint64_t now = 0;
        const auto ms = timeout.count() < 0 ? 0 : static_cast<std::uint64_t>(timeout.count());
        return value_of(kat_tracker_wait_for_change(raw(), epoch, ms, &now), &now);
    }
    [[nodiscard]] result<std::uint64_t> try_generation(name_arg group, name_arg topic,
                                                       std::int32_t partition) const {
        std::uint64_t gen = 0;
        const kat_result r = by_names(
            group, topic,
            [&](const char *g, const char *t) {
                return kat_tracker_generation(raw(), g, t, partition, &gen);
            },
            [&](const char *g, std::size_t gn, const char *t, std::size_t tn) {
                return kat_tracker_generation_n(raw(), g, gn, t, tn, partition, &gen);
            });
        return value_of(r, &gen);
    }
    [[nodiscard]] result<bool> try_is_assigned(name_arg group, name_arg topic,
                                               std::int32_t partition) const {
        bool a = false;
        const kat_result r = by_names(
            group, topic,
            [&](const char *g, const char *t) {
                return kat_tracker_is_assigned(raw(), g, t, partition, &a);
            },
            [&](const char *g, std::size_t gn, const char *t, std::size_t tn) {
                return kat_tracker_is_assigned_n(raw(), g, gn, t, tn, partition, &a);
            });
        return value_of(r, &a);
    }
    [[nodiscard]] result<void> try_clear() const { return status_of(kat_tracker_clear(raw())); }
    [[nodiscard]] result<std::size_t> try_generations_topics_limit() const {
        std::size_t n = 0;
        return value_of(kat_tracker_generations_topics_limit(raw(), &n), &n);
    }
    [[nodiscard]] result<void> try_set_generations_topics_limit(std::size_t limit) const {
        return status_of(kat_tracker_set_generations_topics_limit(raw(), limit));
    }

    /// Prometheus text (KAT_METRICS_PROMETHEUS) or OpenMetrics of the
    /// tracker: one series per owned partition, group counters and health.
    [[nodiscard]] result<std::string> try_metrics(
        kat_metrics_format format = KAT_METRICS_PROMETHEUS) const {
        return text_of([&](char *b, std::size_t c, std::size_t *n) {
            return kat_tracker_metrics(raw(), static_cast<unsigned>(format), b, c, n);
        });
    }
    [[nodiscard]] result<void> try_set_history_limit(std::size_t limit) const {
        return status_of(kat_tracker_set_history_limit(raw(), limit));
    }

#if KAT_HPP_EXCEPTIONS
    [[nodiscard]] kat::group group(name_arg name) const { return try_group(name).value(); }
    [[nodiscard]] kat::snapshot snapshot() const { return try_snapshot().value(); }
    [[nodiscard]] kat::generations generations() const { return try_generations().value(); }
    [[nodiscard]] std::uint64_t epoch() const { return try_epoch().value(); }
    std::uint64_t wait_for_change(std::uint64_t epoch, std::chrono::milliseconds timeout) const {
        return try_wait_for_change(epoch, timeout).value();
    }
    [[nodiscard]] std::uint64_t generation(name_arg group, name_arg topic,
                                           std::int32_t partition) const {
        return try_generation(group, topic, partition).value();
    }
    [[nodiscard]] bool is_assigned(name_arg group, name_arg topic, std::int32_t partition) const {
        return try_is_assigned(group, topic, partition).value();
    }
    void clear() const { try_clear().value(); }
    [[nodiscard]] std::size_t generations_topics_limit() const {
        return try_generations_topics_limit().value();
    }
    void set_generations_topics_limit(std::size_t limit) const {
        try_set_generations_topics_limit(limit).value();
    }
    [[nodiscard]] std::string metrics(kat_metrics_format format = KAT_METRICS_PROMETHEUS) const {
        return try_metrics(format).value();
    }
    void set_history_limit(std::size_t limit) const { try_set_history_limit(limit).value(); }
#endif

private:
    kat_tracker_t *raw() const noexcept { return static_cast<const Self &>(*this).get(); }
};

}  // namespace detail

/// A non-owning, copyable reference to a tracker: the global one, or a
/// kat::tracker that outlives it.
class tracker_ref : public detail::tracker_ops<tracker_ref> {
public:
    explicit tracker_ref(kat_tracker_t *raw) noexcept : raw_(raw) {}
    kat_tracker_t *get() const noexcept { return raw_; }

private:
    kat_tracker_t *raw_;
};

/// An owning tracker. Move-only; groups, snapshots and handles taken from
/// it stay valid after it is destroyed.
class tracker : public detail::tracker_ops<tracker> {
public:
    /// An empty tracker (generations limit 100 000). Never fails.
    tracker() noexcept : raw_(kat_tracker_new()) {}

    /// An empty tracker keeping at most `generations_topics_limit` entries
    /// (KAT_ERR_INVALID_ARGUMENT for 0).
    [[nodiscard]] static result<tracker> try_create(std::size_t generations_topics_limit) {
        kat_tracker_t *t = nullptr;
        const kat_result r = kat_tracker_new_with_limit(generations_topics_limit, &t);
        if (r != KAT_OK) {
            return detail::failure(r);
        }
        return tracker(t, adopt{});
    }
#if KAT_HPP_EXCEPTIONS
    explicit tracker(std::size_t generations_topics_limit)
        : tracker(try_create(generations_topics_limit).value()) {}
#endif

    tracker(tracker &&o) noexcept : raw_(std::exchange(o.raw_, nullptr)) {}
    tracker &operator=(tracker &&o) noexcept {
        if (this != &o) {
            kat_tracker_free(raw_);
            raw_ = std::exchange(o.raw_, nullptr);
        }
        return *this;
    }
    tracker(const tracker &) = delete;
    tracker &operator=(const tracker &) = delete;
    ~tracker() { kat_tracker_free(raw_); }

    /// A reference borrowing this tracker: valid while it lives. A
    /// temporary tracker has none (it would be freed at once).
    [[nodiscard]] tracker_ref ref() const & noexcept { return tracker_ref(raw_); }
    tracker_ref ref() const && = delete;
    operator tracker_ref() const & noexcept { return tracker_ref(raw_); }
    operator tracker_ref() const && = delete;

    /// The process-wide tracker (never freed).
    [[nodiscard]] static tracker_ref global() noexcept {
        // Whether kat.h spells it const or not, the global tracker is
        // shared and never freed.
        return tracker_ref(const_cast<kat_tracker_t *>(kat_tracker_global()));
    }

    kat_tracker_t *get() const noexcept { return raw_; }

private:
    struct adopt {};
    tracker(kat_tracker_t *raw, adopt) noexcept : raw_(raw) {}
    kat_tracker_t *raw_;
};

}  // namespace kat

#endif  // KAT_HPP
