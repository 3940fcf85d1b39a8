# frozen_string_literal: true

module Kat
  # A long-lived handle on one (group, topic, partition) key, for ownership
  # checks from one atomic load: `state`, `owned_at?`. It stays valid through
  # revocation, reassignment and Tracker#clear. Get it with Tracker#partition
  # or Group#partition. The native handle is freed when this object is
  # garbage-collected, or at once with #close (idempotent; later reads raise
  # Kat::InvalidArgument).
  #
  # Native methods (kat_ext): group, topic, partition, state, generation,
  # assigned?, owned_at?(generation), close, closed?.
  class Partition
    # The fencing token (Kat::FencingToken): kat's generation and the
    # broker generation / member epoch, read as one moment.
    def token
      FencingToken.new(*__token)
    end

    # Native (kat_ext), lock-free: `lease_acquire(generation)` (true if the
    # partition is assigned at exactly `generation` and a lease is now held;
    # false, holding nothing, otherwise), `lease_release` (one per
    # successful acquire; Kat::InvalidArgument if none is held),
    # `lease_valid?(generation)` (whether work under the lease may still
    # act: false at once after a loss or a poll-deadline expiry).

    # Runs the block under a lease at `generation` (default: the current
    # generation) and releases it afterwards, even if the block raises.
    # Returns the block's value, or false without running it if the lease
    # was refused (the partition is not assigned at that generation).
    def with_lease(generation = state.generation)
      return false unless lease_acquire(generation)

      begin
        yield generation
      ensure
        lease_release
      end
    end

    def inspect
      "#<Kat::Partition #{group}/#{topic}/#{partition}#{closed? ? ' closed' : ''}>"
    end
    alias to_s inspect

    def to_json(*args)
      { "group" => group, "topic" => topic, "partition" => partition }.to_json(*args)
    end
  end
end
