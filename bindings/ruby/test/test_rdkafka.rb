# frozen_string_literal: true

require_relative "test_helper"

# The rdkafka-ruby rebalance listener and the native-list entry points.
class TestRdkafka < Minitest::Test
  include KatTestHelpers

  def key(topic)
    Kat::Topic.new("g", topic)
  end

  def test_listener_records_cooperative_deltas
    listener = Kat::Rdkafka::RebalanceListener.new("g", tracker: tracker)
    listener.on_partitions_assigned(Doubles.tpl({ "a" => [0, 1], "b" => [2] }))
    listener.on_partitions_assigned(Doubles.tpl({ "a" => [2] }))
    assert_equal({ key("a") => [0, 1, 2], key("b") => [2] }, tracker.assignments)
    listener.on_partitions_revoked(Doubles.tpl({ "a" => [1] }))
    assert_equal [0, 2], tracker.assignments[key("a")]
    assert_equal :revoked, tracker.generations[key("a")][1].status
  end

  def test_listener_eager_sequence_revoke_all_then_assign
    listener = Kat::Rdkafka::RebalanceListener.new(tracker.group("g"))
    listener.on_partitions_assigned(Doubles.tpl({ "a" => [0, 1] }))
    listener.on_partitions_revoked(Doubles.tpl({ "a" => [0, 1] }))
    listener.on_partitions_assigned(Doubles.tpl({ "a" => [1, 2] }))
    assert_equal({ key("a") => [1, 2] }, tracker.assignments)
    assert_equal 2, tracker.generation("g", "a", 1)
  end

  def test_eager_listener_replaces_even_without_a_revocation
    listener = Kat::Rdkafka::RebalanceListener.new("g", tracker: tracker, eager: true)
    assert listener.eager?
    listener.on_partitions_assigned(Doubles.tpl({ "a" => [0, 1] }))
    listener.on_partitions_assigned(Doubles.tpl({ "a" => [2] }))
    assert_equal({ key("a") => [2] }, tracker.assignments)
    assert_equal :revoked, tracker.generations[key("a")][0].status
  end

  def test_listener_ignores_topics_without_partitions
    listener = Kat::Rdkafka::RebalanceListener.new("g", tracker: tracker)
    listener.on_partitions_assigned(Doubles.tpl({ "a" => nil, "b" => [0] }))
    assert_equal({ key("b") => [0] }, tracker.assignments)
  end

  def test_check_lost_records_a_loss_only_when_reported
    listener = Kat::Rdkafka::RebalanceListener.new("g", tracker: tracker)
    listener.on_partitions_assigned(Doubles.tpl({ "a" => [0] }))
    refute listener.check_lost(Doubles::Client.new(false))
    assert tracker.assigned?("g", "a", 0)
    assert listener.check_lost(Doubles::Client.new(true))
    refute tracker.assigned?("g", "a", 0)
    assert_equal :lost, tracker.generations[key("a")][0].status
  end

  def test_listener_rejects_non_lists
    listener = Kat::Rdkafka::RebalanceListener.new("g", tracker: tracker)
    assert_raises(Kat::InvalidList) { listener.on_partitions_assigned(42) }
    assert_raises(Kat::InvalidTopic) { listener.on_partitions_assigned(Doubles.tpl({ "no good" => [0] })) }
    assert_empty tracker.assignments
  end

  def test_native_lists_in_rdkafka_layout
    group = tracker.group("g")
    list, _keep = native_list([["a", 1], ["b", 0], ["a", 0]])
    group.assigned_native(list)
    assert_equal({ key("a") => [0, 1], key("b") => [0] }, tracker.assignments)
    list, _keep = native_list([["a", 1]])
    group.revoked_native(list)
    assert_equal [0], tracker.assignments[key("a")]
    list, _keep = native_list([["c", 5]])
    group.replace_native(list)
    assert_equal({ key("c") => [5] }, tracker.assignments)
    list, _keep = native_list([])
    epoch = tracker.epoch
    group.assigned_native(list)
    assert_equal epoch, tracker.epoch, "an empty list changes nothing"
  end

  # A list made by librdkafka itself, when the system library is present
  # (Debian's librdkafka1, installed with librdkafka-dev).
  module Rdk
    extend FFI::Library
    begin
      ffi_lib %w[rdkafka librdkafka.so.1]
      attach_function :rd_kafka_topic_partition_list_new, [:int], :pointer
      attach_function :rd_kafka_topic_partition_list_add, %i[pointer string int32], :pointer
      attach_function :rd_kafka_topic_partition_list_destroy, [:pointer], :void
      AVAILABLE = true
    rescue LoadError
      AVAILABLE = false
    end
  end

  def test_native_list_made_by_librdkafka
    skip "librdkafka.so.1 not installed" unless Rdk::AVAILABLE
    list = Rdk.rd_kafka_topic_partition_list_new(1) # capacity grows past 1
    begin
      [["orders", 3], ["orders", 1], ["audit", 0]].each { |t, p| Rdk.rd_kafka_topic_partition_list_add(list, t, p) }
      tracker.group("g").assigned_native(list)
    ensure
      Rdk.rd_kafka_topic_partition_list_destroy(list)
    end
    assert_equal({ key("audit") => [0], key("orders") => [1, 3] }, tracker.assignments)
  end
end
