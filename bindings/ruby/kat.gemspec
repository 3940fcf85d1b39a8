# frozen_string_literal: true

require_relative "lib/kat/version"

Gem::Specification.new do |spec|
  spec.name = "kat"
  spec.version = Kat::VERSION
  spec.summary = "Kafka assignments tracker: which partitions this process owns, and their generations"
  spec.description = <<~TEXT
    Ruby binding to libkat, a lock-free registry of the Kafka topic partitions a process owns and
    how many times each was assigned. A native extension linked with libkat, which `gem install`
    builds from the Rust sources the gem carries (needs cargo and a C compiler). Includes a drop-in
    for Karafka's AssignmentsTracker and a consumer_rebalance_listener for rdkafka-ruby.
  TEXT
  spec.authors = ["The kat developers"]
  spec.licenses = ["MIT", "Apache-2.0"] # either, at your option
  spec.required_ruby_version = ">= 3.0" # rb_enc_interned_str, rb_str_to_interned_str

  spec.files = Dir["lib/**/*.rb"] + Dir["ext/kat/*.{c,rb}"] +
               Dir["ext/kat/crate/**/*"].select { |f| File.file?(f) } +
               ["README.md", "kat.gemspec", "Rakefile"]
  spec.extensions = ["ext/kat/extconf.rb"]
  spec.require_paths = ["lib"]

  spec.add_development_dependency "minitest", "~> 5.15"

  spec.metadata["rubygems_mfa_required"] = "true"
end
