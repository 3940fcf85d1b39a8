# frozen_string_literal: true

require_relative "lib/kat/version"

Gem::Specification.new do |spec|
  spec.name = "kat"
  spec.version = Kat::VERSION
  spec.summary = "Kafka assignments tracker: which partitions this process owns, and their generations"
  spec.description = <<~TEXT
    Ruby binding (through the ffi gem) to libkat, a lock-free registry of the Kafka topic
    partitions a process owns and how many times each was assigned. Includes a drop-in
    for Karafka's AssignmentsTracker and a consumer_rebalance_listener for rdkafka-ruby.
  TEXT
  spec.authors = ["The kat developers"]
  spec.license = "MIT OR Apache-2.0"
  spec.required_ruby_version = ">= 2.7"

  spec.files = Dir["lib/**/*.rb"] + ["README.md", "kat.gemspec"]
  spec.require_paths = ["lib"]

  spec.add_dependency "ffi", ">= 1.15", "< 2"
  spec.add_development_dependency "minitest", ">= 5.15"

  spec.metadata["rubygems_mfa_required"] = "true"
end
