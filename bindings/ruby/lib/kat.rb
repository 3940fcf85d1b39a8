# frozen_string_literal: true

# kat, the Kafka assignments tracker: which topic partitions this process
# owns right now, per consumer group, and how many times each was assigned.
# The hot path is a native extension (kat/kat_ext) linked with libkat, built
# when the gem is installed; see README.md.
module Kat
end

require_relative "kat/version"
require_relative "kat/errors"
require_relative "kat/values"
require "kat/kat_ext"
require_relative "kat/partition"
require_relative "kat/group"
require_relative "kat/metrics"
require_relative "kat/tracker"
require_relative "kat/karafka"
require_relative "kat/rdkafka"
