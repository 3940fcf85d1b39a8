# frozen_string_literal: true

# A tracker that follows the algorithm of Karafka 2.6's
# Karafka::Instrumentation::AssignmentsTracker as its documentation and
# behaviour describe it, written for these benchmarks: one Mutex around
# everything; a Hash of routing topic => Array of partitions (sorted after
# each change, copied and frozen on every read of `current`); a Hash of
# routing topic => Hash of partition => generation (each inner Hash copied
# and frozen on every read of `generations`); a topic moved to the end of the
# generations Hash when assigned, and the oldest topics dropped past a cap.
class KarafkaPeer
  TOPICS_LIMIT = 100_000

  def initialize
    @mutex = Mutex.new
    @assignments = Hash.new { |h, topic| h[topic] = [] }
    @generations = Hash.new { |h, topic| h[topic] = {} }
  end

  def current
    copy = {}
    @mutex.synchronize { @assignments.each { |topic, parts| copy[topic] = parts.dup.freeze } }
    copy.freeze
  end

  def generations
    copy = {}
    @mutex.synchronize { @generations.each { |topic, parts| copy[topic] = parts.dup.freeze } }
    copy.freeze
  end

  def generation(topic, partition)
    @mutex.synchronize { @generations.dig(topic, partition) || 0 }
  end

  def on_rebalance_partitions_assigned(event)
    group = event[:subscription_group]
    @mutex.synchronize do
      event[:tpl].to_h.each do |name, partitions|
        topic = group.topics.find(name)
        numbers = partitions.map(&:partition)
        gens = @generations[topic]
        numbers.each { |p| gens[p] = (gens[p] || 0) + 1 }
        @generations[topic] = @generations.delete(topic)
        @assignments[topic] = (@assignments[topic] + numbers).sort
      end
      (@generations.size - TOPICS_LIMIT).times { @generations.delete(@generations.first[0]) }
    end
  end

  def on_rebalance_partitions_revoked(event)
    group = event[:subscription_group]
    @mutex.synchronize do
      event[:tpl].to_h.each do |name, partitions|
        topic = group.topics.find(name)
        @assignments[topic] = (@assignments[topic] - partitions.map(&:partition)).sort
        @assignments.delete_if { |_, parts| parts.empty? }
      end
    end
  end
end

# The same algorithm keyed by topic name, as an rdkafka-ruby
# consumer_rebalance_listener (the peer of Kat::Rdkafka::RebalanceListener).
class KarafkaPeerListener
  # Looks names up as themselves (an rdkafka-ruby listener has no routing).
  class Names
    def find(name)
      name
    end
  end

  Group = Struct.new(:topics)

  attr_reader :tracker

  def initialize
    @tracker = KarafkaPeer.new
    @group = Group.new(Names.new)
  end

  def on_partitions_assigned(list)
    @tracker.on_rebalance_partitions_assigned({ subscription_group: @group, tpl: list })
  end

  def on_partitions_revoked(list)
    @tracker.on_rebalance_partitions_revoked({ subscription_group: @group, tpl: list })
  end
end
