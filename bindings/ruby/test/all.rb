# frozen_string_literal: true

# Runs every test of the gem:
#   ruby -Ibindings/ruby/lib -Ibindings/ruby/test bindings/ruby/test/all.rb
# libkat is found through $KAT_LIBRARY, $CARGO_TARGET_DIR or the cargo target
# directory above the gem (build it first: cargo build --release --lib).
Dir[File.join(__dir__, "test_*.rb")].sort.each { |f| require File.expand_path(f) }
