# frozen_string_literal: true

require_relative "test_helper"

# SPEC §4 through Ruby: snapshots, caching per epoch, handles, change
# detection, JSON, inspect.
class TestReads < Minitest::Test
  include KatTestHelpers

  def test_assignments_are_deeply_frozen_value_objects
    tracker.assigned("g", { "orders" => [1, 0] })
    assignments = tracker.assignments
    assert assignments.frozen?
    key, partitions = assignments.first
    assert key.frozen?
    assert key.name.frozen?
    assert partitions.frozen?
    assert_equal Kat::Topic.new("g", "orders"), key
    assert_equal Kat::Topic.new("g", "orders").hash, key.hash
    assert_raises(FrozenError) { key.name = "x" }
  end

  def test_assignments_cached_per_epoch
    tracker.assigned("g", { "orders" => [0] })
    first = tracker.assignments
    assert_same first, tracker.assignments
    assert_same first, tracker.assignments
    tracker.revoked("g", { "unknown" => [0] }) # changes nothing: no new epoch
    assert_same first, tracker.assignments
    tracker.assigned("g", { "orders" => [1] })
    second = tracker.assignments
    refute_same first, second
    assert_equal [0], first[Kat::Topic.new("g", "orders")], "a returned view never changes"
    assert_equal [0, 1], second[Kat::Topic.new("g", "orders")]
    assert_same second, tracker.assignments
  end

  def test_generations_include_revoked_and_lost_with_status_and_are_cached
    tracker.assigned("g", { "a" => [0, 1] })
    tracker.revoked("g", { "a" => [1] })
    tracker.assigned("h", { "b" => [0] })
    tracker.lost("h")
    gens = tracker.generations
    assert gens.frozen?
    assert_equal({ 0 => Kat::PartitionState.new(1, :assigned), 1 => Kat::PartitionState.new(1, :revoked) },
                 gens[Kat::Topic.new("g", "a")])
    assert_equal :lost, gens[Kat::Topic.new("h", "b")][0].status
    assert gens.values.all?(&:frozen?)
    assert_same gens, tracker.generations
    tracker.assigned("g", { "a" => [1] })
    refute_same gens, tracker.generations
    assert_equal 2, tracker.generations[Kat::Topic.new("g", "a")][1].generation
  end

  def test_generation_and_assigned_of_unknown_keys
    assert_equal 0, tracker.generation("nobody", "t", 0)
    refute tracker.assigned?("nobody", "t", 0)
    assert_equal 0, tracker.group("g").generation("t", 5)
    refute tracker.group("g").assigned?("t", 5)
  end

  def test_group_reads_match_tracker_reads
    group = tracker.group("g")
    group.assigned({ "t" => [4] })
    group.assigned({ "t" => [4] })
    assert_equal 2, group.generation("t", 4)
    assert group.assigned?("t", 4)
    assert_equal tracker.generation("g", "t", 4), group.generation("t", 4)
  end

  def test_partition_handle_follows_the_key
    handle = tracker.partition("g", "t", 0)
    assert_equal Kat::PartitionState.new(0, :none), handle.state
    refute handle.owned_at?(0)
    tracker.assigned("g", { "t" => [0] })
    assert_equal Kat::PartitionState.new(1, :assigned), handle.state
    assert handle.owned_at?(1)
    assert handle.assigned?
    tracker.revoked("g", { "t" => [0] })
    assert_equal :revoked, handle.state.status
    refute handle.owned_at?(1)
    tracker.assigned("g", { "t" => [0] })
    refute handle.owned_at?(1), "reassigned: the old generation is fenced off"
    assert handle.owned_at?(2)
    tracker.lost("g")
    assert_equal :lost, handle.state.status
    tracker.clear
    assert_equal 0, handle.generation, "handles stay valid after clear"
    refute handle.owned_at?(-1)
    refute handle.owned_at?(2**70)
    refute handle.owned_at?("2")
  end

  def test_partition_handle_close_is_idempotent
    handle = tracker.partition("g", "t", 0)
    handle.close
    handle.close
    assert handle.closed?
    assert_raises(Kat::Error) { handle.state }
  end

  def test_wait_for_change_wakes_on_an_event
    start = tracker.epoch
    waiter = Thread.new { tracker.wait_for_change(start, 30) }
    sleep 0.05 # most likely blocked by now; the result is the same either way
    tracker.assigned("g", { "t" => [0] })
    assert_equal start + 1, waiter.value
  end

  def test_wait_for_change_returns_the_same_epoch_on_timeout
    tracker.assigned("g", { "t" => [0] })
    assert_equal 1, tracker.wait_for_change(1, 0.01)
    assert_equal 1, tracker.wait_for_change(0, 0), "already changed: returns at once"
    assert_raises(Kat::InvalidArgument) { tracker.wait_for_change(-1, 1) }
    assert_raises(Kat::InvalidArgument) { tracker.wait_for_change(0, -1) }
  end

  def test_to_json_has_epoch_and_generations
    tracker.assigned("g", { "t" => [1, 0] })
    tracker.assigned("g", { "t" => [1] })
    json = JSON.parse(tracker.to_json)
    assert_equal({ "epoch" => 2, "groups" => { "g" => { "t" => { "0" => 1, "1" => 2 } } } }, json)
    tracker.revoked("g", { "t" => [0] })
    gens = JSON.parse(tracker.generations_json)
    assert_equal({ "generation" => 1, "status" => "revoked" }, gens.dig("groups", "g", "t", "0"))
  end

  def test_inspect_is_informative_and_takes_no_lock
    tracker.assigned("g", { "t" => [0, 1] })
    lock = tracker.instance_variable_get(:@group_lock)
    lock.lock
    begin
      text = Thread.new { tracker.inspect }.value
    ensure
      lock.unlock
    end
    assert_equal "#<Kat::Tracker epoch=1 groups=1 partitions=2>", text
  end

  def test_new_tracker_validates_limit
    assert_raises(Kat::InvalidArgument) { Kat::Tracker.new(generations_topics_limit: 0) }
    assert_raises(Kat::InvalidArgument) { Kat::Tracker.new(generations_topics_limit: "5") }
    assert_raises(Kat::InvalidArgument) { Kat::Tracker.new(generations_topics_limit: 2**80) }
    assert_raises(Kat::InvalidArgument) { tracker.generations_topics_limit = -1 }
    assert_equal Kat::Tracker::DEFAULT_GENERATIONS_TOPICS_LIMIT, tracker.generations_topics_limit
  end

  def test_bindings_are_private_and_no_raw_pointer_is_exposed
    assert_raises(NameError) { Kat::Bindings }
    tracker.assigned("g", { "t" => [0] })
    objects = [tracker, tracker.group("g"), tracker.partition("g", "t", 0)]
    objects.each do |object|
      refute_respond_to object, :to_ptr
      refute_respond_to object, :pointer
      zero_arity = object.public_methods(false).select { |m| object.method(m).arity.zero? }
      zero_arity.each do |m|
        next if %i[close lease_release].include?(m) # lease_release needs a lease held

        refute_kind_of FFI::Pointer, object.public_send(m), "#{object.class}##{m}"
      end
    end
  end

  def test_global_tracker_is_shared_and_named
    assert_match(/global/, Kat.tracker.inspect)
    group = "kat-ruby-test-#{Process.pid}"
    Kat.tracker.assigned(group, { "t" => [0] })
    assert Kat.tracker.assigned?(group, "t", 0)
    Kat.tracker.revoked(group, { "t" => [0] })
    refute Kat.tracker.assigned?(group, "t", 0)
  end
