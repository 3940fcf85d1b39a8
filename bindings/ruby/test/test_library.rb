# frozen_string_literal: true

require_relative "test_helper"
require "tmpdir"
require "fileutils"
require "open3"
require "rbconfig"

# Finding libkat: $KAT_LIBRARY, $CARGO_TARGET_DIR, then target/ dirs above.
class TestLibrary < Minitest::Test
  def with_tree
    Dir.mktmpdir do |root|
      gem_dir = File.join(root, "bindings", "ruby", "lib", "kat")
      FileUtils.mkdir_p(gem_dir)
      yield root, gem_dir
    end
  end

  def touch(path)
    FileUtils.mkdir_p(File.dirname(path))
    FileUtils.touch(path)
    path
  end

  def test_kat_library_wins
    with_tree do |root, gem_dir|
      lib = touch(File.join(root, "elsewhere", "libkat.so"))
      touch(File.join(root, "target", "release", "libkat.so"))
      assert_equal lib, Kat::Library.locate(env: { "KAT_LIBRARY" => lib }, start: gem_dir)
    end
  end

  def test_kat_library_pointing_nowhere_is_an_error
    with_tree do |root, gem_dir|
      touch(File.join(root, "target", "release", "libkat.so"))
      e = assert_raises(Kat::LoadError) do
        Kat::Library.locate(env: { "KAT_LIBRARY" => "/nonexistent/libkat.so" }, start: gem_dir)
      end
      assert_match(%r{KAT_LIBRARY is set to "/nonexistent/libkat.so", but no such file exists}, e.message)
    end
  end

  def test_cargo_target_dir_then_walk_up_release_before_debug
    with_tree do |root, gem_dir|
      debug = touch(File.join(root, "target", "debug", "libkat.so"))
      assert_equal debug, Kat::Library.locate(env: {}, start: gem_dir)
      release = touch(File.join(root, "target", "release", "libkat.so"))
      assert_equal release, Kat::Library.locate(env: {}, start: gem_dir)
      custom = touch(File.join(root, "custom-target", "debug", "libkat.so"))
      assert_equal custom, Kat::Library.locate(env: { "CARGO_TARGET_DIR" => File.join(root, "custom-target") },
                                                start: gem_dir)
    end
  end

  def test_not_found_names_the_fix_and_the_places_tried
    with_tree do |root, gem_dir|
      e = assert_raises(Kat::LoadError) { Kat::Library.locate(env: {}, start: gem_dir) }
      assert_match(/Set KAT_LIBRARY/, e.message)
      assert_match(/cargo build --release --lib/, e.message)
      assert_includes e.message, File.join(root, "target", "release", "libkat.so")
      assert_operator Kat::LoadError, :<, ::LoadError
    end
  end

  def test_require_fails_with_kat_load_error_when_nothing_is_found
    lib = File.expand_path("../lib", __dir__)
    Dir.mktmpdir do |dir|
      copy = File.join(dir, "lib")
      FileUtils.cp_r(lib, copy) # a copy of the gem with no target/ above it
      env = { "KAT_LIBRARY" => nil, "CARGO_TARGET_DIR" => nil }
      script = 'begin; require "kat"; rescue LoadError => e; puts e.class; end'
      out, status = Open3.capture2e(env, RbConfig.ruby, "-I", copy, "-e", script)
      assert status.success?, out
      assert_equal "Kat::LoadError", out.strip
    end
  end

  def test_loaded_library_version_matches_the_gem
    assert_equal Kat::VERSION.split(".").first(2), Kat.native_version.split(".").first(2)
  end
end
