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
    # any C/C++ code sharing the gem's libkat (see README: KAT_LIBRARY) see
    # the same state.
    #
    # Like Karafka's, it is a singleton: `.instance` feeds Kat.tracker.
    # `.new(tracker:)` makes one for another Kat::Tracker (tests, isolation);
    # one per Kat::Tracker, since two objects subscribed for the same tracker
    # would count every assignment twice.
    #
    # Reads take no lock. `generation` is one native call (the routing topic
    # is found by identity); `current` and `generations` are served from
    # kat's per-epoch caches, which reuse the frozen arrays and hashes of
    # every topic an event did not touch.
    class AssignmentsTracker
      INSTANCE_LOCK = Mutex.new
      OWNERS = ObjectSpace::WeakMap.new
      private_constant :INSTANCE_LOCK, :OWNERS

      class << self
        # The process-wide instance, backed by Kat.tracker.
        def instance
          @instance || INSTANCE_LOCK.synchronize { @instance ||= create(Kat.tracker) }
        end

        # A drop-in fed into `tracker` (a Kat::Tracker other than Kat.tracker,
        # which belongs to `.instance`). Raises Kat::InvalidArgument if one
        # already exists for that tracker.
        def new(tracker:)
          unless tracker.is_a?(Kat::Tracker)
            raise InvalidArgument, "tracker must be a Kat::Tracker, got #{tracker.class}"
          end
          if tracker.global?
            raise InvalidArgument, "Kat.tracker is fed by #{name}.instance; a second object would count " \
                                   "every assignment twice"
          end

          INSTANCE_LOCK.synchronize { create(tracker) }
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

        private

        def create(tracker)
          if OWNERS.key?(tracker)
            raise InvalidArgument, "#{tracker.inspect} already has a #{name}; a second one would count " \
                                   "every assignment twice"
          end

          allocate.tap do |t|
            t.send(:initialize, tracker)
            OWNERS[tracker] = t
          end
        end
      end

      attr_reader :tracker

      # @api private: use .instance or .new(tracker:).
      def initialize(tracker)
        @tracker = tracker
        # routing topic (by identity) => [Kat::Group, topic name]; read
        # without a lock by the native #generation.
        @routes = {}.compare_by_identity
        # subscription group (by identity) => { topic name => routing topic }:
        # events resolve names here, and call Topics#find once per name.
        @resolved = {}.compare_by_identity
        # subscription group id => { topic name => routing topic }, read by
        # the native caches that build #current and #generations.
        @by_name = {}
        # subscription group (by identity) => its Kat::Group.
        @groups_by_sg = {}.compare_by_identity
        @lock = Mutex.new
      end

      # Native (kat_ext): generation(topic, partition). How many times
      # `topic` (a routing topic) had `partition` assigned in its
      # subscription group; 0 if never, and 0 for anything Karafka answers
      # with 0 (a negative, huge or non-Integer partition, an object that is
      # not a routing topic). One native call, no lock, no allocation.

      # The current assignments of the subscription groups this object was
      # told about: a frozen Hash of routing topic => frozen sorted Array of
      # partition numbers; topics with nothing assigned are absent. Keys come
      # in (subscription group id, topic name) order.
      def current
        @tracker.__routed_assignments
      end

      # Every partition ever assigned (revoked and lost ones included) with
      # its generation: a frozen Hash of routing topic => frozen Hash of
      # partition => generation (an Integer, as in Karafka; Kat.tracker's
      # #generations also gives the status). Partitions in ascending order.
      def generations
        @tracker.__routed_numbers
      end

      # A Kat::Partition handle for fencing: `handle.owned_at?(generation)`
      # from one atomic load.
      def partition(topic, partition)
        @tracker.partition(group_id(topic.subscription_group), topic.name, partition)
      end

      # Clears every assignment and generation of the Kat::Tracker behind
      # this object (all of its groups, as Karafka's clear does for its own),
      # and forgets the routing topics it has seen.
      def clear
        @lock.synchronize do
          @tracker.clear
          @routes = {}.compare_by_identity
          @resolved = {}.compare_by_identity
          @by_name = {}
          @groups_by_sg = {}.compare_by_identity
          @tracker.__routes = nil
        end
        nil
      end

      # Never blocks: built from the lock-free #current. Unambiguous when
      # two subscription groups route the same topic name: partitions are
      # listed per subscription group id, then topic name.
      def inspect
        assignments = {}
        current.each do |topic, partitions|
          (assignments[group_id(topic.subscription_group)] ||= {})[topic.name] = partitions
        end
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
      # Every events poll is also a poll mark for the subscription group's
      # kat group (Group#mark_poll: #stall_after= and the poll deadline).
      def on_client_events_poll(event)
        group = @tracker.group(group_id(event[:subscription_group]))
        group.mark_poll
        return unless event[:caller].assignment_lost?

        group.lost
      end

      # `statistics.emitted` (set `statistics.interval.ms` in the kafka
      # settings; Karafka's default is 5 s): hands the subscription group's
      # librdkafka statistics to its kat group (Group#rdkafka_stats), so
      # librdkafka's consumer group state (cgrp) joins kat's metrics
      # (kat_rdkafka_cgrp_*). Events without a subscription group (a
      # producer's) are ignored. Not a rebalance: nothing else changes.
      def on_statistics_emitted(event)
        id = event[:subscription_group_id]
        statistics = event[:statistics]
        return if id.nil? || !statistics.is_a?(Hash)

        @tracker.group(id.to_s).rdkafka_stats(statistics)
        nil
      end

      # Native (kat_ext), one call each:
      # - on_rebalance_partitions_assigned(event): adds the listed partitions;
      #   each gets generation + 1.
      # - on_rebalance_partitions_revoked(event): drops the listed partitions.
      # Every topic name is resolved to its routing topic first (Topics#find,
      # once per name; see #register); any problem raises and records nothing.

      private

      # The slow path of the native #generation: a topic not seen in an
      # event yet (or not a routing topic at all). Never raises.
      def generation_of_unknown(topic, partition)
        return 0 unless topic.respond_to?(:subscription_group) && topic.respond_to?(:name)
        return 0 unless partition.is_a?(Integer) && partition >= 0 && partition <= 0x7fff_ffff

        @tracker.generation(group_id(topic.subscription_group), topic.name, partition)
      rescue StandardError
        0
      end

      def group_id(subscription_group)
        subscription_group.id.to_s
      end

      # The Kat::Group of a subscription group (the native events' slow path).
      def group_for(subscription_group)
        group = @tracker.group(group_id(subscription_group))
        @lock.synchronize { @groups_by_sg[subscription_group] = group }
      end

      # Finds and registers a routing topic before the event that may assign
      # it, so a reader that sees a partition in kat also finds its routing
      # topic (the native events' slow path, once per name). A name the
      # subscription group does not route raises Kat::InvalidTopic (Karafka's
      # Topics#find raises its own TopicNotFoundError; kat wraps it, keeping
      # it as #cause) and the event records nothing.
      def register(subscription_group, name)
        gid = group_id(subscription_group)
        topic = begin
          subscription_group.topics.find(name)
        rescue StandardError => e
          raise InvalidTopic, "subscription group #{gid.inspect} has no routing topic named #{name.inspect} " \
                              "(#{e.class}: #{e.message})"
        end
        raise InvalidTopic, "subscription group #{gid.inspect} has no routing topic named #{name.inspect}" unless topic

        @lock.synchronize do
          (@resolved[subscription_group] ||= {})[name] = topic
          next if @routes.key?(topic)

          @routes[topic] = [@tracker.group(gid), -name.to_s].freeze
          (@by_name[gid] ||= {})[-name.to_s] = topic
          @tracker.__routes = @by_name
        end
      end
    end
  end
end