end

# Reads by name are one native call that allocates no Ruby object.
class TestNoAllocation < Minitest::Test
  include KatTestHelpers

  def allocations
    before = GC.stat(:total_allocated_objects)
    yield
    GC.stat(:total_allocated_objects) - before
  end

  def test_reads_by_name_allocate_nothing
    tracker.assigned("billing", { "orders" => [0, 1] })
    group = tracker.group("billing")
    handle = tracker.partition("billing", "orders", 0)
    sg = Doubles::SubscriptionGroup.new("sg", %w[orders])
    dropin = Kat::Karafka::AssignmentsTracker.new(tracker: tracker)
    dropin.on_rebalance_partitions_assigned({ subscription_group: sg, tpl: Doubles.tpl({ "orders" => [3] }) })
    topic = sg.topic("orders")
    group_name = "billing"
    topic_name = "orders"
    reads = lambda do
      tracker.generation(group_name, topic_name, 1)
      tracker.assigned?(group_name, topic_name, 1)
      tracker.generation(:billing, :orders, 1)
      group.generation(topic_name, 0)
      group.assigned?(topic_name, 0)
      handle.owned_at?(1)
      tracker.epoch
      tracker.assignments
      dropin.generation(topic, 3)
      dropin.generation(topic, -1)
      dropin.current
    end
    reads.call # warms the per-epoch caches
    many = allocations { 1_000.times { reads.call } }
    # 11 000 reads; GC.stat's own bookkeeping may count an object or two.
    assert_operator many, :<=, 2, "11 000 reads allocated #{many} objects"
  end
end
