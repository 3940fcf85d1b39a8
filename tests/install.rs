//! kat as a C library is installed: `scripts/install.sh` into a temporary
//! prefix outside the checkout, then C and C++ consumers (`tests/install`)
//! built from a copy of their sources outside the checkout, found only
//! through what was installed:
//!
//! - `pkg-config --cflags --libs kat` (libkat.so, found at run time through
//!   an rpath to the prefix's lib directory and nothing else);
//! - `pkg-config --static --cflags --libs kat-static` (libkat.a);
//! - CMake's `find_package(kat)` with `kat::kat` and `kat::kat_static`;
//! - `pkg-config --cflags --libs kat rdkafka` for a librdkafka consumer using
//!   the installed `kat_rdkafka.h` on the mock cluster;
//!
//! and every consumer runs plainly and, for the C one, under plain
//! `valgrind --leak-check=full --error-exitcode=1` with no suppression file.
//! A second install with `DESTDIR` checks staging for packagers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch directory outside the checkout (the point of these tests is
/// that nothing is found in it), fresh for each run of this test binary.
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let tmp = std::env::temp_dir();
        // Directories of earlier runs whose process is gone.
        for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let pid = name
                .to_str()
                .and_then(|n| n.strip_prefix("kat-install-test-"))
                .and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = tmp.join(format!("kat-install-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        assert!(
            !dir.starts_with(root()),
            "the scratch directory {} is inside the checkout",
            dir.display()
        );
        dir
    })
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run(cmd: &mut Command) -> Output {
    // `cargo test` points LD_LIBRARY_PATH at its target directory; the
    // consumers must find libkat through their rpath only.
    cmd.env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn ok(what: &str, out: Output) -> Output {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

fn on_path(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

const VERSION: &str = env!("CARGO_PKG_VERSION");
const SONAME: &str = env!("KAT_SONAME");

/// Runs scripts/install.sh (`step`: all, build or install); its cargo build
/// goes to a target directory of its own (the outer `cargo test` holds the
/// lock on the usual one).
fn install_step(step: &str, prefix: &str, destdir: Option<&Path>) -> Output {
    // Tests run in parallel; steps that build share one cargo target
    // directory and its outputs, so they take turns.
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = (step != "install").then(|| BUILDING.lock().unwrap_or_else(|p| p.into_inner()));
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("scripts").join("install.sh"))
        .arg(step)
        .env("PREFIX", prefix)
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("install-cargo"),
        )
        .env_remove("DESTDIR")
        .env_remove("LIBDIR")
        .env_remove("INCLUDEDIR");
    if let Some(d) = destdir {
        cmd.env("DESTDIR", d);
    }
    if step == "install" {
        // The install step must not need a Rust toolchain (it runs as root).
        cmd.env("CARGO", "/nonexistent/cargo");
    }
    run(&mut cmd)
}

fn install(prefix: &str, destdir: Option<&Path>) {
    ok("scripts/install.sh", install_step("all", prefix, destdir));
}

/// The prefix kat is installed into once per test binary.
fn prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let p = scratch().join("prefix");
        install(p.to_str().expect("UTF-8 path"), None);
        p
    })
}

fn readelf_d(path: &Path) -> String {
    text(
        &ok(
            "readelf -d",
            run(Command::new("readelf").arg("-d").arg(path)),
        )
        .stdout,
    )
}

fn needed(path: &Path) -> Vec<String> {
    readelf_d(path)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1))
        .map(|l| l.trim_end_matches(']').to_owned())
        .collect()
}

