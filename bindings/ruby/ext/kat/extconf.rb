# frozen_string_literal: true

# Builds kat_ext, the gem's native extension, linked statically with libkat.
#
# libkat comes from, in order:
# 1. $KAT_LIBRARY: a prebuilt libkat.a (linked in) or libkat.so (linked to,
#    with its directory as rpath), with kat.h in $KAT_INCLUDE_DIR or next to
#    it in ../../include;
# 2. `cargo build --release --lib` of the crate sources the gem carries
#    (ext/kat/crate, staged by `rake stage`), or of the kat checkout this
#    file sits in. $CARGO picks the cargo binary; $CARGO_TARGET_DIR is
#    honoured (sharing it with a checkout reuses the compiled dependencies).
#
# Only Init_kat_ext is exported: libkat's own symbols stay hidden inside the
# extension, so another copy of libkat in the process cannot clash with it.
require "mkmf"
require "rbconfig"
require "fileutils"
require "tmpdir"

def crate_dir
  staged = File.join(__dir__, "crate")
  checkout = File.expand_path("../../../..", __dir__)
  [staged, checkout].find do |dir|
    File.file?(File.join(dir, "Cargo.toml")) && File.file?(File.join(dir, "include", "kat.h"))
  end
end

def cargo_build(crate)
  cargo = ENV["CARGO"] || find_executable("cargo") || File.expand_path("~/.cargo/bin/cargo")
  unless File.executable?(cargo)
    abort "kat: cargo is needed to build libkat (install Rust, or set KAT_LIBRARY to a prebuilt libkat.a)"
  end
  shared = ENV["CARGO_TARGET_DIR"]
  target = shared && !shared.empty? ? shared : Dir.mktmpdir("kat-cargo-")
  command = [cargo, "build", "--release", "--lib", "--manifest-path", File.join(crate, "Cargo.toml")]
  message "kat: #{command.join(' ')} (CARGO_TARGET_DIR=#{target})\n"
  env = { "CARGO_TARGET_DIR" => target }
  # A private build needs no debug info (libkat.a is several times smaller);
  # a shared target directory keeps the checkout's profile so it is reused.
  env["CARGO_PROFILE_RELEASE_DEBUG"] = "0" unless target.equal?(shared)
  system(env, *command) or abort "kat: cargo build failed"
  # Only libkat.a is needed to link; a private target directory goes away.
  FileUtils.cp(File.join(target, "release", "libkat.a"), Dir.pwd)
  FileUtils.rm_rf(target) unless target.equal?(shared)
  File.join(Dir.pwd, "libkat.a")
end

library = ENV["KAT_LIBRARY"]
if library && !library.empty?
  abort "kat: KAT_LIBRARY=#{library} does not exist" unless File.file?(library)
  include_dir = ENV["KAT_INCLUDE_DIR"] || File.expand_path("../../include", File.dirname(library))
  crate = crate_dir
  include_dir = File.join(crate, "include") if !File.file?(File.join(include_dir, "kat.h")) && crate
else
  crate = crate_dir or abort "kat: no crate sources found (ext/kat/crate is missing; run `rake stage`)"
  library = cargo_build(crate)
  include_dir = File.join(crate, "include")
end
abort "kat: kat.h not found in #{include_dir}" unless File.file?(File.join(include_dir, "kat.h"))

$INCFLAGS << " -I#{include_dir}"
$CFLAGS << " -std=gnu99 -Wall -Wextra -Wno-unused-parameter -fvisibility=hidden"
if library.end_with?(".a")
  $LOCAL_LIBS << " #{library}"
  $libs << " -lpthread -ldl -lm"
  # Keep libkat's symbols out of the extension's dynamic symbol table.
  $LDFLAGS << " -Wl,--exclude-libs,ALL" if RbConfig::CONFIG["host_os"] =~ /linux/
else
  dir = File.dirname(File.expand_path(library))
  $LDFLAGS << " -L#{dir} -Wl,-rpath,#{dir}"
  $libs << " -lkat"
end

abort "kat: kat.h does not compile" unless have_header("kat.h")
create_makefile("kat/kat_ext")
