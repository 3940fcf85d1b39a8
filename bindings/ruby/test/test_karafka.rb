# frozen_string_literal: true

require_relative "test_helper"

# Kat::Karafka::AssignmentsTracker fed with the event payloads Karafka's
# monitor delivers, compared with what Karafka's own tracker returns for
# the same sequence.
class TestKarafka < Minitest::Test
  include KatTestHelpers

  def setup
    @sg1 = Doubles::SubscriptionGroup.new("sg-1", %w[orders payments])
    @sg2 = Doubles::SubscriptionGroup.new("sg-2", %w[orders])
    @orders1 = @sg1.topic("orders")
    @payments1 = @sg1.topic("payments")
    @orders2 = @sg2.topic("orders")
    @subject = Kat::Karafka::AssignmentsTracker.new(tracker: tracker)
  end

  def event(sg, hash)
    { subscription_group: sg, tpl: Doubles.tpl(hash) }
  end

  def assign(sg, hash)
    @subject.on_rebalance_partitions_assigned(event(sg, hash))
  end

  def revoke(sg, hash)
    @subject.on_rebalance_partitions_revoked(event(sg, hash))
  end

  def poll(sg, lost)
    @subject.on_client_events_poll({ caller: Doubles::Client.new(lost), subscription_group: sg })
  end

  def test_statistics_emitted_feeds_the_subscription_groups_cgrp_into_the_metrics
    statistics = { "name" => "karafka#consumer-1", "type" => "consumer", "txmsgs" => 0, "txmsgs_d" => 0,
                   "cgrp" => { "state" => "up", "join_state" => "steady", "rebalance_age" => 900,
                               "rebalance_cnt" => 2, "rebalance_cnt_d" => 1, "rebalance_reason" => "",
                               "assignment_size" => 3 } }
    @subject.on_statistics_emitted({ subscription_group_id: "sg-1", consumer_group_id: "cg", statistics: statistics })
    cgrp = tracker.group("sg-1").rdkafka_cgrp
    assert_equal ["up", "steady", 2, 3], cgrp.values_at("state", "join_state", "rebalance_cnt", "assignment_size")
    assert_match(/^kat_rdkafka_cgrp_rebalance_total\{[^}]*kat_group="sg-1"\} 2$/, tracker.metrics)
    # A producer's statistics (WaterDrop) carry no subscription group: ignored.
    @subject.on_statistics_emitted({ producer_id: "p-1", statistics: statistics.merge("name" => "waterdrop") })
    assert_equal 1, tracker.metrics.scan(/^kat_rdkafka_cgrp_info\{/).size, "only sg-1 has librdkafka statistics"
    assert_equal 0, tracker.epoch, "statistics are not a rebalance"
  end

  def test_answers_every_notification_karafka_sends
    %i[on_rebalance_partitions_assigned on_rebalance_partitions_revoked on_client_reset
       on_client_events_poll on_statistics_emitted current generation generations clear inspect].each do |m|
      assert_respond_to @subject, m
    end
  end

  def test_empty_at_start
    assert_equal({}, @subject.current)
    assert_equal({}, @subject.generations)
    assert_equal 0, @subject.generation(@orders1, 0)
  end

  def test_current_is_frozen_and_keyed_by_routing_topics
    assign(@sg1, { "orders" => [2, 0, 1] })
    current = @subject.current
    assert current.frozen?
    assert_same @orders1, current.keys.first
    assert_equal [0, 1, 2], current[@orders1]
    assert current[@orders1].frozen?
  end

  def test_current_is_cached_until_something_changes
    assign(@sg1, { "orders" => [0] })
    first = @subject.current
    assert_same first, @subject.current
    assign(@sg1, { "payments" => [0] })
    refute_same first, @subject.current
    assert_equal [0], @subject.current[@payments1]
  end

  def test_partial_revocation_keeps_the_rest_sorted
    assign(@sg1, { "orders" => [0, 1, 2] })
    revoke(@sg1, { "orders" => [0, 1] })
    assert_equal({ @orders1 => [2] }, @subject.current)
  end

  def test_full_revocation_drops_the_topic
    assign(@sg1, { "orders" => [0, 1, 2] })
    revoke(@sg1, { "orders" => [0, 1, 2] })
    assert_equal({}, @subject.current)
  end

  def test_client_reset_drops_only_that_subscription_group
    assign(@sg1, { "orders" => [0, 1, 2] })
    assign(@sg2, { "orders" => [0, 1, 2] })
    @subject.on_client_reset({ subscription_group: @sg2 })
    assert @subject.current.key?(@orders1)
    refute @subject.current.key?(@orders2)
    assert_equal 1, @subject.generation(@orders2, 0), "a reset keeps generations"
    assert_equal :lost, tracker.generations[Kat::Topic.new("sg-2", "orders")][0].status
  end

  def test_events_poll_without_loss_changes_nothing
    assign(@sg1, { "orders" => [0, 1, 2] })
    epoch = tracker.epoch
    10.times { poll(@sg1, false) }
    assert_equal [0, 1, 2], @subject.current[@orders1]
    assert_equal epoch, tracker.epoch
  end

  def test_events_poll_with_loss_drops_only_that_group_and_keeps_generations
    assign(@sg1, { "orders" => [0, 1, 2] })
    assign(@sg2, { "orders" => [0, 1, 2] })
    poll(@sg1, true)
    refute @subject.current.key?(@orders1)
    assert_equal [0, 1, 2], @subject.current[@orders2]
    assert_equal 1, @subject.generation(@orders1, 0)
    assert_equal 1, tracker.group("sg-1").stats.lost_events
  end

  def test_generation_counts_assignments
    assign(@sg1, { "orders" => [0, 1, 2] })
    assert_equal [1, 1, 1], (0..2).map { |p| @subject.generation(@orders1, p) }
    revoke(@sg1, { "orders" => [0, 1, 2] })
    assert_equal 1, @subject.generation(@orders1, 0), "revocation keeps the generation"
    assign(@sg1, { "orders" => [0, 1, 2] })
    assert_equal 2, @subject.generation(@orders1, 1)
  end

  def test_generation_after_cycles
    5.times do
      assign(@sg1, { "orders" => [0] })
      revoke(@sg1, { "orders" => [0] })
    end
    assert_equal 5, @subject.generation(@orders1, 0)
  end

  def test_subscription_groups_have_independent_generations
    assign(@sg1, { "orders" => [0, 1, 2] })
    assign(@sg2, { "orders" => [0, 1] })
    revoke(@sg1, { "orders" => [0, 1, 2] })
    assign(@sg1, { "orders" => [0, 1, 2] })
    assert_equal 2, @subject.generation(@orders1, 0)
    assert_equal 1, @subject.generation(@orders2, 0)
  end

  def test_generations_shape_includes_revoked_and_is_deeply_frozen
    assign(@sg1, { "orders" => [0, 1, 2] })
    revoke(@sg1, { "orders" => [0, 1, 2] })
    gens = @subject.generations
    assert_equal({ @orders1 => { 0 => 1, 1 => 1, 2 => 1 } }, gens)
    assert gens.frozen?
    assert gens[@orders1].frozen?
    assert_same gens, @subject.generations
  end

  def test_clear_forgets_assignments_and_generations
    assign(@sg1, { "orders" => [0, 1, 2] })
    @subject.clear
    assert_equal({}, @subject.current)
    assert_equal({}, @subject.generations)
    assert_equal 0, @subject.generation(@orders1, 0)
  end

  def test_inspect_shows_topic_names_and_partitions
    assert_equal "#<Kat::Karafka::AssignmentsTracker assignments={}>", @subject.inspect
    assign(@sg1, { "orders" => [0, 1, 2] })
    assert_equal '#<Kat::Karafka::AssignmentsTracker assignments={"sg-1"=>{"orders"=>[0, 1, 2]}}>', @subject.inspect
  end

  def test_inspect_never_waits_for_a_writer
    assign(@sg1, { "orders" => [0] })
    @subject.instance_variable_get(:@lock).synchronize do
      assert_match(/"orders"=>\[0\]/, Thread.new { @subject.inspect }.value)
    end
  end

  def test_groups_fed_by_others_are_not_reported
    tracker.assigned("someone-else", { "orders" => [9] })
    assign(@sg1, { "orders" => [0] })
    assert_equal({ @orders1 => [0] }, @subject.current)
  end

  def test_unknown_topic_raises_and_changes_nothing
    assign(@sg1, { "orders" => [0] })
    epoch = tracker.epoch
    e = assert_raises(Kat::InvalidTopic) { assign(@sg1, { "orders" => [1], "missing" => [0] }) }
    assert_match(/"sg-1" has no routing topic named "missing"/, e.message)
    assert_equal epoch, tracker.epoch
  end

  def test_kat_reads_see_karafka_events
    assign(@sg1, { "orders" => [3] })
    assert tracker.assigned?("sg-1", "orders", 3)
    handle = @subject.partition(@orders1, 3)
    assert handle.owned_at?(1)
    revoke(@sg1, { "orders" => [3] })
    refute handle.owned_at?(1)
  end

  def test_class_level_delegation_uses_the_global_tracker
    instance = Kat::Karafka::AssignmentsTracker.instance
    assert_same instance, Kat::Karafka::AssignmentsTracker.instance
    assert_same Kat.tracker, instance.tracker
    sg = Doubles::SubscriptionGroup.new("kat-ruby-karafka-#{Process.pid}", %w[events])
    topic = sg.topic("events")
    instance.on_rebalance_partitions_assigned(event(sg, { "events" => [1, 0] }))
    assert_equal [0, 1], Kat::Karafka::AssignmentsTracker.current[topic]
    assert_equal 1, Kat::Karafka::AssignmentsTracker.generation(topic, 1)
    assert_equal({ 0 => 1, 1 => 1 }, Kat::Karafka::AssignmentsTracker.generations[topic])
    instance.on_client_reset({ subscription_group: sg })
    refute Kat::Karafka::AssignmentsTracker.current.key?(topic)
  end
end
