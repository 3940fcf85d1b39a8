# frozen_string_literal: true

module Kat
  # A (group, topic) pair: the key of Tracker#assignments and
  # Tracker#generations. A frozen value object: equal names make equal keys.
  Topic = Struct.new(:group, :name) do
    def initialize(group, name)
      super(-group.to_s, -name.to_s)
      freeze
    end

    def to_s
      "#{group}/#{name}"
    end

    def inspect
      "#<Kat::Topic #{group}/#{name}>"
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
  end

  # A group's event counters (only events that changed something count).
  GroupStats = Struct.new(:assigned_events, :revoked_events, :lost_events, :reset_events,
                          :last_change_unix_ms) do
    def initialize(*)
      super
      freeze
    end
  end
end
