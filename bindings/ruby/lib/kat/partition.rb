# frozen_string_literal: true

module Kat
  # A long-lived handle on one (group, topic, partition) key, for ownership
  # checks from one atomic load: `state`, `owned_at?`. It stays valid through
  # revocation, reassignment and Tracker#clear. Get it with Tracker#partition
  # or Group#partition; the native handle is freed when this object is
  # garbage-collected (or earlier with #close).
  class Partition
    attr_reader :group, :topic, :partition

    GENERATION_OFFSET = Bindings::PartitionState.offset_of(:generation)
    STATUS_OFFSET = Bindings::PartitionState.offset_of(:status)
    STATUSES = Bindings::STATUSES
    private_constant :GENERATION_OFFSET, :STATUS_OFFSET, :STATUSES

    # @api private
    def initialize(pointer, group, topic, partition)
      @handle = FFI::AutoPointer.new(pointer, Bindings.method(:kat_partition_handle_free))
      @group = -group
      @topic = -topic
      @partition = partition
    end

    # Generation and status from one atomic load: a reader never sees an
    # assignment without its generation. Wait-free.
    def state
      ptr = live
      out = Bindings.scratch
      rc = Bindings.kat_partition_handle_state(ptr, out)
      Bindings.raise_error(rc, "kat_partition_handle_state") unless rc.zero?
      PartitionState.new(out.get_uint64(GENERATION_OFFSET), STATUSES[out.get_int32(STATUS_OFFSET)] || :none)
    end

    # Times this key was assigned (0: never). Wait-free.
    def generation
      state.generation
    end

    # True if assigned now. Wait-free.
    def assigned?
      state.assigned?
    end

    # True if assigned now at exactly `generation`: the fencing check before
    # a commit or a side effect. One atomic load, no allocation.
    def owned_at?(generation)
      return false unless generation.is_a?(Integer) && generation >= 0 && generation <= Bindings::MAX_U64

      Bindings.kat_partition_handle_owned_at(live, generation)
    end

    # Frees the native handle now. Idempotent; later reads raise Kat::Error.
    def close
      handle = @handle
      @handle = nil
      handle&.free
      nil
    end

    def closed?
      @handle.nil?
    end

    def inspect
      "#<Kat::Partition #{@group}/#{@topic}/#{@partition}#{closed? ? ' closed' : ''}>"
    end

    private

    def live
      @handle or raise Error, "partition handle #{@group}/#{@topic}/#{@partition} is closed"
    end
  end
end
