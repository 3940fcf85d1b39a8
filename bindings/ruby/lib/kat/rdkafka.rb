# frozen_string_literal: true

module Kat
  # Integration with rdkafka-ruby.
  module Rdkafka
    # A `consumer_rebalance_listener` for rdkafka-ruby:
    #
    #   config = Rdkafka::Config.new(...)
    #   config.consumer_rebalance_listener = Kat::Rdkafka::RebalanceListener.new("billing")
    #
    # rdkafka-ruby calls librdkafka's assign / incremental assign first, then
    # the listener with the list it applied, so what kat records is what
    # librdkafka holds. Each call hands the TopicPartitionList to libkat in
    # one native call.
    #
    # Protocols: with COOPERATIVE rebalancing the lists are deltas, and with
    # EAGER librdkafka revokes the whole assignment before it assigns the new
    # one; so recording `assigned` / `revoked` is exact for both (the
    # default). `eager: true` records assignments with `replace` instead,
    # which also repairs the state if a revocation was never seen; use it
    # only with an eager assignor. It also marks the group's rebalance
    # history entries `protocol: :eager`.
    #
    # Lost assignments: rdkafka-ruby unassigns before calling the listener,
    # which clears librdkafka's "lost" flag, so a lost revocation arrives
    # here as an ordinary one. Call #check_lost(consumer) from the poll loop
    # (what Karafka does on every events poll) to record losses.
    class RebalanceListener
      attr_reader :group

      # `group`: a Kat::Group, or a group name (String or Symbol) looked up
      # on `tracker`.
      def initialize(group, tracker: Kat.tracker, eager: false)
        @group = group.is_a?(Group) ? group : tracker.group(group)
        @eager = eager ? true : false
        # Only an eager listener knows its protocol; its history says so.
        @group.note_rebalance_protocol(:eager) if @eager
      end

      def eager?
        @eager
      end

      # rdkafka-ruby: partitions assigned (an Rdkafka::Consumer::TopicPartitionList).
      def on_partitions_assigned(list)
        @eager ? @group.replace(list) : @group.assigned(list)
        nil
      end

      # rdkafka-ruby: partitions revoked.
      def on_partitions_revoked(list)
        @group.revoked(list)
        nil
      end

      # Records a loss if `consumer.assignment_lost?`; returns whether it did.
      # Also a poll mark (Group#mark_poll), as kat_check_lost is in C: call
      # it from the poll loop.
      def check_lost(consumer)
        @group.mark_poll
        return false unless consumer.assignment_lost?

        @group.lost
        true
      end

      def inspect
        "#<#{self.class.name} group=#{@group.name}#{@eager ? ' eager' : ''}>"
      end
    end

    # { topic => [partition numbers] } from anything whose `to_h` maps topic
    # names to nil or to partitions (Integers or objects with #partition),
    # like Rdkafka::Consumer::TopicPartitionList.
    def self.assignment(list)
      unless list.respond_to?(:to_h)
        raise InvalidList, "expected a TopicPartitionList (responding to #to_h), got #{list.class}"
      end

      list.to_h.each_with_object({}) do |(topic, partitions), h|
        h[topic] = (partitions || []).map { |p| p.is_a?(Integer) ? p : p.partition }
      end
    end
  end
end