fn runpath(path: &Path) -> Vec<String> {
    readelf_d(path)
        .lines()
        .filter(|l| l.contains("(RUNPATH)") || l.contains("(RPATH)"))
        .filter_map(|l| l.split('[').nth(1))
        .flat_map(|l| {
            l.trim_end_matches(']')
                .split(':')
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn pkg_config(args: &[&str]) -> String {
    let out = ok(
        &format!("pkg-config {args:?}"),
        run(Command::new("pkg-config")
            .args(args)
            .env("PKG_CONFIG_PATH", prefix().join("lib").join("pkgconfig"))),
    );
    text(&out.stdout).trim().to_owned()
}

/// Copies the consumer sources to a build directory outside the checkout.
fn consumer_dir(name: &str) -> PathBuf {
    let dir = scratch().join(name);
    std::fs::create_dir_all(&dir).expect("create consumer dir");
    for f in ["consumer.c", "consumer.cpp", "CMakeLists.txt"] {
        std::fs::copy(root().join("tests").join("install").join(f), dir.join(f))
            .expect("copy consumer source");
    }
    dir
}

/// What every consumer prints: the handle's state, then the snapshot.
fn expected_output() -> String {
    format!(
        "kat {VERSION}: orders/1 generation 1, assigned\n\
         {{\"epoch\":2,\"groups\":{{\"billing\":{{\"orders\":{{\"0\":1,\"1\":1}}}}}}}}\n"
    )
}

/// Checks how a consumer links libkat, then runs it and checks its output.
fn check_consumer(exe: &Path, shared: bool) {
    let needed = needed(exe);
    let lib = prefix().join("lib");
    if shared {
        assert!(
            needed.iter().any(|n| n == SONAME),
            "{} does not record the SONAME {SONAME}: {needed:?}",
            exe.display()
        );
        let rpath = runpath(exe);
        assert_eq!(
            rpath,
            vec![lib.display().to_string()],
            "{}: the only rpath must be the prefix's lib dir",
            exe.display()
        );
        let ldd = text(&ok("ldd", run(Command::new("ldd").arg(exe))).stdout);
        let expected = format!("{SONAME} => {}", lib.join(SONAME).display());
        assert!(
            ldd.contains(&expected),
            "{} does not load {expected}:\n{ldd}",
            exe.display()
        );
    } else {
        assert!(
            !needed.iter().any(|n| n.contains("libkat")),
            "{} should not need libkat.so: {needed:?}",
            exe.display()
        );
    }
    let out = ok(&exe.display().to_string(), run(&mut Command::new(exe)));
    assert_eq!(text(&out.stdout), expected_output(), "{}", exe.display());
    assert_eq!(text(&out.stderr), "", "{}", exe.display());
}

/// Compiles with the flags pkg-config gave, and nothing that points into the
/// checkout.
fn compile(compiler: &str, std: &str, src: &Path, exe: &Path, flags: &str, extra: &[&str]) {
    let checkout = root().display().to_string();
    assert!(
        !flags.contains(&checkout),
        "pkg-config flags point into the checkout: {flags}"
    );
    let out = run(Command::new(compiler)
        .arg(std)
        .args(["-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg(src)
        .arg("-o")
        .arg(exe)
        .args(flags.split_whitespace())
        .args(extra)
        .current_dir(src.parent().expect("source dir")));
    ok(&format!("{compiler} {}", src.display()), out);
}

#[test]
fn install_sh_installs_a_versioned_stripped_library_headers_pc_and_cmake_files() {
    let p = prefix();
    let lib = p.join("lib");
    for f in [
        "kat.h",
        "kat_rdkafka.h",
        "kat.hpp",
        "kat_rdkafka.hpp",
        "kat_rdkafkacpp.hpp",
    ] {
        let installed = std::fs::read(p.join("include").join(f)).expect("installed header");
        let source = if f.ends_with(".hpp") {
            root().join("bindings").join("cpp").join(f)
        } else {
            root().join("include").join(f)
        };
        assert_eq!(installed, std::fs::read(source).expect("header"), "{f}");
    }

    // libkat.so.X.Y.Z, with libkat.so.0.Y and libkat.so symlinks to it.
    let real = format!("libkat.so.{VERSION}");
    assert!(std::fs::symlink_metadata(lib.join(&real))
        .expect("versioned library")
        .file_type()
        .is_file());
    assert_eq!(
        std::fs::read_link(lib.join(SONAME)).expect("SONAME symlink"),
        Path::new(&real)
    );
    assert_eq!(
        std::fs::read_link(lib.join("libkat.so")).expect("dev symlink"),
        Path::new(SONAME)
    );
    let dynamic = readelf_d(&lib.join(&real));
    assert!(
        dynamic.contains(&format!("Library soname: [{SONAME}]")),
        "no SONAME {SONAME}:\n{dynamic}"
    );

    // No debug info in what is installed; the archive stays small.
    for f in [real.as_str(), "libkat.a"] {
        let sections = text(
            &ok(
                "readelf -S",
                run(Command::new("readelf").arg("-S").arg("-W").arg(lib.join(f))),
            )
            .stdout,
        );
        assert!(
            sections.contains(".text"),
            "readelf -S {f} printed no sections"
        );
        for debug in [".debug_info", ".debug_line", ".llvmbc"] {
            assert!(!sections.contains(debug), "{f} still has {debug}");
        }
    }
    let size = std::fs::metadata(lib.join("libkat.a"))
        .expect("libkat.a")
        .len();
    assert!(size < 10 << 20, "libkat.a is {size} bytes (limit 10 MiB)");
    println!(
        "installed sizes: libkat.a {size} bytes, {real} {} bytes",
        std::fs::metadata(lib.join(&real)).expect("libkat.so").len()
    );

    // pkg-config: the version, and the system libraries a static link needs
    // (rustc's native-static-libs) as Libs.private.
    assert_eq!(pkg_config(&["--modversion", "kat"]), VERSION);
    let shared = pkg_config(&["--libs", "kat"]);
    assert_eq!(shared, format!("-L{} -lkat", lib.display()));
    let static_libs = pkg_config(&["--static", "--libs", "kat"]);
    for l in ["-lpthread", "-ldl", "-lm"] {
        assert!(
            static_libs.split_whitespace().any(|x| x == l),
            "`pkg-config --static --libs kat` lacks {l}: {static_libs}"
        );
    }
    assert_eq!(
        pkg_config(&["--cflags", "kat"]),
        format!("-I{}", p.join("include").display())
    );
    let cmake = p.join("lib").join("cmake").join("kat");
    assert!(cmake.join("kat-config.cmake").is_file());
    assert!(cmake.join("kat-config-version.cmake").is_file());
}

#[test]
fn destdir_stages_the_tree_under_prefix_for_packagers() {
    let stage = scratch().join("stage");
    // Built first, then installed by a step that never runs cargo (as `sudo
    // … install.sh install` would).
    ok("install.sh build", install_step("build", "/opt/kat", None));
    ok(
        "install.sh install",
        install_step("install", "/opt/kat", Some(&stage)),
    );
    let lib = stage.join("opt/kat/lib");
    assert!(lib.join(format!("libkat.so.{VERSION}")).is_file());
    assert!(lib.join("libkat.a").is_file());
    assert!(stage.join("opt/kat/include/kat.h").is_file());
    // What the files record is PREFIX, never the staging directory.
    let pc = std::fs::read_to_string(lib.join("pkgconfig/kat.pc")).expect("kat.pc");
    assert!(pc.contains("prefix=/opt/kat\n"), "{pc}");
    for f in [
        "pkgconfig/kat.pc",
        "pkgconfig/kat-static.pc",
        "cmake/kat/kat-config.cmake",
        "cmake/kat/kat-config-version.cmake",
    ] {
        let body = std::fs::read_to_string(lib.join(f)).expect("installed file");
        assert!(
            !body.contains(stage.to_str().expect("UTF-8")),
            "{f} records the staging directory:\n{body}"
        );
    }
}

#[test]
fn pkg_config_builds_c_and_cxx_consumers_against_libkat_so() {
    let dir = consumer_dir("pkg-config-shared");
    let flags = pkg_config(&["--cflags", "--libs", "kat"]);
    let rpath = format!("-Wl,-rpath,{}", pkg_config(&["--variable=libdir", "kat"]));
    let c = dir.join("consumer-c");
    compile(
        "gcc",
        "-std=c11",
        &dir.join("consumer.c"),
        &c,
        &flags,
        &[&rpath, "-pthread"],
    );
    check_consumer(&c, true);
    let cxx = dir.join("consumer-cpp");
    compile(
        "g++",
        "-std=c++17",
        &dir.join("consumer.cpp"),
        &cxx,
        &flags,
        &[&rpath],
    );
    check_consumer(&cxx, true);

    // The README's C quick start, compiled with the README's command line.
    std::fs::copy(
        root().join("tests").join("c").join("quickstart.c"),
        dir.join("quickstart.c"),
    )
    .expect("copy quickstart.c");
    let quickstart = dir.join("quickstart");
    compile(
        "gcc",
        "-std=c11",
        &dir.join("quickstart.c"),
        &quickstart,
        &flags,
        &[&rpath],
    );
    let out = ok("quickstart", run(&mut Command::new(&quickstart)));
    assert!(
        text(&out.stdout).starts_with("orders/1: generation 1, assigned\nbilling\n"),
        "quickstart printed {:?}",
        text(&out.stdout)
    );
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    assert!(
        readme.contains(README_COMPILE_LINE),
        "the README's quick start compile line is not the one tested here"
    );
    let source = std::fs::read_to_string(dir.join("quickstart.c")).expect("quickstart.c");
    assert!(
        readme.contains(&format!("```c\n{source}```\n")),
        "the README's C quick start is not tests/c/quickstart.c as it is"
    );
}

/// The compile line of the README's C quick start (what the test above runs).
const README_COMPILE_LINE: &str = "gcc -std=c11 quickstart.c $(pkg-config --cflags --libs kat) \\
    -Wl,-rpath,\"$(pkg-config --variable=libdir kat)\" -o quickstart";

#[test]
fn pkg_config_static_builds_c_and_cxx_consumers_against_libkat_a() {
    let dir = consumer_dir("pkg-config-static");
    let flags = pkg_config(&["--static", "--cflags", "--libs", "kat-static"]);
    assert!(
        flags.contains("libkat.a"),
        "kat-static does not name the archive: {flags}"
    );
    let c = dir.join("consumer-c");
    compile(
        "gcc",
        "-std=c11",
        &dir.join("consumer.c"),
        &c,
        &flags,
        &["-pthread"],
    );
    check_consumer(&c, false);
    let cxx = dir.join("consumer-cpp");
    compile(
        "g++",
        "-std=c++17",
        &dir.join("consumer.cpp"),
        &cxx,
        &flags,
        &[],
    );
    check_consumer(&cxx, false);
}

#[test]
fn cmake_find_package_builds_c_and_cxx_consumers_shared_and_static() {
    if !on_path("cmake") {
        panic!("cmake is not installed (scripts/setup.sh installs it)");
    }
    let dir = consumer_dir("cmake");
    let build = dir.join("build");
    ok(
        "cmake configure",
        run(Command::new("cmake")
            .arg("-S")
            .arg(&dir)
            .arg("-B")
            .arg(&build)
            .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix().display()))
            .arg("-DCMAKE_BUILD_TYPE=Release")),
    );
    let cache = std::fs::read_to_string(build.join("CMakeCache.txt")).expect("CMakeCache.txt");
    assert!(
        cache.contains(&format!(
            "kat_DIR:PATH={}",
            prefix().join("lib/cmake/kat").display()
        )),
        "find_package(kat) did not use the installed package"
    );
    ok(
        "cmake --build",
        run(Command::new("cmake").arg("--build").arg(&build)),
    );
    for (exe, shared) in [
        ("consumer_c_shared", true),
        ("consumer_c_static", false),
        ("consumer_cpp_shared", true),
        ("consumer_cpp_static", false),
    ] {
        check_consumer(&build.join(exe), shared);
    }
}

/// `kat_rdkafka.h` from the prefix with the system librdkafka (Debian's
/// librdkafka-dev), both through pkg-config: a real consumer on librdkafka's
/// mock cluster, its rebalances recorded by `kat_rebalance_cb`.
#[test]
fn pkg_config_builds_a_librdkafka_consumer_with_the_installed_glue() {
    let has_rdkafka = Command::new("pkg-config")
        .args(["--exists", "rdkafka"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_rdkafka,
        "rdkafka.pc not found (scripts/setup.sh installs librdkafka-dev)"
    );
    let dir = consumer_dir("rdkafka");
    std::fs::copy(
        root().join("tests/install/rdkafka_consumer.c"),
        dir.join("rdkafka_consumer.c"),
    )
    .expect("copy rdkafka_consumer.c");
    let flags = pkg_config(&["--cflags", "--libs", "kat", "rdkafka"]);
    let rpath = format!("-Wl,-rpath,{}", prefix().join("lib").display());
    let exe = dir.join("rdkafka-consumer");
    compile(
        "gcc",
        "-std=c11",
        &dir.join("rdkafka_consumer.c"),
        &exe,
        &flags,
        &[&rpath],
    );
    assert!(needed(&exe).iter().any(|n| n == SONAME));
    let out = ok("rdkafka_consumer", run(&mut Command::new(&exe)));
    assert_eq!(text(&out.stdout), "assigned 4, after close 0\n");
}

/// The global tracker is clean under memcheck as users run it: no
/// suppression file, "possibly lost" counted as an error.
#[test]
fn plain_valgrind_is_clean_for_a_program_using_the_global_tracker() {
    if !on_path("valgrind") {
        panic!("valgrind is not installed (scripts/setup.sh installs it)");
    }
    let dir = consumer_dir("valgrind");
    let shared = dir.join("consumer-shared");
    let flags = pkg_config(&["--cflags", "--libs", "kat"]);
    let rpath = format!("-Wl,-rpath,{}", prefix().join("lib").display());
    compile(
        "gcc",
        "-std=c11",
        &dir.join("consumer.c"),
        &shared,
        &flags,
        &[&rpath, "-pthread"],
    );
    let static_flags = pkg_config(&["--static", "--cflags", "--libs", "kat-static"]);
    let fixed = dir.join("consumer-static");
    compile(
        "gcc",
        "-std=c11",
        &dir.join("consumer.c"),
        &fixed,
        &static_flags,
        &["-pthread"],
    );
    for exe in [&shared, &fixed] {
        let out = run(Command::new("valgrind")
            .args(["--leak-check=full", "--error-exitcode=1"])
            .arg(exe));
        let report = text(&out.stderr);
        assert!(
            out.status.success(),
            "valgrind {} failed ({}):\n{report}",
            exe.display(),
            out.status
        );
        assert!(
            report.contains("ERROR SUMMARY: 0 errors"),
            "valgrind {}:\n{report}",
            exe.display()
        );
        assert!(
            !report.contains("possibly lost: ") || report.contains("possibly lost: 0 bytes"),
            "valgrind {} reports possibly lost blocks:\n{report}",
            exe.display()
        );
        assert_eq!(text(&out.stdout), expected_output());
    }
}
