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
