// kat_rdkafka.hpp: kat.hpp plus the librdkafka glue of kat_rdkafka.h, for
// C++ programs that use librdkafka's C API (rd_kafka_t). For librdkafka's
// C++ API (RdKafka::KafkaConsumer) include kat_rdkafkacpp.hpp instead.
//
// Include order does not matter: this header includes
// <librdkafka/rdkafka.h>, kat_rdkafka.h and kat.hpp itself, and kat.hpp
// never depends on librdkafka. Needs include/ and bindings/cpp/ on the
// include path (or both installed side by side); link with libkat and with
// the application's librdkafka.
//
// The rebalance table, the thread rules and the error details are those of
// kat_rdkafka.h; this is the same code, reached from C++:
// - No exceptions: librdkafka calls a rebalance callback from C, and an
//   exception unwinding through its frames is undefined behaviour. Every
//   function here is noexcept and returns a kat::result<void> (the
//   kat::error carries the kat_result and the detail, with librdkafka's own
//   text for KAT_ERR_RDKAFKA); [[nodiscard]], since a dropped failure is an
//   unnoticed divergence between kat and librdkafka. They work the same
//   with -fno-exceptions. In your own callback, catch whatever your code
//   may throw before returning to librdkafka.
// - Free functions taking a `const kat::group &`: kat::group is the same
//   class in every translation unit, with or without librdkafka. Like the
//   `static inline` C functions they call, they have internal linkage.
// - A moved-from group holds no handle: the assign call is still made (the
//   consumer keeps working), nothing is recorded, KAT_ERR_NULL_POINTER.
#ifndef KAT_RDKAFKA_HPP
#define KAT_RDKAFKA_HPP

#include <librdkafka/rdkafka.h>

#include "kat.hpp"
#include "kat_rdkafka.h"

namespace kat {

/// A ready rebalance_cb whose opaque is the consumer's group handle:
///
///     rd_kafka_conf_set_rebalance_cb(conf, kat::rebalance_cb);
///     rd_kafka_conf_set_opaque(conf, group.get());
///
/// `group` must outlive the consumer (destroy it after rd_kafka_destroy()).
/// Failures are left as the polling thread's last error detail.
constexpr auto rebalance_cb = &::kat_rebalance_cb;

/// Handles one rebalance of `rk` and records it in `g`, for a program with
/// its own rebalance_cb: call it from that callback with librdkafka's
/// arguments. It makes the one assign call librdkafka requires, so the
/// callback must not make one itself. See kat_rebalance() for the errors.
[[nodiscard]] static inline result<void> rebalance(const kat::group &g, rd_kafka_t *rk,
                                                   rd_kafka_resp_err_t err,
                                                   rd_kafka_topic_partition_list_t *partitions) noexcept {
    return detail::status_of(::kat_rebalance(g.get(), rk, err, partitions));
}

/// The same for a rebalance delivered through the event API
/// (RD_KAFKA_EVENT_REBALANCE); `ev` stays the caller's to destroy. See
/// kat_rebalance_event().
[[nodiscard]] static inline result<void> rebalance_event(const kat::group &g, rd_kafka_t *rk,
                                                         rd_kafka_event_t *ev) noexcept {
    return detail::status_of(::kat_rebalance_event(g.get(), rk, ev));
}

/// For the poll loop: records a loss librdkafka already knows of
/// (rd_kafka_assignment_lost()) in `g` before its revoke is served. One
/// atomic load when nothing is lost. See kat_check_lost().
[[nodiscard]] static inline result<void> check_lost(const kat::group &g, rd_kafka_t *rk) noexcept {
    return detail::status_of(::kat_check_lost(g.get(), rk));
}

/// Closes an event-API consumer through rd_kafka_consumer_close_queue(),
/// serving its final rebalance through kat until it is closed; `queue` is
/// the queue the program polls (nullptr: the consumer queue). Blocks until
/// librdkafka has closed the consumer. See kat_consumer_close_queue().
[[nodiscard]] static inline result<void> consumer_close_queue(const kat::group &g, rd_kafka_t *rk,
                                                              rd_kafka_queue_t *queue = nullptr) noexcept {
    return detail::status_of(::kat_consumer_close_queue(g.get(), rk, queue));
}

/// After any close of `rk`: drops (as a reset) whatever kat still lists for
/// `g`, which a plain rd_kafka_consumer_close() of an event-API consumer
/// leaves behind. See kat_after_close().
[[nodiscard]] static inline result<void> after_close(const kat::group &g, rd_kafka_t *rk) noexcept {
    return detail::status_of(::kat_after_close(g.get(), rk));
}

/// Arms `g`'s poll deadline from the consumer's own max.poll.interval.ms,
/// expiring `margin` before it: with no poll mark (check_lost() after every
/// poll, or group::mark_poll()) for that long, kat marks the group's
/// partitions lost with no call from the stuck thread. Call it once after
/// creating the consumer. See kat_rdkafka_set_poll_deadline().
[[nodiscard]] static inline result<void> set_poll_deadline(
    const kat::group &g, rd_kafka_t *rk,
    std::chrono::milliseconds margin = std::chrono::milliseconds(0)) noexcept {
    return detail::status_of(::kat_rdkafka_set_poll_deadline(g.get(), rk, detail::ms_of(margin)));
}

/// The commit guard: removes from `offsets` (about to be committed) every
/// entry for a partition `g` does not own now, or every entry when
/// `broker_generation` (from a kat::fencing_token; 0: not checked) is no
/// longer the group's. Returns how many it removed; an empty list means
/// commit nothing. Bad input removes nothing. See kat_rdkafka_commit_guard().
[[nodiscard]] static inline result<std::size_t> commit_guard(
    const kat::group &g, rd_kafka_topic_partition_list_t *offsets,
    std::int32_t broker_generation = 0) noexcept {
    std::size_t removed = 0;
    return detail::value_of(
        ::kat_rdkafka_commit_guard(g.get(), offsets, broker_generation, &removed), &removed);
}

}  // namespace kat

#endif  // KAT_RDKAFKA_HPP
