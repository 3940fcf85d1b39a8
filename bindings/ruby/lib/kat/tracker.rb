# frozen_string_literal: true

module Kat
  # The registry of assignments and generations: which partitions this
  # process owns now, per group, and how many times each was assigned.
  #
  # `Kat.tracker` is the process-wide one (shared with any C, C++ or Rust
  # code in the process that uses kat_tracker_global()); `Tracker.new` makes
  # an independent one (tests, isolation).
  #
  # Thread-safety: every method may be called from any thread. Reads are
  # wait-free in libkat and never take a Ruby lock; events serialise among
  # themselves and never block readers.
  class Tracker
    # Default bound on retained (group, topic) generation entries.
    DEFAULT_GENERATIONS_TOPICS_LIMIT = 100_000

    GLOBAL_LOCK = Mutex.new
    private_constant :GLOBAL_LOCK

    # The process-wide tracker (the same object on every call).
    def self.global
      @global || GLOBAL_LOCK.synchronize do
        @global ||= allocate.tap { |t| t.send(:setup, Bindings.kat_tracker_global, owned: false) }
      end
    end

    # A new, empty tracker that keeps at most `generations_topics_limit`
    # (group, topic) generation entries (least recently assigned evicted
    # first, only among topics with nothing assigned). Freed when garbage
    # collected.
    def initialize(generations_topics_limit: DEFAULT_GENERATIONS_TOPICS_LIMIT)
      limit = Tracker.size_arg(generations_topics_limit, "generations_topics_limit")
      out = FFI::MemoryPointer.new(:pointer)
      rc = Bindings.kat_tracker_new_with_limit(limit, out)
      Bindings.raise_error(rc, "kat_tracker_new_with_limit") unless rc.zero?
      setup(out.read_pointer, owned: true)
    end

    # True for Kat.tracker.
    def global?
      !@owned
    end

    # The Kat::Group called `name`, created on first use. Cached: the same
    # name returns the same object.
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

    # Removes every assignment and every generation of every group (tests,
    # Karafka parity). Partition handles stay valid and read generation 0.
    def clear
      check(Bindings.kat_tracker_clear(@ptr), "kat_tracker_clear")
      self
    end

    # --- reads -----------------------------------------------------------

    # The current epoch: advances by one on every event that changed
    # something. Wait-free.
    def epoch
      out = Bindings.scratch
      rc = Bindings.kat_tracker_epoch(@ptr, out)
      Bindings.raise_error(rc, "kat_tracker_epoch") unless rc.zero?
      out.get_uint64(0)
    end

    # Blocks the calling thread (not others: it releases the GVL) until the
    # epoch differs from `epoch` or `timeout` seconds pass; returns the epoch
    # of that moment (equal to `epoch` on timeout). For monitoring threads.
    def wait_for_change(epoch, timeout)
      unless epoch.is_a?(Integer) && epoch >= 0 && epoch <= Bindings::MAX_U64
        raise InvalidArgument, "epoch must be an Integer in 0..2**64-1, got #{epoch.inspect[0, 80]}"
      end
      unless timeout.is_a?(Numeric) && timeout.real? && timeout >= 0
        raise InvalidArgument, "timeout must be a non-negative number of seconds, got #{timeout.inspect[0, 80]}"
      end

      ms = timeout.to_f.infinite? ? Bindings::MAX_U64 : [(timeout * 1000).ceil, Bindings::MAX_U64].min
      out = FFI::MemoryPointer.new(:uint64)
      check(Bindings.kat_tracker_wait_for_change(@ptr, epoch, ms, out), "kat_tracker_wait_for_change")
      out.read_uint64
    end

    # Times `group` was assigned topic/partition (0: never, cleared or
    # evicted). Wait-free; no allocation in libkat.
    def generation(group, topic, partition)
      out = Bindings.scratch
      rc = Bindings.kat_tracker_generation(@ptr, Bindings.group_name(group), Bindings.topic_name(topic),
                                           Bindings.partition(partition), out)
      Bindings.raise_error(rc, "kat_tracker_generation") unless rc.zero?
      out.get_uint64(0)
    end

    # True if `group` owns topic/partition now. Wait-free.
    def assigned?(group, topic, partition)
      out = Bindings.scratch
      rc = Bindings.kat_tracker_is_assigned(@ptr, Bindings.group_name(group), Bindings.topic_name(topic),
                                            Bindings.partition(partition), out)
      Bindings.raise_error(rc, "kat_tracker_is_assigned") unless rc.zero?
      out.get_uint8(0) != 0
    end

    # A Kat::Partition handle on (group, topic, partition): `state` and
    # `owned_at?` from one atomic load, for fencing in long jobs.
    def partition(group, topic, partition)
      self.group(group).partition(topic, partition)
    end

    # The current assignments: a frozen Hash of frozen Kat::Topic(group,
    # name) => frozen sorted Array of partitions. Topics with nothing
    # assigned are absent.
    #
    # Cached per epoch: without a rebalance in between, this costs one
    # wait-free epoch read and returns the same frozen object.
    def assignments
      cached = @assignments
      return cached[1] if cached && cached[0] == epoch

      at, value = read_snapshot { |snap| assignments_of(snap) }
      @assignments = [at, value].freeze
      value
    end

    # Every key ever assigned (revoked and lost ones included) as a frozen
    # Hash of Kat::Topic => frozen Hash of partition => Kat::PartitionState.
    # Cached per epoch like #assignments.
    def generations
      cached = @generations
      return cached[1] if cached && cached[0] == epoch

      at, value = read_generations { |list, count| generations_of(list, count) }
      @generations = [at, value].freeze
      value
    end

    # The current assignments with their generations as JSON:
    # {"epoch":N,"groups":{"group":{"topic":{"partition":generation}}}}
    def to_json(*_args)
      read_snapshot { |snap| json_of(:kat_snapshot_to_json, snap) }[1]
    end

    # #generations as JSON, statuses included:
    # {"epoch":N,"groups":{"group":{"topic":{"partition":{"generation":G,"status":"revoked"}}}}}
    def generations_json
      read_generations { |list, _count| json_of(:kat_generations_to_json, list) }[1]
    end

    # The bound on retained (group, topic) generation entries.
    def generations_topics_limit
      out = FFI::MemoryPointer.new(:size_t)
      check(Bindings.kat_tracker_generations_topics_limit(@ptr, out), "kat_tracker_generations_topics_limit")
      out.read(:size_t)
    end

    # Sets the bound (>= 1); evicts at once if more entries are held.
    def generations_topics_limit=(limit)
      limit = Tracker.size_arg(limit, "generations_topics_limit")
      check(Bindings.kat_tracker_set_generations_topics_limit(@ptr, limit),
            "kat_tracker_set_generations_topics_limit")
    end

    # Never blocks: no lock, no wait; one wait-free snapshot read.
    def inspect
      info = read_snapshot do |snap|
        out = Bindings.scratch
        Bindings.kat_snapshot_group_count(snap, out)
        groups = out.get(:size_t, 0)
        Bindings.kat_snapshot_partition_count(snap, out)
        "groups=#{groups} partitions=#{out.get(:size_t, 0)}"
      end
      "#<Kat::Tracker#{global? ? ' global' : ''} epoch=#{info[0]} #{info[1]}>"
    rescue StandardError => e
      "#<Kat::Tracker #{e.class}>"
    end
    alias to_s inspect

    # @api private
    def self.size_arg(value, what)
      return value if value.is_a?(Integer) && value >= 1 && value <= Bindings::MAX_SIZE

      raise InvalidArgument, "#{what} must be an Integer >= 1, got #{value.inspect[0, 80]}"
    end

    private

    def setup(pointer, owned:)
      @owned = owned
      @ptr = owned ? FFI::AutoPointer.new(pointer, Bindings.method(:kat_tracker_free)) : pointer
      @groups = {}.freeze
      @group_lock = Mutex.new
      @assignments = nil
      @generations = nil
    end

    def check(rc, function)
      Bindings.raise_error(rc, function) unless rc.zero?
    end

    # Group handles are cached in a frozen Hash replaced on insert, so the
    # lookup in #group never takes a lock; inserts (first event of a group)
    # take @group_lock.
    def add_group(name)
      name = Bindings.group_name(name)
      @group_lock.synchronize do
        existing = @groups[name]
        return existing if existing

        out = FFI::MemoryPointer.new(:pointer)
        check(Bindings.kat_tracker_group(@ptr, name, out), "kat_tracker_group")
        group = Group.new(out.read_pointer, name, self)
        @groups = @groups.merge(-name => group).freeze
        group
      end
    end

    # Yields a held snapshot, frees it afterwards; returns [epoch, result].
    def read_snapshot
      out = FFI::MemoryPointer.new(:pointer)
      check(Bindings.kat_tracker_snapshot(@ptr, out), "kat_tracker_snapshot")
      snap = out.read_pointer
      begin
        check(Bindings.kat_snapshot_epoch(snap, out), "kat_snapshot_epoch")
        epoch = out.read_uint64
        [epoch, yield(snap)]
      ensure
        Bindings.kat_snapshot_free(snap)
      end
    end

    def read_generations
      out = FFI::MemoryPointer.new(:pointer)
      check(Bindings.kat_tracker_generations(@ptr, out), "kat_tracker_generations")
      list = out.read_pointer
      begin
        check(Bindings.kat_generations_epoch(list, out), "kat_generations_epoch")
        epoch = out.read_uint64
        check(Bindings.kat_generations_count(list, out), "kat_generations_count")
        [epoch, yield(list, out.read(:size_t))]
      ensure
        Bindings.kat_generations_free(list)
      end
    end

    PARTITION_STRIDE = Bindings::AssignedPartition.size
    # An int32 (native order) at the start of each element; skip the rest.
    PARTITION_FORMAT = "lx#{PARTITION_STRIDE - 4}"
    private_constant :PARTITION_STRIDE, :PARTITION_FORMAT

    def assignments_of(snap)
      out = FFI::MemoryPointer.new(:size_t)
      check(Bindings.kat_snapshot_group_count(snap, out), "kat_snapshot_group_count")
      group_view = Bindings::GroupView.new
      topic_view = Bindings::TopicView.new
      result = {}
      out.read(:size_t).times do |gi|
        check(Bindings.kat_snapshot_group(snap, gi, group_view), "kat_snapshot_group")
        group = Bindings.string(group_view[:name], group_view[:name_len])
        group_view[:topic_count].times do |ti|
          check(Bindings.kat_snapshot_topic(snap, gi, ti, topic_view), "kat_snapshot_topic")
          name = Bindings.string(topic_view[:name], topic_view[:name_len])
          count = topic_view[:partition_count]
          # One copy of the (partition, generation) array, then one unpack.
          bytes = topic_view[:partitions].get_bytes(0, count * PARTITION_STRIDE)
          result[Topic.new(group, name)] = bytes.unpack(PARTITION_FORMAT * count).freeze
        end
      end
      result.freeze
    end

    def generations_of(list, count)
      entry = Bindings::GenerationEntry.new
      result = {}
      topic = nil
      partitions = nil
      count.times do |i|
        check(Bindings.kat_generations_get(list, i, entry), "kat_generations_get")
        group = Bindings.string(entry[:group], entry[:group_len])
        name = Bindings.string(entry[:topic], entry[:topic_len])
        unless topic && topic.group == group && topic.name == name
          partitions&.freeze
          topic = Topic.new(group, name)
          partitions = result[topic] = {}
        end
        partitions[entry[:partition]] =
          PartitionState.new(entry[:generation], Bindings::STATUSES.fetch(entry[:status], :none))
      end
      partitions&.freeze
      result.freeze
    end

    def json_of(function, handle)
      len = FFI::MemoryPointer.new(:size_t)
      check(Bindings.public_send(function, handle, nil, 0, len), function.to_s)
      size = len.read(:size_t) + 1
      buf = FFI::MemoryPointer.new(:char, size)
      check(Bindings.public_send(function, handle, buf, size, len), function.to_s)
      buf.read_bytes(len.read(:size_t)).force_encoding(Encoding::UTF_8)
    end
  end

  # The process-wide tracker (kat_tracker_global()): shared with every other
  # kat user in the process. Same object on every call.
  def self.tracker
    Tracker.global
  end
end
