# frozen_string_literal: true

require_relative "test_helper"
require "open3"
require "rbconfig"

# The gem as installed: its extension carries libkat, exports nothing but
# its Init function, and needs no libkat.so or KAT_LIBRARY at run time.
class TestInstall < Minitest::Test
  def extension_path
    $LOADED_FEATURES.find { |f| f.end_with?("/kat/kat_ext.so") } or flunk "kat_ext.so is not loaded"
  end

  def test_loaded_from_the_installed_gem_when_the_suite_runs_installed
    skip "the suite runs against a checkout build" unless ENV["KAT_TEST_INSTALLED_GEM"]

    spec = Gem.loaded_specs["kat"]
    refute_nil spec, "kat was not activated as a gem"
    assert_equal Kat::VERSION, spec.version.to_s
    assert extension_path.start_with?(spec.extension_dir) || extension_path.start_with?(spec.full_gem_path),
           "#{extension_path} is not inside the installed gem"
    lib = $LOADED_FEATURES.find { |f| f.end_with?("/lib/kat.rb") }
    assert lib.start_with?(spec.full_gem_path), "#{lib} is not the installed gem's"
  end

  def test_libkat_is_linked_in_and_its_symbols_are_hidden
    out, status = Open3.capture2("nm", "-D", "--defined-only", extension_path)
    skip "nm is not available" unless status.success?
    exported = out.lines.map(&:split).select { |f| f[1] == "T" }.map(&:last)
    assert_equal ["Init_kat_ext"], exported
    needed, = Open3.capture2("ldd", extension_path)
    refute_match(/libkat/, needed, "the extension must not need libkat.so")
  end

  def test_native_version_matches_the_gem
    assert_equal Kat::VERSION, Kat.native_version
  end
end
