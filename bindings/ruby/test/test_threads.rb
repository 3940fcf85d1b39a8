# frozen_string_literal: true

require_relative "test_helper"

# Readers on several threads while one thread applies events: what they see
# is always consistent.
class TestThreads < Minitest::Test
  include KatTestHelpers

  ROUNDS = 2_000
  TOPICS = %w[a b].freeze

  def test_readers_see_monotonic_generations_and_consistent_ownership
    handles = TOPICS.product([0, 1]).map { |t, p| [t, p, tracker.partition("g", t, p)] }
    done = false
    writer = Thread.new do
      ROUNDS.times do |i|
        tracker.assigned("g", { "a" => [0, 1], "b" => [i % 2] })
        tracker.revoked("g", { "a" => [i % 2], "b" => [0, 1] })
        tracker.lost("g") if (i % 50).zero?
        Thread.pass
      end
    ensure
      done = true
    end
    readers = Array.new(3) do
      Thread.new do
        last = Hash.new(0)
        last_epoch = 0
        violations = []
        checks = 0
        until done
          epoch = tracker.epoch
          violations << "epoch went back #{last_epoch} -> #{epoch}" if epoch < last_epoch
          last_epoch = epoch
          handles.each do |t, p, handle|
            state = handle.state
            gen = tracker.generation("g", t, p)
            [state.generation, gen].each do |g|
              violations << "#{t}/#{p} generation went back #{last[[t, p]]} -> #{g}" if g < last[[t, p]]
              last[[t, p]] = g
            end
            violations << "#{t}/#{p} assigned at generation 0" if state.assigned? && state.generation < 1
            violations << "#{t}/#{p} assigned? at generation 0" if tracker.assigned?("g", t, p) && \
                                                                    tracker.generation("g", t, p) < 1
          end
          tracker.assignments.each do |key, partitions|
            violations << "unsorted #{partitions}" unless partitions == partitions.sort
            partitions.each do |p|
              g = tracker.generations.dig(key, p)
              violations << "#{key}/#{p} listed without generation" unless g && g.generation >= 1
            end
          end
          checks += 1
          Thread.pass
        end
        [violations.first(5), checks, last]
      end
    end
    writer.join
    results = readers.map(&:value)
    results.each do |violations, checks, _last|
      assert_empty violations
      assert_operator checks, :>, 0
    end
    final = tracker.generations
    handles.each do |t, p, _|
      results.each { |_, _, last| assert_operator last[[t, p]], :<=, final.dig(Kat::Topic.new("g", t), p).generation }
    end
  end

  def test_karafka_tracker_inspect_and_reads_during_changes
    sg = Doubles::SubscriptionGroup.new("sg", %w[orders])
    subject = Kat::Karafka::AssignmentsTracker.new(tracker: tracker)
    event = { subscription_group: sg, tpl: Doubles.tpl({ "orders" => [0, 1, 2] }) }
    done = false
    writer = Thread.new do
      500.times do
        subject.on_rebalance_partitions_assigned(event)
        subject.on_rebalance_partitions_revoked(event)
        Thread.pass
      end
    ensure
      done = true
    end
    reader = Thread.new do
      seen = []
      until done
        text = subject.inspect
        current = subject.current[sg.topic("orders")]
        seen << text unless text.start_with?("#<Kat::Karafka::AssignmentsTracker assignments=")
        seen << current unless current.nil? || current == [0, 1, 2]
        subject.generations
        Thread.pass
      end
      seen
    end
    writer.join
    assert_empty reader.value
    assert_equal 500, subject.generation(sg.topic("orders"), 2)
  end
end

# Cache rebuilds let other Ruby threads run (they allocate); readers that
# need a rebuild meanwhile build without the cache. Every answer must still
# be a consistent, frozen view of one epoch.
class TestConcurrentRebuilds < Minitest::Test
  include KatTestHelpers

  STATES = [{ "a" => [0, 1], "b" => [2] }, { "a" => [1, 3], "b" => [2], "c" => [0] }].freeze

  def test_concurrent_rebuilds_give_whole_frozen_views
    tracker.replace("g", STATES[0])
    sg = Doubles::SubscriptionGroup.new("k", %w[a b c])
    dropin = Kat::Karafka::AssignmentsTracker.new(tracker: tracker)
    expected = STATES.map { |st| st.to_h { |t, ps| [Kat::Topic.new("g", t), ps] } }
    stop = false
    writer = Thread.new do
      i = 0
      until stop
        tracker.replace("g", STATES[i % 2])
        dropin.on_rebalance_partitions_assigned({ subscription_group: sg, tpl: Doubles.tpl({ "a" => [i % 3] }) })
        i += 1
        GC.compact if (i % 500).zero? && GC.respond_to?(:compact)
      end
    end
    readers = Array.new(4) do
      Thread.new do
        bad = []
        2_000.times do
          a = tracker.assignments
          mine = a.select { |k, _| k.group == "g" }
          bad << a unless a.frozen? && expected.include?(mine) && a.values.all?(&:frozen?)
          g = tracker.generations
          bad << g unless g.frozen? && g.values.all? { |h| h.frozen? && h.keys == h.keys.sort }
          c = dropin.current
          bad << c unless c.frozen? && c.values.all? { |ps| ps.frozen? && ps == ps.sort }
          n = dropin.generations
          bad << n unless n.frozen? && n.values.all? { |h| h.values.all? { |v| v.is_a?(Integer) && v >= 1 } }
        end
        bad
      end
    end
    bad = readers.flat_map(&:value)
    stop = true
    writer.join
    assert_empty bad.first(3)
  end
end
