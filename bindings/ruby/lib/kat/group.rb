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

    def inspect
      "#<Kat::Group #{name}#{closed? ? ' closed' : ''}>"
    end
    alias to_s inspect

    def to_json(*args)
      { "group" => name }.to_json(*args)
    end

    # The group's health, one wait-free read in libkat: :never_joined,
    # :standby, :assigned, :rebalancing, :lost or :stalled.
    def health
      __health.first.to_sym
    end

    # When the current health state began (a Time), nil if never joined.
    def health_since
      ms = __health.last
      ms.zero? ? nil : Time.at(ms / 1000r)
    end

    # The rebalance history, oldest first: an Array of Hashes parsed from
    # #history_json ("kind", "assigned", "revoked", "lost", "rebalance_ms",
    # "partitions", "protocol", "error", ...).
    def history
      JSON.parse(history_json)
    end
  end
end
