#!/usr/bin/env bash
# Builds kat's C library and installs it the way C libraries are installed:
#
#   PREFIX/include/kat.h, kat_rdkafka.h, kat.hpp, kat_rdkafka.hpp,
#                  kat_rdkafkacpp.hpp
#   PREFIX/lib/libkat.so.X.Y.Z                  (SONAME libkat.so.0.Y at 0.x)
#   PREFIX/lib/libkat.so.0.Y -> libkat.so.X.Y.Z, libkat.so -> libkat.so.0.Y
#   PREFIX/lib/libkat.a
#   PREFIX/lib/pkgconfig/kat.pc, kat-static.pc
#   PREFIX/lib/cmake/kat/kat-config.cmake, kat-config-version.cmake
#
# Usage:  [PREFIX=/usr/local] [DESTDIR=] [LIBDIR=PREFIX/lib]
#         [INCLUDEDIR=PREFIX/include] bash scripts/install.sh [all|build|install]
#
# `all` (the default) builds, then installs. For a PREFIX you cannot write,
# build as yourself and install as root, which needs no Rust toolchain:
#   bash scripts/install.sh build && sudo PREFIX=/usr/local bash scripts/install.sh install
#
# DESTDIR stages the tree for packaging: files go to DESTDIR/PREFIX/..., and
# what they record (kat.pc's prefix) is PREFIX. The library is built with
# cargo's `dist` profile (release code, no debug info) into the usual cargo
# target directory (CARGO_TARGET_DIR is honoured); the installed copies are
# stripped of debug info and of the LLVM bitcode rustc embeds in the archive
# (set STRIP=: to install them as built).
set -euo pipefail
cd "$(dirname "$0")/.."

step="${1:-all}"
case "$step" in
  all | build | install) ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "install.sh: unknown step '$step' (all, build or install)" >&2; exit 2 ;;
esac

PREFIX="${PREFIX:-/usr/local}"
PREFIX="${PREFIX%/}"
LIBDIR="${LIBDIR:-$PREFIX/lib}"
INCLUDEDIR="${INCLUDEDIR:-$PREFIX/include}"
DESTDIR="${DESTDIR:-}"
CARGO="${CARGO:-cargo}"
STRIP="${STRIP:-strip}"

