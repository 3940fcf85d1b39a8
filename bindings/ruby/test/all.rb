# frozen_string_literal: true

# Runs every test of the gem. scripts/test.sh builds the .gem, installs it
# into a temporary GEM_HOME and runs
#   KAT_TEST_INSTALLED_GEM=1 ruby -Ibindings/ruby/test bindings/ruby/test/all.rb
# so `require "kat"` loads the installed gem. On a checkout:
#   (cd bindings/ruby && rake compile) && ruby -Ibindings/ruby/tmp/lib -Ibindings/ruby/lib \
#     -Ibindings/ruby/test bindings/ruby/test/all.rb
Dir[File.join(__dir__, "test_*.rb")].sort.each { |f| require File.expand_path(f) }
