# frozen_string_literal: true

require "json"

module Kat
  # A (group, topic) pair: the key of Tracker#assignments and
  # Tracker#generations. A frozen value object: equal names make equal keys.
  # Names may be given as Strings or Symbols (stored as frozen Strings); an
  # empty or missing name raises, as it would in an event.
  Topic = Struct.new(:group, :name) do
    def initialize(group, name)
      unless (group.is_a?(String) || group.is_a?(Symbol)) && !group.empty?
        raise InvalidGroup, "group name must be a non-empty String or Symbol, got #{group.inspect[0, 80]}"
      end
      unless (name.is_a?(String) || name.is_a?(Symbol)) && !name.empty?
        raise InvalidTopic, "topic name must be a non-empty String or Symbol, got #{name.inspect[0, 80]}"
      end

      super(-group.to_s, -name.to_s)
      freeze
    end

    def to_s
      "#{group}/#{name}"
    end

    def inspect
      "#<Kat::Topic #{group}/#{name}>"
    end

    # {"group":"billing","name":"orders"}. As a Hash key in JSON it is
    # "billing/orders" (#to_s).
    def to_json(*args)
      { "group" => group, "name" => name }.to_json(*args)
    end
  end

  # A key's generation (times assigned, 0 = never) and status (:assigned,
  # :revoked, :lost, or :none when never assigned). Frozen.
  PartitionState = Struct.new(:generation, :status) do
    def initialize(generation, status)
      super
      freeze
    end

    # True if the key is owned now.
    def assigned?
      status == :assigned
    end

    # True if the key is owned now at exactly `generation`.
    def owned_at?(generation)
      status == :assigned && self.generation == generation
    end

    def inspect
      "#<Kat::PartitionState generation=#{generation} status=#{status}>"
    end

    # {"generation":2,"status":"assigned"}
    def to_json(*args)
      { "generation" => generation, "status" => status.to_s }.to_json(*args)
    end
  end

  # A group's event counters (only events that changed something count),
  # and the rebalances the librdkafka glue failed to handle for it.
  GroupStats = Struct.new(:assigned_events, :revoked_events, :lost_events, :reset_events,
                          :last_change_unix_ms, :glue_failures) do
    def initialize(*)
      super
      freeze
    end

    def to_json(*args)
      to_h.to_json(*args)
    end
  end
end

module Kat
  # A group's health (Group#health_info): the state (a Symbol, as
  # Group#health gives it) and since when it holds, in ms since the Unix
  # epoch (0 for :never_joined). Frozen.
  GroupHealth = Struct.new(:state, :since_unix_ms) do
    def initialize(*)
      super
      freeze
    end

    # When the state began, as a Time (nil for :never_joined).
    def since
      since_unix_ms.zero? ? nil : Time.at(since_unix_ms / 1000r)
    end

    def to_json(*args)
      { "state" => state.to_s, "since_unix_ms" => since_unix_ms }.to_json(*args)
    end
  end

  # One entry of a group's rebalance history (Group#history). Frozen, as are
  # its values.
  # - unix_ms: wall time of the event, ms since the Unix epoch; epoch: the
  #   tracker's epoch after it;
  # - kind: :assign, :revoke, :replace, :lost, :reset, :expired (the poll
  #   deadline passed and kat's timer marked the partitions lost), or :error
  #   (a rebalance the librdkafka glue could not apply; `error` has its text);
  # - assigned / revoked / lost: how many partitions got a new generation /
  #   were revoked / were lost (exact);
  # - rebalance_ms: for the assign that ends a rebalance, the time since the
  #   revoke or loss that started it; nil otherwise;
  # - partitions: up to 32 of those partitions as frozen [topic, partition]
  #   pairs; partitions_truncated: true when there were more;
  # - protocol: :eager or :cooperative as the glue reported it, nil for
  #   events recorded without the glue;
  # - broker_generation: the broker's generation / member epoch known when
  #   the entry was recorded (0: unknown).
  HistoryEntry = Struct.new(:unix_ms, :epoch, :kind, :assigned, :revoked, :lost, :rebalance_ms,
                            :partitions, :partitions_truncated, :protocol, :error, :broker_generation) do
    # @api private: from one parsed JSON object of Group#history_json.
    def self.from_json_object(h)
      pairs = (h["partitions"] || []).map { |topic, partition| [-topic, partition].freeze }.freeze
      new(h["unix_ms"], h["epoch"], h["kind"]&.to_sym, h["assigned"], h["revoked"], h["lost"], h["rebalance_ms"],
          pairs, h["partitions_truncated"], h["protocol"]&.to_sym, h["error"] && -h["error"],
          h["broker_generation"] || 0)
    end

    def initialize(*)
      super
      freeze
    end

    # The wall time of the event, as a Time.
    def time
      Time.at(unix_ms / 1000r)
    end

    # rebalance_ms in seconds (a Float), or nil.
    def rebalance_seconds
      rebalance_ms && rebalance_ms / 1000.0
    end

    def to_json(*args)
      to_h.transform_keys(&:to_s).transform_values { |v| v.is_a?(Symbol) ? v.to_s : v }.to_json(*args)
    end
  end
end

module Kat
  # A group's poll marks, armed poll deadline and expiries (Group#poll_stats).
  # Frozen. `deadline_ms`: the armed deadline (max.poll.interval.ms minus
  # the margin), 0 when none is armed; `polls`: marks received;
  # `since_last_poll_us`: microseconds since the last mark, nil if never
  # marked; `expirations`: times the deadline passed and kat marked the
  # group's partitions lost; `last_expiry_delay_us`: how long after the
  # deadline the last expiry was recorded.
  PollStats = Struct.new(:deadline_ms, :polls, :since_last_poll_us, :expirations, :last_expiry_delay_us) do
    def initialize(*)
      super
      freeze
    end

    def to_json(*args)
      to_h.to_json(*args)
    end
  end

  # A fencing token (Partition#token): kat's generation of the partition and
  # the broker's group generation (classic) or member epoch (KIP-848) at the
  # last rebalance the glue handled (0: unknown), read as one moment; what a
  # job carries into its own store's conditional write. `owned` is false
  # (and the numbers 0) when the partition is not assigned. Frozen.
  FencingToken = Struct.new(:generation, :broker_generation, :owned) do
    def initialize(*)
      super
      freeze
    end

    alias_method :owned?, :owned

    def to_json(*args)
      to_h.to_json(*args)
    end
  end
end
