# frozen_string_literal: true

module Kat
  # The registry of assignments and generations: which partitions this
  # process owns now, per group, and how many times each was assigned.
  #
  # `Kat.tracker` is the process-wide one (kat_tracker_global() of the libkat
  # the gem was built with: linked in, it is the gem's own; built with
  # KAT_LIBRARY pointing at a libkat.so, it is shared with every user of that
  # library in the process); `Tracker.new` makes
  # an independent one (tests, isolation).
  #
  # Native methods (kat_ext), each one call into libkat with no Ruby
  # allocation for reads by name: `epoch`, `generation(group, topic, p)`,
  # `assigned?(group, topic, p)`, `clear`, `to_json`, `generations_json`,
  # `generations_topics_limit`, `history_limit`, and the per-epoch cached
  # `assignments` / `generations` (see their notes below).
  #
  # Thread-safety: every method may be called from any thread. Reads are
  # wait-free in libkat and never take a lock; events serialise among
  # themselves inside libkat and never block readers.
  class Tracker
    # Default bound on retained (group, topic) generation entries.
    DEFAULT_GENERATIONS_TOPICS_LIMIT = 100_000
    MAX_U64 = (1 << 64) - 1
    MAX_SIZE = (1 << (0.size * 8)) - 1
    private_constant :MAX_U64, :MAX_SIZE

    GLOBAL_LOCK = Mutex.new
    private_constant :GLOBAL_LOCK

    # The process-wide tracker (the same object on every call).
    def self.global
      @global || GLOBAL_LOCK.synchronize do
        @global ||= __global.tap { |t| t.send(:setup) }
      end
    end

    # A new, empty tracker that keeps at most `generations_topics_limit`
    # (group, topic) generation entries (least recently assigned evicted
    # first, only among topics with nothing assigned). Freed when garbage
    # collected.
    def initialize(generations_topics_limit: DEFAULT_GENERATIONS_TOPICS_LIMIT)
      __init(Tracker.size_arg(generations_topics_limit, "generations_topics_limit"))
      setup
    end

    # The Kat::Group called `name` (a String or Symbol), created on first use.
    # Cached: the same name returns the same object.
    def group(name)
      @groups[name] || add_group(name)
    end

    # --- events ----------------------------------------------------------

    # See Group#assigned. `assignment`: { "topic" => [partitions] }.
    def assigned(group, assignment)
      self.group(group).assigned(assignment)
      self
    end

    # See Group#revoked.
    def revoked(group, assignment)
      self.group(group).revoked(assignment)
      self
    end

    # See Group#replace.
    def replace(group, assignment)
      self.group(group).replace(assignment)
      self
    end

    # See Group#lost.
    def lost(group)
      self.group(group).lost
      self
    end

    # See Group#reset.
    def reset(group)
      self.group(group).reset
      self
    end

    # --- reads -----------------------------------------------------------

    # Blocks the calling thread (not others: it releases the GVL) until the
    # epoch differs from `epoch` or `timeout` seconds pass; returns the epoch
    # of that moment (equal to `epoch` on timeout). For monitoring threads.
    def wait_for_change(epoch, timeout)
      unless epoch.is_a?(Integer) && epoch >= 0 && epoch <= MAX_U64
        raise InvalidArgument, "epoch must be an Integer in 0..2**64-1, got #{epoch.inspect[0, 80]}"
      end
      unless timeout.is_a?(Numeric) && timeout.real? && timeout >= 0
        raise InvalidArgument, "timeout must be a non-negative number of seconds, got #{timeout.inspect[0, 80]}"
      end

      ms = timeout.to_f.infinite? ? MAX_U64 : [(timeout * 1000).ceil, MAX_U64].min
      __wait(epoch, ms)
    end

    # A Kat::Partition handle on (group, topic, partition): `state` and
    # `owned_at?` from one atomic load, for fencing in long jobs.
    def partition(group, topic, partition)
      self.group(group).partition(topic, partition)
    end

    # Sets the bound (>= 1); evicts at once if more entries are held.
    def generations_topics_limit=(limit)
      __set_limit(Tracker.size_arg(limit, "generations_topics_limit"))
    end

    # --- monitoring (README "Monitoring") --------------------------------

    # Content types of #metrics' formats, for an HTTP response (also
    # Kat::Metrics.content_type(format)).
    METRICS_CONTENT_TYPES = Metrics::FORMATS.keys.to_h { |f| [f, Kat.__metrics_content_type(Metrics::FORMATS[f])] }.freeze

    # The tracker's metrics as exposition text (a new UTF-8 String):
    # `:prometheus` (text format 0.0.4) or `:openmetrics` (OpenMetrics 1.0.0,
    # ending in "# EOF"). One series per partition owned now
    # (kat_partition_generation, value = its generation) plus the group
    # counters, health and rebalance timings; a revoked or lost partition is
    # absent from the next call. Built from one wait-free snapshot read; it
    # never blocks a rebalance. Serve it with Kat::Metrics.content_type(format)
    # (Kat::Metrics::App is a ready Rack endpoint).
    def metrics(format = :prometheus)
      __metrics(Metrics.format_number(format))
    end

    # How many entries each group's rebalance history keeps (>= 1, default
    # 64); longer histories are cut at their group's next event.
    def history_limit=(limit)
      __set_history_limit(Tracker.size_arg(limit, "history_limit"))
    end

    # Never blocks: no lock, no wait; one wait-free snapshot read.
    def inspect
      return "#<Kat::Tracker closed>" if closed?

      epoch, groups, partitions = __summary
      "#<Kat::Tracker#{global? ? ' global' : ''} epoch=#{epoch} groups=#{groups} partitions=#{partitions}>"
    rescue StandardError => e
      "#<Kat::Tracker #{e.class}>"
    end
    alias to_s inspect

    # @api private
    def self.size_arg(value, what)
      return value if value.is_a?(Integer) && value >= 1 && value <= MAX_SIZE

      raise InvalidArgument, "#{what} must be an Integer >= 1, got #{value.inspect[0, 80]}"
    end

    private

    # Group#close: forget the closed object (under the same lock as inserts).
    def forget_group(group)
      @group_lock.synchronize { @groups.delete_if { |_, g| g.equal?(group) } }
    end

    def setup
      @groups = {}
      @group_lock = Mutex.new
    end

    # Groups are cached in a Hash that readers look up without a lock;
    # inserts (a group's first use) take @group_lock and add one entry in
    # place (no copy: creating n groups costs O(n)).
    def add_group(name)
      @group_lock.synchronize do
        existing = @groups[name]
        return existing if existing

        group = __make_group(name)
        canonical = @groups[group.name]
        group = canonical if canonical
        @groups[group.name] = group
        @groups[name] = group if name.is_a?(Symbol)
        group
      end
    end
  end

  # The process-wide tracker (kat_tracker_global() of the gem's libkat).
  # Same object on every call.
  def self.tracker
    Tracker.global
  end
end
