# frozen_string_literal: true

# kat, the Kafka assignments tracker: which topic partitions this process
# owns right now, per consumer group, and how many times each was assigned.
# A binding (through the ffi gem) to libkat.so; see README.md.
module Kat
  # Errors, library lookup and native bindings are loaded first; everything
  # else is built on them.
end

require_relative "kat/version"
require_relative "kat/errors"
require_relative "kat/library"
require_relative "kat/bindings"
require_relative "kat/values"
require_relative "kat/partition"
require_relative "kat/group"
require_relative "kat/tracker"
require_relative "kat/karafka"
require_relative "kat/rdkafka"

module Kat
  # The version of the loaded libkat ("0.1.0").
  def self.native_version
    Bindings.kat_version
  end
end
