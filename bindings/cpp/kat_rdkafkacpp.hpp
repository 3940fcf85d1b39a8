// kat_rdkafkacpp.hpp: kat.hpp plus the glue for librdkafka's C++ API
// (<librdkafka/rdkafkacpp.h>, RdKafka::KafkaConsumer, linked with
// -lrdkafka++). For librdkafka's C API include kat_rdkafka.hpp instead.
//
// Include order does not matter: this header includes rdkafkacpp.h and
// kat.hpp itself. It uses only the C++ API (no c_ptr()), so it works with
// any librdkafka++ from 1.6 on (rebalance_protocol(), incremental_assign()
// and assignment_lost() appeared there).
//
// The rebalance table is the one of kat_rdkafka.h, made with the C++ calls:
//
//   err                     protocol     assign call (exactly one)               recorded after it succeeded
//   ERR__ASSIGN_PARTITIONS  EAGER        consumer->assign(partitions)            replace
//   ERR__ASSIGN_PARTITIONS  COOPERATIVE  consumer->incremental_assign(...)       assigned
//   ERR__REVOKE_PARTITIONS  EAGER        consumer->unassign()                    lost ? lost : revoked
//   ERR__REVOKE_PARTITIONS  COOPERATIVE  consumer->incremental_unassign(...)     lost ? lost : revoked
//   anything else           any          consumer->unassign()                    lost
//
// "COOPERATIVE" is consumer->rebalance_protocol() (cooperative-sticky and
// KIP-848 `group.protocol=consumer`), read once per rebalance; `lost` is
// consumer->assignment_lost(), read before the unassign call (the call
// clears it). If librdkafka refuses the call nothing is recorded and the
// result is KAT_ERR_RDKAFKA with librdkafka's text.
//
// Everything here is noexcept and reports through kat::result (works with
// -fno-exceptions, like rdkafkacpp.h itself): an exception must never
// unwind through librdkafka's callback frames.
#ifndef KAT_RDKAFKACPP_HPP
#define KAT_RDKAFKACPP_HPP

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kat.hpp"

