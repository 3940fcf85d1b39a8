# frozen_string_literal: true

require_relative "test_helper"

# Ownership that ends on time through Ruby (repository README): poll marks,
# the stalled health state, the poll deadline kat's timer enforces, and
# fencing tokens.
class TestOwnership < Minitest::Test
  include KatTestHelpers

  # Polls `cond` for up to `seconds` (the timer runs on its own thread).
  def eventually(seconds = 5)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds
    until yield
      return false if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

      sleep 0.005
    end
    true
  end

  def test_poll_marks_make_stalled_reachable_and_clear_it
    group = tracker.group("g")
    group.assigned({ "t" => [0] })
    group.stall_after = 0.02
    assert_equal :assigned, group.health, "never marked: never stalled"
    epoch = tracker.epoch
    assert_same group, group.mark_poll
    assert eventually { group.health == :stalled }, "no poll for longer than stall_after"
    group.mark_poll
    assert_equal :assigned, group.health
    assert_equal epoch, tracker.epoch, "a poll mark is not an event"
    assert_equal 2, group.poll_stats.polls
    assert_match(/^kat_last_poll_seconds_ago\{[^}]*kat_group="g"\} /, tracker.metrics)
  end

  def test_poll_deadline_expires_the_partitions_of_a_group_that_stopped_polling
    group = tracker.group("g")
    group.assigned({ "t" => [0, 1] })
    handle = group.partition("t", 0)
    assert_equal Kat::PollStats.new(0, 0, nil, 0, 0), group.poll_stats
    assert_same group, group.set_poll_deadline(0.2, margin: 0.05)
    group.mark_poll
    assert_equal 150, group.poll_stats.deadline_ms
    assert handle.assigned?
    assert eventually { !handle.assigned? }, "kat's timer marks the partitions lost"
    assert_equal :lost, handle.state.status
    assert_empty tracker.assignments
    stats = group.poll_stats
    assert_equal 1, stats.expirations
    assert_operator stats.since_last_poll_us, :>=, 150_000
    expiry = group.history.last
    assert_equal :expired, expiry.kind, "the history tells an expiry from a loss"
    assert_equal [2, 0], [expiry.lost, expiry.broker_generation]
    assert stats.frozen?
    group.set_poll_deadline(nil)
    assert_equal 0, group.poll_stats.deadline_ms
  end

  def test_bad_deadlines_raise_and_change_nothing
    group = tracker.group("g")
    group.set_poll_deadline(30)
    before = group.poll_stats.deadline_ms
    e = assert_raises(Kat::InvalidArgument) { group.set_poll_deadline(1, margin: 1) }
    assert_match(/margin/, e.message)
    refute_match(/kat_/, e.message)
    [-1, Float::NAN, "1", Float::INFINITY].each do |bad|
      assert_raises(Kat::InvalidArgument, bad.inspect) { group.set_poll_deadline(bad) }
      assert_raises(Kat::InvalidArgument, bad.inspect) { group.set_poll_deadline(10, margin: bad) }
    end
    assert_equal before, group.poll_stats.deadline_ms
    group.set_poll_deadline(0)
  end

  def test_glue_poll_calls_mark_polls
    listener = Kat::Rdkafka::RebalanceListener.new("r", tracker: tracker)
    consumer = Struct.new(:assignment_lost?).new(false)
    2.times { listener.check_lost(consumer) }
    assert_equal 2, tracker.group("r").poll_stats.polls
    sg = Doubles::SubscriptionGroup.new("sg-1", %w[orders])
    karafka = Kat::Karafka::AssignmentsTracker.new(tracker: tracker)
    karafka.on_client_events_poll({ caller: Doubles::Client.new(false), subscription_group: sg })
    assert_equal 1, tracker.group("sg-1").poll_stats.polls
    assert_equal 0, tracker.epoch, "a poll that reports no loss changes nothing"
  end

  def test_leases_are_refused_off_generation_and_invalid_after_a_loss
    group = tracker.group("g")
    handle = group.partition("t", 0)
    refute handle.lease_acquire(1), "not assigned: no lease"
    assert_raises(Kat::InvalidArgument) { handle.lease_release }
    group.assigned({ "t" => [0] })
    refute handle.lease_acquire(2), "another generation: no lease"
    refute handle.lease_acquire(-1)
    refute handle.lease_acquire(2**70)
    assert handle.lease_acquire(1)
    assert handle.lease_valid?(1)
    refute handle.lease_valid?(2)
    group.lost
    refute handle.lease_valid?(1), "a loss invalidates leases at once"
    assert_same handle, handle.lease_release
    assert_raises(Kat::InvalidArgument) { handle.lease_release }
    group.assigned({ "t" => [0] })
    assert_equal :done, handle.with_lease { |gen| gen == 2 ? :done : :wrong }
    assert_raises(Kat::InvalidArgument) { handle.lease_release } # with_lease released it
    assert_raises(RuntimeError) { handle.with_lease(2) { raise "boom" } }
    assert_raises(Kat::InvalidArgument) { handle.lease_release } # released despite the raise
    assert_equal false, handle.with_lease(1) { flunk "ran without a lease" }
  end

  def test_fencing_token_follows_ownership
    group = tracker.group("g")
    handle = group.partition("t", 3)
    assert_equal Kat::FencingToken.new(0, 0, false), handle.token
    group.assigned({ "t" => [3] })
    group.revoked({ "t" => [3] })
    group.assigned({ "t" => [3] })
    token = handle.token
    assert token.owned?
    assert_equal 2, token.generation
    assert_equal 0, token.broker_generation, "no broker generation without the librdkafka glue"
    assert token.frozen?
    group.lost
    refute handle.token.owned?
    handle.close
    assert_raises(Kat::InvalidArgument) { handle.token }
  end
end
