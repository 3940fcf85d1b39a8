# frozen_string_literal: true

# kat's Ruby drop-ins against a Karafka-faithful peer (karafka_peer.rb),
# measured in the same process on the same data: 1 000 partitions over 10
# topics of one subscription group. Prints a Markdown table and, with
# --json PATH, writes the figures for bench/report.rb.
#
#   ruby -Ibindings/ruby/bench bindings/ruby/bench/compare.rb [--quick] [--json out.json]
#
# Each figure is the median of ROUNDS rounds that alternate the subjects; a
# round's figure is the mean per call of a loop, or for the timed parts the
# median of the calls timed one by one. Not a test: the numbers depend
# on the machine and its load; compare ratios within one run.
require "json"
require "kat"
require_relative "karafka_peer"

QUICK = ARGV.include?("--quick")
JSON_OUT = (i = ARGV.index("--json")) && ARGV[i + 1]
ROUNDS = 7
TOPICS = 10
PER_TOPIC = 100

# The shapes Karafka hands to its listeners.
module Shapes
  Partition = Struct.new(:partition)

  # Karafka::Routing::Topic: compared by identity.
  class RoutingTopic
    attr_reader :name, :subscription_group

    def initialize(name, subscription_group)
      @name = name
      @subscription_group = subscription_group
    end
  end

  # Karafka::Routing::Topics#find: linear search; raises when missing.
  class Topics
    def initialize(list)
      @list = list
    end

    def find(name)
      @list.find { |t| t.name == name } || raise(KeyError, name)
    end

    def to_a
      @list
    end
  end

  # Karafka::Routing::SubscriptionGroup
  class SubscriptionGroup
    attr_reader :id, :topics

    def initialize(id, names)
      @id = id
      @topics = Topics.new(names.map { |n| RoutingTopic.new(n, self) })
    end
  end

  # rdkafka-ruby's TopicPartitionList: #to_h of name => [Partition].
  class TopicPartitionList
    def initialize(hash)
      @hash = hash.transform_values { |ps| ps.map { |p| Partition.new(p) } }
    end

    def to_h
      @hash
    end
  end
end

NAMES = Array.new(TOPICS) { |i| "topic-#{i}" }.freeze
SG = Shapes::SubscriptionGroup.new("billing", NAMES)
ROUTING = SG.topics.to_a
ALL = NAMES.to_h { |n| [n, (0...PER_TOPIC).to_a] }.freeze

def tpl(hash)
  Shapes::TopicPartitionList.new(hash)
end

def event(hash)
  { subscription_group: SG, tpl: tpl(hash) }
end

def now
  Process.clock_gettime(Process::CLOCK_MONOTONIC, :nanosecond)
end

def median(values)
  s = values.sort
  s[s.size / 2]
end

# Each measurement runs for both subjects in alternation, round after
# round, so load on the machine hits both alike; each figure is the median
# of its rounds.
def alternate(subjects)
  samples = Array.new(subjects.size) { [] }
  ROUNDS.times do
    subjects.each_with_index { |s, i| samples[i] << yield(s) }
  end
  samples.map { |r| median(r) }
end

# Mean ns per call of the block.
def per_call(iterations)
  t0 = now
  iterations.times { |i| yield i }
  (now - t0).fdiv(iterations)
end

# Median ns of the timed part only (`setup` runs untimed before each
# call): each call is timed alone, so a call that another process on the
# machine preempted, or that ran a GC, does not weigh on the figure.
def timed_part(iterations, setup)
  samples = Array.new(iterations)
  iterations.times do |i|
    setup.call(i)
    t0 = now
    yield i
    samples[i] = now - t0
  end
  median(samples)
end

# The subjects have the same methods (Karafka's tracker interface, and
# rdkafka-ruby's listener interface), so the loops call them directly.
def kat_dropin
  Kat::Karafka::AssignmentsTracker.new(tracker: Kat::Tracker.new)
end

def kat_listener
  Kat::Rdkafka::RebalanceListener.new("billing", tracker: Kat::Tracker.new)
end

def full(subject)
  subject.on_rebalance_partitions_assigned(event(ALL))
  subject
end

N = QUICK ? 20_000 : 100_000
N_CHANGE = QUICK ? 2_000 : 5_000
N_BIG = QUICK ? 100 : 300

ONE = event({ "topic-3" => [42] })
ONE_TPL = tpl({ "topic-3" => [42] })
ALL_EVENT = event(ALL)
ALL_TPL = tpl(ALL)

# A Ruby method that does nothing, for the loop's own cost.
class Noop
  def generation(_topic, _partition); end
end