case "$PREFIX" in
  /*) ;;
  *) echo "install.sh: PREFIX must be an absolute path, got '$PREFIX'" >&2; exit 2 ;;
esac

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
major="${version%%.*}"
rest="${version#*.}"
minor="${rest%%.*}"
if [ "$major" = 0 ]; then soname="libkat.so.0.$minor"; else soname="libkat.so.$major"; fi
real="libkat.so.$version"

# Where the build goes: cargo's target directory (CARGO_TARGET_DIR, or
# ./target), profile `dist`. The install step reads only files there.
target_dir="${CARGO_TARGET_DIR:-target}"
built="$target_dir/dist"
native_libs_file="$built/kat-native-static-libs"

if [ "$step" != install ]; then
  echo "install.sh: building kat $version (cargo profile dist)"
  build_log="$(mktemp)"
  trap 'rm -f "$build_log"' EXIT
  # --print native-static-libs: the system libraries a static link of
  # libkat.a needs, as rustc computes them (cargo replays the note on fresh
  # builds).
  if ! "$CARGO" rustc --profile dist --lib -- --print native-static-libs 2>"$build_log"; then
    cat "$build_log" >&2
    exit 1
  fi
  native_libs="$(sed -n 's/^note: native-static-libs: //p' "$build_log" | tail -n 1)"
  if [ -z "$native_libs" ]; then
    cat "$build_log" >&2
    echo "install.sh: rustc did not print native-static-libs" >&2
    exit 1
  fi
  # A temporary file of this run's own, so concurrent builds never share it.
  native_libs_tmp="$(mktemp "$native_libs_file.XXXXXX")"
  printf '%s\n' "$native_libs" >"$native_libs_tmp"
  mv -f "$native_libs_tmp" "$native_libs_file"
fi
[ "$step" = build ] && { echo "install.sh: built in $built"; exit 0; }

for f in libkat.so libkat.a kat-native-static-libs; do
  [ -f "$built/$f" ] || {
    echo "install.sh: $built/$f is missing: run 'bash scripts/install.sh build' first" >&2
    exit 1
  }
done
native_libs="$(cat "$native_libs_file")"
[ -n "$native_libs" ] || { echo "install.sh: $native_libs_file is empty" >&2; exit 1; }

dest_lib="$DESTDIR$LIBDIR"
dest_inc="$DESTDIR$INCLUDEDIR"
dest_pc="$dest_lib/pkgconfig"
dest_cmake="$dest_lib/cmake/kat"
mkdir -p "$dest_lib" "$dest_inc" "$dest_pc" "$dest_cmake"

install -m 644 include/kat.h include/kat_rdkafka.h bindings/cpp/kat.hpp \
  bindings/cpp/kat_rdkafka.hpp bindings/cpp/kat_rdkafkacpp.hpp "$dest_inc/"

install -m 755 "$built/libkat.so" "$dest_lib/$real"
install -m 644 "$built/libkat.a" "$dest_lib/libkat.a"
if [ "$STRIP" != ":" ]; then
  "$STRIP" --strip-debug --strip-unneeded "$dest_lib/$real"
  "$STRIP" --strip-debug --remove-section=.llvmbc --remove-section=.llvmcmd "$dest_lib/libkat.a"
fi
ln -sfn "$real" "$dest_lib/$soname"
ln -sfn "$soname" "$dest_lib/libkat.so"

# pkg-config: kat.pc links libkat.so; `pkg-config --static` adds what
# libkat.a needs. kat-static.pc names the archive itself, so the linker
# cannot pick libkat.so from the same directory (the model of librdkafka's
# rdkafka-static.pc).
description="Wait-free tracking of the Kafka partitions a process owns (C ABI)"
pc_libdir="$LIBDIR"
pc_includedir="$INCLUDEDIR"
case "$LIBDIR" in "$PREFIX"/*) pc_libdir="\${exec_prefix}${LIBDIR#"$PREFIX"}" ;; esac
case "$INCLUDEDIR" in "$PREFIX"/*) pc_includedir="\${prefix}${INCLUDEDIR#"$PREFIX"}" ;; esac
pc_head() {
  cat <<EOF
prefix=$PREFIX
exec_prefix=\${prefix}
libdir=$pc_libdir
includedir=$pc_includedir

EOF
}
{
  pc_head
  cat <<EOF
Name: kat
Description: $description
Version: $version
Libs: -L\${libdir} -lkat
Libs.private: $native_libs
Cflags: -I\${includedir}
EOF
} >"$dest_pc/kat.pc"
{
  pc_head
  cat <<EOF
Name: kat-static
Description: $description (static library)
Version: $version
Libs: \${libdir}/libkat.a
Libs.private: $native_libs
Cflags: -I\${includedir}
EOF
} >"$dest_pc/kat-static.pc"

# CMake package: relocatable (paths relative to the config file's own
# directory, which is LIBDIR/cmake/kat).
cmake_libs=""
for l in $native_libs; do
  case "$l" in
    -l*) cmake_libs="$cmake_libs;${l#-l}" ;;
    *) cmake_libs="$cmake_libs;$l" ;;
  esac
done
cmake_libs="${cmake_libs#;}"
inc_rel="$(realpath -m --relative-to="$LIBDIR/cmake/kat" "$INCLUDEDIR")"
lib_rel="$(realpath -m --relative-to="$LIBDIR/cmake/kat" "$LIBDIR")"
cat >"$dest_cmake/kat-config.cmake" <<EOF
# CMake package of kat $version, written by scripts/install.sh.
#
#   find_package(kat REQUIRED)
#   target_link_libraries(app PRIVATE kat::kat)          # libkat.so
#   target_link_libraries(app PRIVATE kat::kat_static)   # libkat.a
#
# kat_rdkafka.h also needs librdkafka, which the application links itself.

get_filename_component(_kat_dir "\${CMAKE_CURRENT_LIST_DIR}" ABSOLUTE)
get_filename_component(_kat_include "\${_kat_dir}/$inc_rel" ABSOLUTE)
get_filename_component(_kat_lib "\${_kat_dir}/$lib_rel" ABSOLUTE)

if(NOT TARGET kat::kat)
  add_library(kat::kat SHARED IMPORTED)
  set_target_properties(kat::kat PROPERTIES
    IMPORTED_LOCATION "\${_kat_lib}/$real"
    IMPORTED_SONAME "$soname"
    INTERFACE_INCLUDE_DIRECTORIES "\${_kat_include}")
endif()

if(NOT TARGET kat::kat_static)
  add_library(kat::kat_static STATIC IMPORTED)
  set_target_properties(kat::kat_static PROPERTIES
    IMPORTED_LOCATION "\${_kat_lib}/libkat.a"
    IMPORTED_LINK_INTERFACE_LANGUAGES "C"
    INTERFACE_INCLUDE_DIRECTORIES "\${_kat_include}"
    INTERFACE_LINK_LIBRARIES "$cmake_libs")
endif()

set(kat_INCLUDE_DIR "\${_kat_include}")
unset(_kat_dir)
unset(_kat_include)
unset(_kat_lib)
EOF
cat >"$dest_cmake/kat-config-version.cmake" <<EOF
# kat $version. Before 1.0 a minor release may break the ABI, so only the
# same 0.minor is compatible; from 1.0 on, the same major.
set(PACKAGE_VERSION "$version")
set(PACKAGE_VERSION_COMPATIBLE FALSE)
if(PACKAGE_FIND_VERSION_MAJOR EQUAL $major AND NOT PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  if($major GREATER 0 OR PACKAGE_FIND_VERSION_MINOR EQUAL $minor)
    set(PACKAGE_VERSION_COMPATIBLE TRUE)
  endif()
endif()
if(NOT PACKAGE_FIND_VERSION OR PACKAGE_FIND_VERSION VERSION_EQUAL PACKAGE_VERSION)
  set(PACKAGE_VERSION_EXACT TRUE)
endif()
if(NOT PACKAGE_FIND_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
endif()
EOF

echo "install.sh: installed kat $version into ${DESTDIR}${PREFIX} (libkat.so SONAME $soname)"
