# frozen_string_literal: true

# Per-call cost of the hot reads, kat against a plain Ruby Mutex + Hash
# tracker doing the same work, with 1 000 tracked partitions.
#
#   ruby -Ibindings/ruby/lib bindings/ruby/bench/reads.rb [iterations]
#
# Not a test: numbers depend on the machine. Single-threaded, so the Mutex is
# never contended here; under contention its readers wait, kat's do not.

require "kat"

ITERATIONS = Integer(ARGV[0] || 200_000)
GROUP = "billing"
TOPICS = Array.new(10) { |i| "topic-#{i}" }.freeze
PARTITIONS = 100

# What applications write by hand: a Mutex around a Hash.
class MutexTracker
  def initialize
    @mutex = Mutex.new
    @assignments = Hash.new { |h, k| h[k] = [] }
    @generations = Hash.new { |h, k| h[k] = {} }
  end

  def assigned(group, assignment)
    @mutex.synchronize do
      assignment.each do |topic, partitions|
        key = [group, topic]
        partitions.each { |p| @generations[key][p] = (@generations[key][p] || 0) + 1 }
        @assignments[key] = (@assignments[key] | partitions).sort
      end
    end
  end

  def generation(group, topic, partition)
    @mutex.synchronize { @generations.dig([group, topic], partition) || 0 }
  end

  def assigned?(group, topic, partition)
    @mutex.synchronize { @assignments.fetch([group, topic], nil)&.include?(partition) || false }
  end

  def assignments
    @mutex.synchronize { @assignments.transform_values { |v| v.dup.freeze }.freeze }
  end
end

def measure(label, iterations)
  yield # warm up
  start = Process.clock_gettime(Process::CLOCK_MONOTONIC, :nanosecond)
  iterations.times { yield }
  ns = (Process.clock_gettime(Process::CLOCK_MONOTONIC, :nanosecond) - start).fdiv(iterations)
  printf("%-44s %10.1f ns/call\n", label, ns)
end

assignment = TOPICS.to_h { |t| [t, (0...PARTITIONS).to_a] }
kat = Kat::Tracker.new
kat.assigned(GROUP, assignment)
plain = MutexTracker.new
plain.assigned(GROUP, assignment)
handle = kat.partition(GROUP, "topic-3", 42)
group = kat.group(GROUP)

puts "#{TOPICS.size * PARTITIONS} partitions tracked, #{ITERATIONS} iterations, ruby #{RUBY_VERSION}, " \
     "libkat #{Kat.native_version}"
measure("kat     Tracker#generation", ITERATIONS) { kat.generation(GROUP, "topic-3", 42) }
measure("kat     Group#generation", ITERATIONS) { group.generation("topic-3", 42) }
measure("mutex   generation", ITERATIONS) { plain.generation(GROUP, "topic-3", 42) }
measure("kat     Tracker#assigned?", ITERATIONS) { kat.assigned?(GROUP, "topic-3", 42) }
measure("mutex   assigned?", ITERATIONS) { plain.assigned?(GROUP, "topic-3", 42) }
measure("kat     Partition#owned_at?", ITERATIONS) { handle.owned_at?(1) }
measure("kat     Partition#state", ITERATIONS) { handle.state }
measure("kat     Tracker#epoch", ITERATIONS) { kat.epoch }
measure("kat     Tracker#assignments (cached epoch)", ITERATIONS) { kat.assignments }
measure("mutex   assignments (copy per call)", ITERATIONS / 100) { plain.assignments }
measure("kat     Tracker#assignments (after change)", ITERATIONS / 100) do
  kat.revoked(GROUP, { "topic-9" => [99] })
  kat.assigned(GROUP, { "topic-9" => [99] })
  kat.assignments
end
measure("kat     revoked + assigned (no read)", ITERATIONS / 100) do
  kat.revoked(GROUP, { "topic-9" => [99] })
  kat.assigned(GROUP, { "topic-9" => [99] })
end
