# frozen_string_literal: true

require_relative "test_helper"

# SPEC §3, one row at a time, through the Ruby API.
class TestEvents < Minitest::Test
  include KatTestHelpers

  def key(topic, group = "g")
    Kat::Topic.new(group, topic)
  end

  def status(group, topic, partition)
    tracker.generations.dig(key(topic, group), partition)&.status
  end

  def test_assigned_adds_partitions_sorted_without_duplicates
    tracker.assigned("g", { "orders" => [2, 0, 2, 1] })
    assert_equal({ key("orders") => [0, 1, 2] }, tracker.assignments)
    assert_equal 1, tracker.generation("g", "orders", 2), "a key listed twice counts once"
  end

  def test_assigned_again_bumps_generation_even_if_already_assigned
    tracker.assigned("g", { "orders" => [0] })
    tracker.assigned("g", { "orders" => [0, 1] })
    assert_equal 2, tracker.generation("g", "orders", 0)
    assert_equal 1, tracker.generation("g", "orders", 1)
    assert_equal [0, 1], tracker.assignments[key("orders")]
  end

  def test_assigned_over_several_topics_in_one_event
    tracker.assigned("g", { "a" => [1], "b" => 0..2 })
    assert_equal({ key("a") => [1], key("b") => [0, 1, 2] }, tracker.assignments)
    assert_equal 1, tracker.epoch, "one event, one epoch step"
  end

  def test_revoked_removes_listed_ignores_unknown_keeps_generation
    tracker.assigned("g", { "orders" => [0, 1, 2] })
    tracker.revoked("g", { "orders" => [1, 7], "elsewhere" => [3] })
    assert_equal [0, 2], tracker.assignments[key("orders")]
    assert_equal 1, tracker.generation("g", "orders", 1)
    assert_equal :revoked, status("g", "orders", 1)
    assert_nil status("g", "orders", 7), "unknown partitions are ignored"
    refute tracker.assigned?("g", "orders", 1)
  end

  def test_revoking_last_partition_drops_topic_but_keeps_generations
    tracker.assigned("g", { "orders" => [0], "other" => [0] })
    tracker.revoked("g", { "orders" => [0] })
    refute tracker.assignments.key?(key("orders"))
    assert_equal [0], tracker.assignments[key("other")]
    assert_equal 1, tracker.generation("g", "orders", 0)
  end

  def test_replace_makes_assignment_exactly_the_list
    tracker.assigned("g", { "orders" => [0, 1] })
    tracker.replace("g", { "orders" => [1, 2] })
    assert_equal({ key("orders") => [1, 2] }, tracker.assignments)
    assert_equal 1, tracker.generation("g", "orders", 0)
    assert_equal :revoked, status("g", "orders", 0)
    assert_equal 2, tracker.generation("g", "orders", 1), "listed keys get +1 even if kept"
    assert_equal 1, tracker.generation("g", "orders", 2)
  end

  def test_replace_with_empty_list_revokes_everything
    tracker.assigned("g", { "orders" => [0, 1] })
    tracker.replace("g", {})
    assert_empty tracker.assignments
    assert_equal :revoked, status("g", "orders", 1)
  end

  def test_lost_removes_all_of_the_group_with_status_lost
    tracker.assigned("g", { "orders" => [0, 1] })
    tracker.assigned("h", { "orders" => [0] })
    tracker.lost("g")
    assert_equal({ key("orders", "h") => [0] }, tracker.assignments)
    assert_equal :lost, status("g", "orders", 0)
    assert_equal 1, tracker.generation("g", "orders", 0)
    assert_equal 1, tracker.group("g").stats.lost_events
  end

  def test_reset_removes_all_with_status_lost_and_counts_a_reset
    tracker.assigned("g", { "orders" => [0] })
    tracker.reset("g")
    assert_empty tracker.assignments
    assert_equal :lost, status("g", "orders", 0)
    assert_equal 1, tracker.generation("g", "orders", 0)
    stats = tracker.group("g").stats
    assert_equal 1, stats.reset_events
    assert_equal 0, stats.lost_events
  end

  def test_reset_group_keeps_generations_when_reassigned
    tracker.assigned("g", { "orders" => [0] })
    tracker.reset("g")
    tracker.assigned("g", { "orders" => [0] })
    assert_equal 2, tracker.generation("g", "orders", 0)
  end

  def test_clear_removes_everything
    tracker.assigned("g", { "orders" => [0] })
    tracker.revoked("g", { "orders" => [0] })
    tracker.assigned("h", { "x" => [1] })
    tracker.clear
    assert_empty tracker.assignments
    assert_empty tracker.generations
    assert_equal 0, tracker.generation("g", "orders", 0)
  end

  def test_invalid_element_changes_nothing
    tracker.assigned("g", { "orders" => [0] })
    before = [tracker.epoch, tracker.assignments, tracker.generations]
    error = assert_raises(Kat::InvalidTopic) do
      tracker.assigned("g", { "orders" => [1], "bad/topic" => [0] })
    end
    assert_match(%r{topic name "bad/topic" has an illegal byte 0x2f}, error.message)
    refute_match(/element|kat_/, error.message, "errors name the caller's topic, not a C function or index")
    assert_raises(Kat::InvalidPartition) { tracker.assigned("g", { "orders" => [1, -5] }) }
    assert_raises(Kat::InvalidPartition) { tracker.revoked("g", { "orders" => [0, "1"] }) }
    assert_raises(Kat::InvalidTopic) { tracker.replace("g", { "orders" => [], "" => [1] }) }
    assert_equal before, [tracker.epoch, tracker.assignments, tracker.generations]
  end

  def test_empty_lists_change_nothing
    tracker.assigned("g", { "orders" => [0] })
    epoch = tracker.epoch
    tracker.assigned("g", {})
    tracker.assigned("g", { "orders" => [] })
    tracker.revoked("g", {})
    tracker.revoked("g", { "orders" => [5] })
    tracker.lost("empty")
    assert_equal epoch, tracker.epoch
    assert_equal 1, tracker.generation("g", "orders", 0)
  end

  def test_epoch_advances_by_one_per_changing_event
    assert_equal 0, tracker.epoch
    tracker.assigned("g", { "t" => [0] })
    assert_equal 1, tracker.epoch
    tracker.revoked("g", { "t" => [0] })
    assert_equal 2, tracker.epoch
    tracker.replace("g", { "t" => [1] })
    assert_equal 3, tracker.epoch
    tracker.lost("g")
    assert_equal 4, tracker.epoch
    tracker.assigned("g", { "t" => [1] })
    tracker.reset("g")
    assert_equal 6, tracker.epoch
    tracker.clear
    assert_equal 7, tracker.epoch
  end

  def test_group_counters_and_last_change_time
    group = tracker.group("g")
    assert_equal 0, group.stats.last_change_unix_ms
    group.assigned({ "t" => [0, 1] })
    group.revoked({ "t" => [0] })
    group.replace({ "t" => [2] })
    stats = group.stats
    assert_equal 2, stats.assigned_events
    assert_equal 2, stats.revoked_events
    assert_operator stats.last_change_unix_ms, :>, 0
    assert stats.frozen?
  end

  def test_same_topic_in_two_groups_is_two_entries
    tracker.assigned("a", { "t" => [0] })
    tracker.assigned("a", { "t" => [0] })
    tracker.assigned("b", { "t" => [0] })
    assert_equal 2, tracker.generation("a", "t", 0)
    assert_equal 1, tracker.generation("b", "t", 0)
    tracker.lost("a")
    assert tracker.assigned?("b", "t", 0)
  end

  def test_group_is_get_or_create_and_cached
    assert_same tracker.group("g"), tracker.group("g")
    assert_equal "g", tracker.group("g").name
    tracker.group("g").assigned({ "t" => [3] })
    assert tracker.assigned?("g", "t", 3)
    assert_same Kat.tracker, Kat.tracker
    assert Kat.tracker.global?
  end

  def test_generations_bound_evicts_least_recently_assigned
    small = Kat::Tracker.new(generations_topics_limit: 2)
    assert_equal 2, small.generations_topics_limit
    %w[a b c].each do |t|
      small.assigned("g", { t => [0] })
      small.revoked("g", { t => [0] })
    end
    assert_equal 0, small.generation("g", "a", 0), "oldest unassigned topic evicted"
    assert_equal 1, small.generation("g", "c", 0)
    small.assigned("g", { "a" => [0] })
    assert_equal 1, small.generation("g", "a", 0), "starts again at 1 after eviction"
    small.generations_topics_limit = 10
    assert_equal 10, small.generations_topics_limit
  end

  def test_assigned_topics_are_never_evicted
    small = Kat::Tracker.new(generations_topics_limit: 1)
    small.assigned("g", { "a" => [0], "b" => [0] })
    assert_equal 1, small.generation("g", "a", 0)
    assert_equal 1, small.generation("g", "b", 0)
  end
end
