# frozen_string_literal: true

module Kat
  # One consumer membership (one rdkafka consumer in one consumer group), by
  # name. Events go through a group; reads may too. Get it with
  # Tracker#group: the same name always designates the same group, so a
  # re-created consumer keeps its generations.
  #
  # Native methods (kat_ext), each one call into libkat:
  # - events: `assigned(assignment)`, `revoked(assignment)`,
  #   `replace(assignment)` where `assignment` is a Hash of topic name
  #   (String or Symbol) => Array or Range of partitions (Integers, or objects
  #   with #partition), or anything whose #to_h gives one (rdkafka-ruby's
  #   TopicPartitionList; there nil means no partitions); `lost`, `reset`;
  #   `assigned_native` / `revoked_native` / `replace_native` with an
  #   `rd_kafka_topic_partition_list_t *` (an FFI::Pointer or an address).
  #   Every event is atomic: with any invalid element it raises a Kat::Error
  #   naming the topic and partition, and changes nothing.
  # - reads: `generation(topic, partition)`, `assigned?(topic, partition)`,
  #   `partition(topic, partition)` (a Kat::Partition handle), `stats`,
  #   `name`, `tracker`.
  class Group
    # Frees the native group handle now and drops it from its tracker's
    # cache (Tracker#group then gives a new object for the same group; the
    # group's state is kept). Idempotent; later calls on this object raise
    # Kat::InvalidArgument. Do not close a group another thread still uses.
    def close
      __close
      tracker.send(:forget_group, self)
      nil
    end

    # --- monitoring (README "Monitoring") --------------------------------
    #
    # Native (kat_ext), each one call into libkat:
    # - `health`: the group's health as a Symbol (:never_joined, :standby,
    #   :assigned, :rebalancing, :lost, :stalled), one wait-free read;
    # - `history_json`: the rebalance history as libkat's JSON array;
    # - `rdkafka_cgrp_json`: the cgrp fields kept from the last statistics.

    # The group's health and since when it holds (Kat::GroupHealth), from
    # one read.
    def health_info
      GroupHealth.new(*__health)
    end

    # When the current health state began (a Time), nil if never joined.
    def health_since
      health_info.since
    end

    # The group's rebalance history, oldest first: a frozen Array of frozen
    # Kat::HistoryEntry values (at most Tracker#history_limit of them). It
    # is a copy: it never changes once returned.
    def history
      JSON.parse(history_json).map { |h| HistoryEntry.from_json_object(h) }.freeze
    end

    # Makes #health report :stalled once the consumer's last poll mark is
    # older than `seconds` (a Numeric; a fraction of max.poll.interval.ms,
    # e.g. half of it). nil or 0 turns it off (the default). Groups whose
    # polls are never marked are never stalled. Kept across Tracker#clear.
    def stall_after=(seconds)
      ms = if seconds.nil?
             0
           elsif seconds.is_a?(Numeric) && seconds.real? && seconds >= 0 && seconds.finite?
             (seconds * 1000).ceil
           end
      unless ms && ms <= MAX_U64
        raise InvalidArgument, "stall_after must be a non-negative, finite number of seconds or nil, " \
                               "got #{seconds.inspect[0, 80]}"
      end

      __set_stall_after_ms(ms)
    end

    # Hands kat librdkafka's statistics: the JSON String librdkafka's
    # stats_cb gets, or the Hash rdkafka-ruby's `Rdkafka::Config.statistics_callback`
    # and Karafka's `statistics.emitted` event (`event[:statistics]`) carry
    # (serialised again; Karafka's extra `_d` fields are ignored). kat keeps
    # the consumer group fields (cgrp) for the metrics (kat_rdkafka_cgrp_*)
    # and #rdkafka_cgrp. Statistics without cgrp change nothing. Malformed
    # JSON raises Kat::InvalidArgument naming the byte offset (invalid UTF-8:
    # Kat::InvalidUtf8) and changes nothing. Returns self.
    def rdkafka_stats(stats)
      __rdkafka_stats(stats.is_a?(Hash) ? JSON.generate(stats) : stats)
      self
    end

    # The same statistics without the partitions this group does not own
    # right now (topics.<topic>.partitions, librdkafka's -1 included, and
    # brokers.<broker>.toppars), so per-partition lag is reported by the
    # owner only: a new String for a String, a new Hash for a Hash.
    def strip_rdkafka_stats(stats)
      return __strip_rdkafka_stats(stats) unless stats.is_a?(Hash)

      JSON.parse(__strip_rdkafka_stats(JSON.generate(stats)))
    end

    # Tells the rebalance history which protocol the consumer follows
    # (:eager, or :cooperative for cooperative-sticky and KIP-848); later
    # entries carry it as `protocol`. For glue code of your own (the C, C++
    # and Rust glue report it themselves). Returns self.
    def note_rebalance_protocol(protocol)
      unless %i[eager cooperative].include?(protocol)
        raise InvalidArgument, "rebalance protocol must be :eager or :cooperative, got #{protocol.inspect[0, 80]}"
      end

      __note_rebalance_protocol(protocol == :cooperative)
    end

    # Native (kat_ext): `note_rebalance_error(detail)` records in the history
    # a rebalance your glue could not apply (an entry of kind :error with
    # `detail`, a String without NUL bytes; invalid UTF-8 is replaced)
    # without changing any assignment. Returns self.

    # --- ownership that ends on time (repository README) ------------------
    #
    # Native: `mark_poll` records that the consumer polled now (lock-free,
    # not an event); call it after every poll when kat's C glue does not
    # (kat_check_lost and kat_rdkafka.h's rebalance functions mark polls).
    # Poll marks also feed :stalled (#stall_after=) and
    # kat_last_poll_seconds_ago.

    # Arms (or, with `max_poll_interval` nil or 0, disarms) the group's poll
    # deadline: if no #mark_poll comes for `max_poll_interval - margin`
    # seconds, kat's timer thread marks the group's partitions lost within
    # a few milliseconds, with no call from the stuck thread. Pass the
    # consumer's max.poll.interval.ms / 1000.0. `margin` >= interval raises
    # Kat::InvalidArgument and changes nothing. Returns self.
    def set_poll_deadline(max_poll_interval, margin: 0)
      interval_ms = max_poll_interval.nil? ? 0 : Group.ms_arg(max_poll_interval, "max_poll_interval")
      __set_poll_deadline(interval_ms, Group.ms_arg(margin, "margin"))
    end

    # The group's poll marks, deadline and expiries (Kat::PollStats).
    def poll_stats
      PollStats.new(*__poll_stats)
    end

    # @api private: non-negative finite seconds as whole milliseconds
    # (rounded up).
    def self.ms_arg(seconds, what)
      ms = (seconds * 1000).ceil if seconds.is_a?(Numeric) && seconds.real? && seconds >= 0 && seconds.finite?
      return ms if ms && ms <= MAX_U64

      raise InvalidArgument, "#{what} must be a non-negative, finite number of seconds, got #{seconds.inspect[0, 80]}"
    end

    # The consumer group fields of the last librdkafka statistics handed to
    # #rdkafka_stats, as a frozen Hash ("state", "join_state",
    # "rebalance_age", "rebalance_cnt", "rebalance_reason",
    # "assignment_size", "received_unix_ms"), or nil if none were.
    def rdkafka_cgrp
      JSON.parse(rdkafka_cgrp_json, freeze: true)
    end

    MAX_U64 = (1 << 64) - 1
    private_constant :MAX_U64

    def inspect
      "#<Kat::Group #{name}#{closed? ? ' closed' : ''}>"
    end
    alias to_s inspect

    def to_json(*args)
      { "group" => name }.to_json(*args)
    end
  end
end
