# frozen_string_literal: true

module Kat
  # Integration with Karafka.
  module Karafka
    # A stand-in for Karafka::Instrumentation::AssignmentsTracker backed by a
    # Kat::Tracker. Subscribe it to Karafka.monitor; it answers the same
    # notifications and returns the same shapes, keyed by the routing topic
    # objects the events carried:
    #
    #   tracker = Kat::Karafka::AssignmentsTracker.instance
    #   Karafka.monitor.subscribe(tracker)
    #   tracker.current           # => { routing_topic => [0, 1, 2] }
    #   tracker.generation(routing_topic, 0) # => 1
    #
    # The kat group of a routing topic is its subscription group's id, so
    # kat's own reads (Kat.tracker.assignments, partition handles, JSON) and
    # any C/C++ code in the process see the same state.
    #
    # Reads take no lock: they are served from kat's per-epoch snapshots and
    # cached per epoch, so `current` without a rebalance in between returns
    # the same frozen Hash.
    class AssignmentsTracker
      INSTANCE_LOCK = Mutex.new
      private_constant :INSTANCE_LOCK

      class << self
        # The process-wide instance, backed by Kat.tracker.
        def instance
          @instance || INSTANCE_LOCK.synchronize { @instance ||= new }
        end

        # @see #current
        def current
          instance.current
        end

        # @see #generations
        def generations
          instance.generations
        end

        # @see #generation
        def generation(topic, partition)
          instance.generation(topic, partition)
        end
      end

      attr_reader :tracker

      # `tracker`: the Kat::Tracker to feed and read (Kat.tracker by default).
      def initialize(tracker: Kat.tracker)
        @tracker = tracker
        # Kat::Topic(subscription group id, topic name) => routing topic.
        # A frozen Hash replaced on insert: readers never lock.
        @topics = {}.freeze
        @topics_lock = Mutex.new
        @current = nil
        @generations = nil
      end

      # The current assignments of the subscription groups this object was
      # told about: a frozen Hash of routing topic => frozen sorted Array of
      # partition numbers; topics with nothing assigned are absent.
      def current
        assignments = @tracker.assignments
        topics = @topics
        cached = @current
        return cached[2] if cached && cached[0].equal?(assignments) && cached[1].equal?(topics)

        result = {}
        assignments.each do |key, partitions|
          topic = topics[key]
          result[topic] = partitions if topic
        end
        result.freeze
        @current = [assignments, topics, result].freeze
        result
      end

      # Every partition ever assigned (revoked and lost ones included) with
      # its generation: a frozen Hash of routing topic => frozen Hash of
      # partition => generation (an Integer, as in Karafka; Kat.tracker's
      # #generations also gives the status).
      def generations
        generations = @tracker.generations
        topics = @topics
        cached = @generations
        return cached[2] if cached && cached[0].equal?(generations) && cached[1].equal?(topics)

        result = {}
        generations.each do |key, states|
          topic = topics[key]
          next unless topic

          result[topic] = states.transform_values(&:generation).freeze
        end
        result.freeze
        @generations = [generations, topics, result].freeze
        result
      end

      # How many times `topic` (a routing topic) had `partition` assigned in
      # its subscription group; 0 if never. Wait-free, no lock.
      def generation(topic, partition)
        @tracker.generation(group_id(topic.subscription_group), topic.name, partition)
      end

      # A Kat::Partition handle for fencing: `handle.owned_at?(generation)`
      # from one atomic load.
      def partition(topic, partition)
        @tracker.partition(group_id(topic.subscription_group), topic.name, partition)
      end

      # Clears every assignment and generation of the Kat::Tracker behind
      # this object (all of its groups, as Karafka's clear does for its own).
      def clear
        @tracker.clear
        nil
      end

      # Never blocks: built from the lock-free #current.
      def inspect
        assignments = current.each_with_object({}) { |(topic, partitions), h| h[topic.name] = partitions }
        "#<#{self.class.name} assignments=#{assignments.inspect}>"
      rescue StandardError => e
        "#<#{self.class.name} #{e.class}>"
      end

      # `client.reset`: the subscription group's client is re-created; all
      # of its partitions are dropped (kat status: lost), generations kept.
      def on_client_reset(event)
        @tracker.reset(group_id(event[:subscription_group]))
      end

      # `client.events_poll`: if the client reports its assignment lost,
      # drop all of the subscription group's partitions (kat status: lost).
      def on_client_events_poll(event)
        return unless event[:caller].assignment_lost?

        @tracker.lost(group_id(event[:subscription_group]))
      end

      # `rebalance.partitions_revoked`: drops the listed partitions.
      def on_rebalance_partitions_revoked(event)
        sg = event[:subscription_group]
        @tracker.revoked(group_id(sg), resolve(sg, event[:tpl]))
      end

      # `rebalance.partitions_assigned`: adds the listed partitions; each
      # gets generation + 1.
      def on_rebalance_partitions_assigned(event)
        sg = event[:subscription_group]
        @tracker.assigned(group_id(sg), resolve(sg, event[:tpl]))
      end

      private

      def group_id(subscription_group)
        subscription_group.id.to_s
      end

      # { topic name => [partition numbers] } from the event's
      # TopicPartitionList, registering the routing topic of each name.
      def resolve(subscription_group, tpl)
        gid = group_id(subscription_group)
        assignment = {}
        additions = {}
        tpl.to_h.each do |name, partitions|
          topic = subscription_group.topics.find(name)
          unless topic
            raise InvalidTopic, "subscription group #{gid.inspect} has no routing topic named #{name.inspect}"
          end

          key = Topic.new(gid, name)
          additions[key] = topic unless @topics[key].equal?(topic)
          assignment[name] = (partitions || []).map { |p| p.is_a?(Integer) ? p : p.partition }
        end
        register(additions) unless additions.empty?
        assignment
      end

      # Registers routing topics before the event that may assign them, so a
      # reader that sees a partition in kat also finds its routing topic.
      def register(additions)
        @topics_lock.synchronize do
          @topics = @topics.merge(additions).freeze
        end
      end
    end
  end
end