# Mean ns per `generation` call, in a plain while loop (no block per call).
def generation_loop(subject, topics, parts)
  i = 0
  t0 = now
  while i < N
    subject.generation(topics[i & 1023], parts[i & 1023])
    i += 1
  end
  (now - t0).fdiv(N)
end

# Every single-thread figure, for [kat, peer] (Karafka's interface).
def single_thread(kat, peer)
  subjects = [full(kat), full(peer)]
  rng = Random.new(1)
  keys = Array.new(1024) { [ROUTING[rng.rand(TOPICS)], rng.rand(PER_TOPIC)] }
  r = {}
  topics = keys.map(&:first)
  parts = keys.map(&:last)
  r[:generation] = alternate(subjects) { |s| generation_loop(s, topics, parts) }
  # The same loop around a Ruby method that does nothing: what the loop
  # itself costs (reported, not subtracted).
  noop = Noop.new
  r[:loop] = alternate([noop, noop]) { |s| generation_loop(s, topics, parts) }
  toggle = lambda do |s|
    ->(i) { i.even? ? s.on_rebalance_partitions_revoked(ONE) : s.on_rebalance_partitions_assigned(ONE) }
  end
  r[:current_after_change] = alternate(subjects) { |s| timed_part(N_CHANGE, toggle.call(s)) { s.current } }
  r[:generations_after_change] = alternate(subjects) { |s| timed_part(N_CHANGE, toggle.call(s)) { s.generations } }
  r[:current_repeated] = alternate(subjects) { |s| s.current; per_call(N) { s.current } }
  r[:generations_repeated] = alternate(subjects) { |s| s.generations; per_call(N) { s.generations } }
  # One partition with 999 held: revoke it, then assign it back.
  r[:assign_1] = alternate(subjects) do |s|
    timed_part(N_CHANGE, ->(_) { s.on_rebalance_partitions_revoked(ONE) }) { s.on_rebalance_partitions_assigned(ONE) }
  end
  r[:revoke_1] = alternate(subjects) do |s|
    timed_part(N_CHANGE, ->(_) { s.on_rebalance_partitions_assigned(ONE) }) { s.on_rebalance_partitions_revoked(ONE) }
  end
  # All 1 000 partitions at once.
  r[:assign_1000] = alternate(subjects) do |s|
    timed_part(N_BIG, ->(_) { s.on_rebalance_partitions_revoked(ALL_EVENT) }) do
      s.on_rebalance_partitions_assigned(ALL_EVENT)
    end
  end
  r[:revoke_1000] = alternate(subjects) do |s|
    timed_part(N_BIG, ->(_) { s.on_rebalance_partitions_assigned(ALL_EVENT) }) do
      s.on_rebalance_partitions_revoked(ALL_EVENT)
    end
  end
  r
end

# The rdkafka-ruby listener path, for [kat, peer].
def listener(kat, peer)
  subjects = [kat, peer]
  subjects.each { |s| s.on_partitions_assigned(ALL_TPL) }
  r = {}
  r[:listener_assign_1] = alternate(subjects) do |s|
    timed_part(N_CHANGE, ->(_) { s.on_partitions_revoked(ONE_TPL) }) { s.on_partitions_assigned(ONE_TPL) }
  end
  r[:listener_revoke_1] = alternate(subjects) do |s|
    timed_part(N_CHANGE, ->(_) { s.on_partitions_assigned(ONE_TPL) }) { s.on_partitions_revoked(ONE_TPL) }
  end
  r[:listener_assign_1000] = alternate(subjects) do |s|
    timed_part(N_BIG, ->(_) { s.on_partitions_revoked(ALL_TPL) }) { s.on_partitions_assigned(ALL_TPL) }
  end
  r[:listener_revoke_1000] = alternate(subjects) do |s|
    timed_part(N_BIG, ->(_) { s.on_partitions_assigned(ALL_TPL) }) { s.on_partitions_revoked(ALL_TPL) }
  end
  r
end

# 4 reader threads calling generation, each call timed, while a writer
# applies 100-partition rebalances (revoke, then assign back) back to back.
# Returns read p50/p99 (ns) and the writer's rebalances per second.
def contended(make, seconds)
  s = full(make.call)
  half = event(NAMES.first(1).to_h { |n| [n, (0...PER_TOPIC).to_a] })
  stop = false
  rng = Random.new(2)
  keys = Array.new(1024) { [ROUTING[rng.rand(TOPICS)], rng.rand(PER_TOPIC)] }
  readers = Array.new(4) do |t|
    Thread.new do
      lat = []
      i = t
      until stop
        k = keys[i & 1023]
        t0 = now
        s.generation(k[0], k[1])
        lat << now - t0
        i += 1
      end
      lat
    end
  end
  writes = 0
  writer = Thread.new do
    until stop
      s.on_rebalance_partitions_revoked(half)
      s.on_rebalance_partitions_assigned(half)
      writes += 1
    end
  end
  sleep seconds
  stop = true
  writer.join
  lat = readers.flat_map(&:value).sort
  { p50: lat[lat.size / 2], p99: lat[(lat.size * 99) / 100], reads: lat.size,
    rebalances_per_s: writes.fdiv(seconds) }