namespace kat {
namespace rdkafkacpp {

namespace detail {

inline kat_result refused(const char *call, const std::string &why) {
    const std::string message = std::string("RdKafka::KafkaConsumer::") + call + " failed: " + why;
    kat_set_last_error_message("kat::rdkafkacpp::rebalance", message.c_str());
    return KAT_ERR_RDKAFKA;
}

inline kat_result rebalance(kat_group_t *group, RdKafka::KafkaConsumer *consumer,
                            RdKafka::ErrorCode err,
                            const std::vector<RdKafka::TopicPartition *> &partitions) {
    if (consumer == nullptr) {
        kat_set_last_error_message("kat::rdkafkacpp::rebalance",
                                   "consumer is NULL: no assign call was made");
        return KAT_ERR_NULL_POINTER;
    }
    // A round trip to librdkafka's main thread: read once.
    const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
    bool lost = false;
    RdKafka::ErrorCode code = RdKafka::ERR_NO_ERROR;
    RdKafka::Error *error = nullptr;
    const char *call;
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
        if (cooperative) {
            call = "incremental_assign";
            error = consumer->incremental_assign(partitions);
        } else {
            call = "assign";
            code = consumer->assign(partitions);
        }
    } else if (err == RdKafka::ERR__REVOKE_PARTITIONS) {
        // Before unassigning: the call clears the flag.
        lost = consumer->assignment_lost();
        if (cooperative) {
            call = "incremental_unassign";
            error = consumer->incremental_unassign(partitions);
        } else {
            call = "unassign";
            code = consumer->unassign();
        }
    } else {
        call = "unassign";
        code = consumer->unassign();
    }
    if (error != nullptr) {
        const std::string why = error->str();
        delete error;
        return refused(call, why);
    }
    if (code != RdKafka::ERR_NO_ERROR) {
        return refused(call, RdKafka::err2str(code));
    }
    if (group == nullptr) {
        kat_set_last_error_message("kat::rdkafkacpp::rebalance",
                                   "group is NULL: the assign call was made, nothing was recorded");
        return KAT_ERR_NULL_POINTER;
    }
    if (err != RdKafka::ERR__ASSIGN_PARTITIONS && (err != RdKafka::ERR__REVOKE_PARTITIONS || lost)) {
        return kat_group_lost(group);
    }
    // The names stay librdkafka's: borrowed for the call, NUL-terminated.
    std::vector<kat_topic_partition_t> items;
    items.reserve(partitions.size());
    for (const RdKafka::TopicPartition *p : partitions) {
        items.push_back(kat_topic_partition_t{p != nullptr ? p->topic().c_str() : nullptr,
                                              p != nullptr ? p->partition() : -1});
    }
    if (err == RdKafka::ERR__REVOKE_PARTITIONS) {
        return kat_group_revoked_pairs(group, items.data(), items.size());
    }
    return cooperative ? kat_group_assigned_pairs(group, items.data(), items.size())
                       : kat_group_replace_pairs(group, items.data(), items.size());
}

}  // namespace detail

/// Handles one rebalance of `consumer` and records it in `g`, for a program
/// with its own RdKafka::RebalanceCb: call it from rebalance_cb() with the
/// arguments librdkafka passed. It makes the one assign call librdkafka
/// requires (see the table above), so the callback must not make one.
///
/// Errors: KAT_ERR_NULL_POINTER for a null consumer (no assign call) or a
/// moved-from group (the call was made, nothing recorded); KAT_ERR_RDKAFKA
/// when librdkafka refused the call (nothing recorded); or the error of the
/// record step. Every failure is also counted in the group's
/// `glue_failures` (kat::group::stats()). Thread: the one serving the
/// consumer's callbacks (inside consume() or close()).
[[nodiscard]] inline result<void> rebalance(
    const kat::group &g, RdKafka::KafkaConsumer *consumer, RdKafka::ErrorCode err,
    const std::vector<RdKafka::TopicPartition *> &partitions) noexcept {
    const kat_result r = detail::rebalance(g.get(), consumer, err, partitions);
    if (r != KAT_OK && g.get() != nullptr) {
        // Counted in the group's glue_failures (kat::group::stats()).
        kat_group_glue_failure(g.get());
    }
    return kat::detail::status_of(r);
}

/// For the poll loop: if consumer->assignment_lost() (one atomic load),
/// drops every partition of `g` with status lost at once, before the
/// revoke is served. See kat_check_lost() in kat_rdkafka.h.
[[nodiscard]] inline result<void> check_lost(const kat::group &g,
                                             RdKafka::KafkaConsumer *consumer) noexcept {
    if (consumer == nullptr) {
        kat_set_last_error_message("kat::rdkafkacpp::check_lost", "consumer is NULL");
        return kat::detail::failure(KAT_ERR_NULL_POINTER);
    }
    if (consumer->assignment_lost()) {
        return kat::detail::status_of(kat_group_lost(g.get()));
    }
    return {};
}

/// A ready RdKafka::RebalanceCb that owns the consumer's kat::group:
///
///     kat::rdkafkacpp::rebalance_callback cb(tracker.group("billing/0"));
///     conf->set("rebalance_cb", &cb, errstr);
///
/// Like every RdKafka callback object it must outlive the consumer (until
/// after its close()). Each rebalance runs kat::rdkafkacpp::rebalance(); a
/// failure is counted (failures(), readable from any thread) and passed to
/// on_failure(), which a subclass may override (it runs on the polling
/// thread, inside librdkafka: it must not throw).
class rebalance_callback : public RdKafka::RebalanceCb {
public:
    explicit rebalance_callback(kat::group g) noexcept : group_(std::move(g)) {}
    rebalance_callback(const rebalance_callback &) = delete;
    rebalance_callback &operator=(const rebalance_callback &) = delete;

    void rebalance_cb(RdKafka::KafkaConsumer *consumer, RdKafka::ErrorCode err,
                      std::vector<RdKafka::TopicPartition *> &partitions) override {
        const result<void> r = rebalance(group_, consumer, err, partitions);
        if (!r.ok()) {
            failures_.fetch_add(1, std::memory_order_relaxed);
            on_failure(r.err());
        }
    }

    /// Rebalances that failed (see rebalance() for why they can).
    std::uint64_t failures() const noexcept { return failures_.load(std::memory_order_relaxed); }

    /// The group the rebalances are recorded in.
    const kat::group &group() const noexcept { return group_; }

protected:
    /// Called on the polling thread for each failed rebalance.
    virtual void on_failure(const kat::error &) noexcept {}

private:
    kat::group group_;
    std::atomic<std::uint64_t> failures_{0};
};

}  // namespace rdkafkacpp
}  // namespace kat

#endif  // KAT_RDKAFKACPP_HPP
