# frozen_string_literal: true

require_relative "test_helper"

# Where kat's drop-in could differ from Karafka's own AssignmentsTracker:
# each difference is either fixed (and pinned here) or deliberate (pinned
# here too, and listed in the README with its reason).
class TestParity < Minitest::Test
  include KatTestHelpers

  # Karafka::Routing::Topics#find as Karafka has it: raises, never nil.
  class RaisingTopics < Doubles::Topics
    TopicNotFoundError = Class.new(StandardError)

    def find(name)
      super || raise(TopicNotFoundError, name)
    end
  end

  # A subscription group whose topics behave like Karafka's.
  class KarafkaLikeGroup < Doubles::SubscriptionGroup
    def initialize(id, names)
      super
      @topics = RaisingTopics.new(names.map { |n| Doubles::RoutingTopic.new(n, self) })
    end
  end

  def setup
    @sg1 = KarafkaLikeGroup.new("sg-1", %w[orders payments])
    @sg2 = KarafkaLikeGroup.new("sg-2", %w[orders])
    @orders1 = @sg1.topic("orders")
    @orders2 = @sg2.topic("orders")
    @subject = Kat::Karafka::AssignmentsTracker.new(tracker: tracker)
  end

  def assign(sg, hash)
    @subject.on_rebalance_partitions_assigned({ subscription_group: sg, tpl: Doubles.tpl(hash) })
  end

  def test_reads_karafka_answers_with_zero_answer_zero
    assign(@sg1, { "orders" => [0] })
    assert_equal 1, @subject.generation(@orders1, 0)
    [-1, 2**31, 2**64, "0", nil, 0.0, :a].each do |p|
      assert_equal 0, @subject.generation(@orders1, p), "generation(topic, #{p.inspect})"
    end
    assert_equal 0, @subject.generation("orders", 0), "a String is not a routing topic"
    assert_equal 0, @subject.generation(nil, 0)
    assert_equal 0, @subject.generation(Object.new, 0)
    assert_equal 0, Kat::Karafka::AssignmentsTracker.generation("orders", -1)
  end

  def test_generation_of_a_routing_topic_not_seen_in_an_event_reads_kat
    tracker.assigned("sg-2", { "orders" => [3] })
    assert_equal 1, @subject.generation(@orders2, 3)
    assert_equal 0, @subject.generation(@orders2, 4)
  end

  def test_unknown_topic_with_karafkas_raising_find_is_kat_invalid_topic_and_changes_nothing
    assign(@sg1, { "orders" => [0] })
    epoch = tracker.epoch
    e = assert_raises(Kat::InvalidTopic) { assign(@sg1, { "orders" => [1], "missing" => [0] }) }
    assert_match(/"sg-1" has no routing topic named "missing" \(.*TopicNotFoundError: missing\)/, e.message)
    assert_kind_of RaisingTopics::TopicNotFoundError, e.cause
    assert_equal 4, e.code
    assert_equal epoch, tracker.epoch
    assert_equal({ @orders1 => [0] }, @subject.current)
  end

  def test_inspect_is_unambiguous_when_two_subscription_groups_route_one_name
    assign(@sg1, { "orders" => [0, 1] })
    assign(@sg2, { "orders" => [7] })
    assert_equal '#<Kat::Karafka::AssignmentsTracker assignments={"sg-1"=>{"orders"=>[0, 1]}, ' \
                 '"sg-2"=>{"orders"=>[7]}}>', @subject.inspect
  end

  def test_one_drop_in_per_tracker_so_nothing_counts_twice
    assert_same Kat::Karafka::AssignmentsTracker.instance, Kat::Karafka::AssignmentsTracker.instance
    assert_raises(ArgumentError) { Kat::Karafka::AssignmentsTracker.new }
    e = assert_raises(Kat::InvalidArgument) { Kat::Karafka::AssignmentsTracker.new(tracker: Kat.tracker) }
    assert_match(/\.instance/, e.message)
    assert_raises(Kat::InvalidArgument) { Kat::Karafka::AssignmentsTracker.new(tracker: tracker) }
    assert_raises(Kat::InvalidArgument) { Kat::Karafka::AssignmentsTracker.new(tracker: "x") }
    assign(@sg1, { "orders" => [0] })
    assert_equal 1, @subject.generation(@orders1, 0)
  end

  def test_symbols_are_names_everywhere_and_empty_names_are_refused
    tracker.assigned(:billing, { orders: [0] })
    assert_equal 1, tracker.generation("billing", "orders", 0)
    assert_equal [0], tracker.assignments[Kat::Topic.new(:billing, :orders)]
    assert_equal Kat::Topic.new("billing", "orders"), Kat::Topic.new(:billing, :orders)
    listener = Kat::Rdkafka::RebalanceListener.new(:billing, tracker: tracker)
    listener.on_partitions_assigned(Doubles.tpl({ "orders" => [1] }))
    assert_equal 1, tracker.generation(:billing, :orders, 1)
    assert_raises(Kat::InvalidGroup) { Kat::Topic.new(nil, nil) }
    assert_raises(Kat::InvalidGroup) { Kat::Topic.new("", "orders") }
    assert_raises(Kat::InvalidTopic) { Kat::Topic.new("billing", nil) }
    assert_raises(Kat::InvalidGroup) { tracker.group(nil) }
  end

  def test_values_serialise_as_data
    tracker.assigned("billing", { "orders" => [0, 1] })
    tracker.revoked("billing", { "orders" => [1] })
    data = JSON.parse(tracker.generations.to_json)
    assert_equal({ "billing/orders" => { "0" => { "generation" => 1, "status" => "assigned" },
                                         "1" => { "generation" => 1, "status" => "revoked" } } }, data)
    assert_equal({ "group" => "billing" }, JSON.parse(tracker.group("billing").to_json))
    assert_equal({ "group" => "billing", "name" => "orders" }, JSON.parse(Kat::Topic.new("billing", "orders").to_json))
    stats = JSON.parse(tracker.group("billing").stats.to_json)
    assert_equal 1, stats["assigned_events"]
    assert_equal 0, stats["glue_failures"]
    handle = tracker.partition("billing", "orders", 0)
    assert_equal({ "group" => "billing", "topic" => "orders", "partition" => 0 }, JSON.parse(handle.to_json))
  end

  def test_groups_are_added_in_place_not_by_copying_the_cache
    groups = tracker.instance_variable_get(:@groups)
    200.times { |i| tracker.group("g#{i}") }
    assert_same groups, tracker.instance_variable_get(:@groups)
    assert_equal 200, groups.size
    assert_same tracker.group("g7"), tracker.group(:g7)
  end

  def test_clear_empties_the_routing_registry
    assign(@sg1, { "orders" => [0], "payments" => [1] })
    assert_equal 2, @subject.instance_variable_get(:@routes).size
    @subject.clear
    assert_empty @subject.instance_variable_get(:@routes)
    assert_empty @subject.instance_variable_get(:@by_name)
    assert_equal({}, @subject.current)
    assign(@sg2, { "orders" => [2] })
    assert_equal({ @orders2 => [2] }, @subject.current)
  end

  def test_event_errors_name_the_topic_and_partition
    e = assert_raises(Kat::InvalidPartition) { tracker.assigned("g", { "ok" => [0], "orders" => [3, -1] }) }
    assert_equal 'topic "orders": partition -1 is out of range 0..2147483647', e.message
    assert_equal 5, e.code
    e = assert_raises(Kat::InvalidTopic) { tracker.assigned("g", { "ok" => [0], "or ders" => [1] }) }
    assert_match(/"or ders"/, e.message)
    refute_match(/kat_|element/, e.message)
    e = assert_raises(Kat::InvalidList) { tracker.assigned("g", { "ok" => 5 }) }
    assert_equal 6, e.code
  end

  def test_an_embedded_nul_is_refused_never_cut_short
    tracker.assigned("g", { "orders" => [0] })
    assert_raises(Kat::InvalidTopic) { tracker.generation("g", "orders\0x", 0) }
    assert_raises(Kat::InvalidTopic) { tracker.assigned?("g", "orders\0", 0) }
    assert_raises(Kat::InvalidTopic) { tracker.group("g").generation("orders\0", 0) }
    assert_raises(Kat::InvalidTopic) { tracker.partition("g", "orders\0", 0) }
    assert_raises(Kat::InvalidTopic) { tracker.assigned("g", { "orders\0x" => [1] }) }
    assert_raises(Kat::InvalidGroup) { tracker.generation("g\0h", "orders", 0) }
    assert_raises(Kat::InvalidGroup) { tracker.group("g\0") }
    assert_equal [0], tracker.assignments[Kat::Topic.new("g", "orders")]
  end

  # Deliberate difference (README): keys come sorted by (group, topic) and
  # partitions ascending, whatever the order of the events; Karafka keeps
  # insertion order and, in generations, first-assigned order.
  def test_order_is_sorted_not_insertion_order
    assign(@sg1, { "payments" => [5, 1] })
    assign(@sg1, { "orders" => [9, 3] })
    assign(@sg1, { "orders" => [0] })
    assert_equal [@orders1, @sg1.topic("payments")], @subject.current.keys
    assert_equal [0, 3, 9], @subject.generations[@orders1].keys
    assert_equal [0, 3, 9], @subject.current[@orders1]
  end

  def test_rebuild_after_an_event_reuses_what_the_event_did_not_touch
    assign(@sg1, { "orders" => [0, 1], "payments" => [0] })
    before_current = @subject.current
    before_generations = @subject.generations
    before_kat = tracker.generations
    assign(@sg1, { "orders" => [2] })
    after_current = @subject.current
    refute_same before_current, after_current
    assert_same before_current[@sg1.topic("payments")], after_current[@sg1.topic("payments")]
    refute_same before_current[@orders1], after_current[@orders1]
    assert_equal [0, 1, 2], after_current[@orders1]
    assert_same before_generations[@sg1.topic("payments")], @subject.generations[@sg1.topic("payments")]
    payments = Kat::Topic.new("sg-1", "payments")
    assert_same before_kat[payments], tracker.generations[payments]
  end
end