end

SECONDS = QUICK ? 0.5 : 1.0
single = single_thread(kat_dropin, KarafkaPeer.new)
listen = listener(kat_listener, KarafkaPeerListener.new)
results = { kat: {}, peer: {} }
single.merge(listen).each do |key, (kat, peer)|
  results[:kat][key] = kat
  results[:peer][key] = peer
end
results[:kat_threads] = contended(method(:kat_dropin), SECONDS)
results[:peer_threads] = contended(KarafkaPeer.method(:new), SECONDS)
results[:ruby] = RUBY_DESCRIPTION

ROWS = [
  [:generation, "`generation(topic, p)`", :faster, 2.5],
  [:current_after_change, "`current` right after a change", :faster, 1.0],
  [:generations_after_change, "`generations` right after a change", :faster, 1.0],
  [:current_repeated, "`current` repeated, no change", :faster, 10.0],
  [:generations_repeated, "`generations` repeated, no change", :faster, 10.0],
  [:assign_1, "assign event, 1 partition (999 held)", :faster, 1.0],
  [:revoke_1, "revoke event, 1 partition (999 held)", :faster, 1.0],
  [:assign_1000, "assign event, 1 000 partitions", :faster, 1.0],
  [:revoke_1000, "revoke event, 1 000 partitions", :faster, 1.0],
  [:listener_assign_1, "rdkafka-ruby listener: assign 1 (999 held)", :faster, 1.0],
  [:listener_revoke_1, "rdkafka-ruby listener: revoke 1 (999 held)", :faster, 1.0],
  [:listener_assign_1000, "rdkafka-ruby listener: assign 1 000", :faster, 1.0],
  [:listener_revoke_1000, "rdkafka-ruby listener: revoke 1 000", :faster, 1.0]
].freeze

def fmt(ns)
  return format("%.0f ns", ns) if ns < 1_000
  return format("%.2f µs", ns / 1e3) if ns < 1_000_000

  format("%.2f ms", ns / 1e6)
end

lines = []
lines << "| operation (1 000 partitions over 10 topics) | Karafka-faithful peer | kat | peer ÷ kat | target |"
lines << "|---|---:|---:|---:|---|"
ROWS.each do |key, label, _, target|
  peer = results[:peer][key]
  kat = results[:kat][key]
  ratio = peer.fdiv(kat)
  verdict = ratio >= target * 0.995 ? "met" : "missed"
  lines << "| #{label} | #{fmt(peer)} | #{fmt(kat)} | #{format('%.2f', ratio)}× | ≥ #{target}× #{verdict} |"
end
kt = results[:kat_threads]
pt = results[:peer_threads]
lines << "| (the measuring loop alone, around a Ruby method that does nothing) | | " \
         "#{fmt(results[:kat][:loop])} | | |"
lines << "| 4 readers + 1 writer: `generation` p50 | #{fmt(pt[:p50])} | #{fmt(kt[:p50])} | " \
         "#{format('%.2f', pt[:p50].fdiv(kt[:p50]))}× | |"
lines << "| 4 readers + 1 writer: `generation` p99 | #{fmt(pt[:p99])} | #{fmt(kt[:p99])} | " \
         "#{format('%.2f', pt[:p99].fdiv(kt[:p99]))}× | ≥ 1× #{pt[:p99] >= kt[:p99] ? 'met' : 'missed'} |"
lines << "| 4 readers + 1 writer: reads/s (all readers) | #{format('%.0f', pt[:reads].fdiv(SECONDS))} | " \
         "#{format('%.0f', kt[:reads].fdiv(SECONDS))} | | |"
lines << "| 4 readers + 1 writer: writer's rebalances/s | #{format('%.0f', pt[:rebalances_per_s])} | " \
         "#{format('%.0f', kt[:rebalances_per_s])} | | writer never starved: " \
         "#{kt[:rebalances_per_s].positive? ? 'met' : 'missed'} |"
results[:table] = lines.join("\n")
puts results[:table]
File.write(JSON_OUT, JSON.pretty_generate(results)) if JSON_OUT
