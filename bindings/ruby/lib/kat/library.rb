# frozen_string_literal: true

module Kat
  # Raised at load time when libkat cannot be found or opened. A subclass of
  # Ruby's ::LoadError, so `rescue LoadError` around `require "kat"` sees it.
  class LoadError < ::LoadError; end

  # Finds libkat.so. Pure functions of their arguments, so they can be tested
  # without touching the real environment.
  module Library
    NAMES = %w[libkat.so libkat.dylib kat.dll].freeze
    PROFILES = %w[release debug].freeze

    module_function

    # The path to load, or raises Kat::LoadError listing every place tried.
    #
    # Order: $KAT_LIBRARY (a file path; an error if set but missing), then
    # $CARGO_TARGET_DIR/{release,debug}, then every `target/{release,debug}`
    # found walking up from `start` (the gem's own directory by default).
    def locate(env: ENV, start: __dir__)
      explicit = env["KAT_LIBRARY"]
      if explicit && !explicit.empty?
        return explicit if File.file?(explicit)

        raise LoadError, "KAT_LIBRARY is set to #{explicit.inspect}, but no such file exists"
      end

      tried = candidates(env: env, start: start)
      found = tried.find { |path| File.file?(path) }
      return found if found

      raise LoadError, "libkat not found. Set KAT_LIBRARY to the path of libkat.so, or build it " \
                       "with `cargo build --release --lib` (tried: #{tried.join(', ')})"
    end

    # Every path `locate` looks at after $KAT_LIBRARY, in order.
    def candidates(env: ENV, start: __dir__)
      dirs = []
      target = env["CARGO_TARGET_DIR"]
      dirs << File.expand_path(target) if target && !target.empty?
      dir = File.expand_path(start)
      loop do
        dirs << File.join(dir, "target")
        parent = File.dirname(dir)
        break if parent == dir

        dir = parent
      end
      dirs.uniq.flat_map do |d|
        PROFILES.flat_map { |profile| NAMES.map { |name| File.join(d, profile, name) } }
      end
    end
  end
end
