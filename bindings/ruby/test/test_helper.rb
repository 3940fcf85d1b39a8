# frozen_string_literal: true

require "minitest/autorun"
require "json"
require "ffi"
require "kat"

module KatTestHelpers
  # A tracker of its own per test: tests never see each other's state.
  def tracker
    @tracker ||= Kat::Tracker.new
  end

  # Builds a native rd_kafka_topic_partition_list_t with librdkafka's public
  # layout ({int cnt; int size; elems*}, 64-byte elements with the topic
  # pointer at 0 and the partition at 8). Returns [list pointer, keepalive].
  def native_list(pairs, cnt: pairs.size, size: pairs.size, null_elems: false)
    elems = FFI::MemoryPointer.new(:uint8, [pairs.size, 1].max * 64)
    strings = pairs.map { |topic, _| topic && FFI::MemoryPointer.from_string(topic) }
    pairs.each_with_index do |(_, partition), i|
      elems.put_pointer(i * 64, strings[i] || FFI::Pointer::NULL)
      elems.put_int32(i * 64 + 8, partition)
    end
    list = FFI::MemoryPointer.new(:uint8, 16)
    list.put_int32(0, cnt)
    list.put_int32(4, size)
    list.put_pointer(8, null_elems ? FFI::Pointer::NULL : elems)
    [list, [elems, strings]]
  end
end

# Stand-ins for the objects Karafka and rdkafka-ruby hand to listeners.
module Doubles
  # Karafka::Routing::Topic: a name and its subscription group.
  RoutingTopic = Struct.new(:name, :subscription_group) do
    def inspect
      "#<RoutingTopic #{name}>"
    end
  end

  # Karafka::Routing::Topics: `find(name)`.
  class Topics
    def initialize(topics)
      @topics = topics
    end

    def find(name)
      @topics.find { |t| t.name == name }
    end

    def first
      @topics.first
    end
  end

  # Karafka::Routing::SubscriptionGroup: `id` and `topics`.
  class SubscriptionGroup
    attr_reader :id, :topics

    def initialize(id, topic_names)
      @id = id
      @topics = Topics.new(topic_names.map { |n| RoutingTopic.new(n, self) })
    end

    def topic(name)
      @topics.find(name)
    end

    def inspect
      "#<SubscriptionGroup #{id}>"
    end
  end

  # Rdkafka::Consumer::Partition: `partition`.
  Partition = Struct.new(:partition, :offset)

  # Rdkafka::Consumer::TopicPartitionList: `to_h` topic => [Partition] or nil.
  class TopicPartitionList
    def initialize
      @data = {}
    end

    def add_topic(topic, partitions = nil)
      @data[topic] = partitions&.map { |p| Partition.new(p, nil) }
      self
    end

    def to_h
      @data
    end
  end

  # Karafka::Connection::Client: `assignment_lost?`.
  Client = Struct.new(:lost) do
    def assignment_lost?
      lost
    end
  end

  def self.tpl(hash)
    hash.each_with_object(TopicPartitionList.new) { |(t, ps), l| l.add_topic(t, ps) }
  end
end
