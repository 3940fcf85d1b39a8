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

    def inspect
      "#<Kat::Partition #{group}/#{topic}/#{partition}#{closed? ? ' closed' : ''}>"
    end
    alias to_s inspect

    def to_json(*args)
      { "group" => group, "topic" => topic, "partition" => partition }.to_json(*args)
    end
  end
end
