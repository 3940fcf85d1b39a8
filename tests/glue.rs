//! The header-only librdkafka glue, `include/kat_rdkafka.h`, proven from C
//! with real consumers on librdkafka's mock cluster.
//!
//! `tests/glue/consumers.c` is compiled with gcc (c11, and c99 for syntax)
//! and g++ (c++17), all with `-Wall -Wextra -Werror -pedantic`, and linked
//! to a libkat built here *without* the `rdkafka` feature: libkat must work
//! with whatever librdkafka the application brings and never link its own.
//! It runs against:
//! - Debian's librdkafka 2.0.2 (`librdkafka-dev`, installed by
//!   `scripts/setup.sh`): eager and cooperative-sticky, the three ways of
//!   calling the glue, both losses and the edge cases, linked to `libkat.so`
//!   and to `libkat.a`, and under valgrind;
//! - with `--features rdkafka`, the librdkafka 2.12.1 that rdkafka-sys
//!   builds (`KAT_RDKAFKA_ROOT`): the same plus KIP-848
//!   (`group.protocol=consumer`) and its fencing loss.
//!
//! Each program checks itself (see the comment at its top) and prints
//! `PASS <scenario> <protocol> <api>`; this driver compiles, runs with a
//! deadline, and asserts on the exit status and the output.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// A program that has not finished by then is killed and fails its test.
const DEADLINE: Duration = Duration::from_secs(60);
/// Valgrind runs librdkafka's threads serially and several times slower.
const VALGRIND_DEADLINE: Duration = Duration::from_secs(120);

/// The cargo target directory this test binary was built into.
fn target_root() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // <target>/<profile>/deps/glue-<hash>
    exe.ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "deps"))
        .and_then(|deps| deps.parent())
        .and_then(|profile| profile.parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new(MANIFEST_DIR).join("target"))
}

fn work_dir() -> PathBuf {
    let dir = target_root().join("glue");
    std::fs::create_dir_all(&dir).expect("create the glue work directory");
    dir
}

/// libkat built without any feature, in its own target directory (so that
/// neither build overwrites the other's `libkat.so`). Returns the directory
/// holding `libkat.so` and `libkat.a`.
fn libkat_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = target_root().join("glue-libkat");
        let output = Command::new(env!("CARGO"))
            .args(["build", "--lib", "--quiet", "--manifest-path"])
            .arg(Path::new(MANIFEST_DIR).join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .expect("run cargo build");
        assert!(
            output.status.success(),
            "cargo build --lib (no features) failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let dir = target.join("debug");
        for lib in ["libkat.so", "libkat.a"] {
            assert!(dir.join(lib).exists(), "{lib} missing in {}", dir.display());
        }
        dir
    })
}

/// Which librdkafka a program is built against.
#[derive(Clone, Copy)]
enum Rdkafka {
    /// Debian's, from /usr/include and -lrdkafka.
    System,
    /// The static one rdkafka-sys built (the `rdkafka` feature).
    #[cfg(feature = "rdkafka")]
    Bundled,
}

#[derive(Clone, Copy, PartialEq)]
enum Lang {
    C11,
    Cxx17,
}

#[derive(Clone, Copy, PartialEq)]
enum Libkat {
    Shared,
    Static,
}

const WARNINGS: [&str; 4] = ["-Wall", "-Wextra", "-Werror", "-pedantic"];

#[cfg(feature = "rdkafka")]
fn bundled_root() -> PathBuf {
    option_env!("KAT_RDKAFKA_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("KAT_RDKAFKA_ROOT").map(PathBuf::from))
        .expect(
            "KAT_RDKAFKA_ROOT is not set: build.rs must pass rdkafka-sys's DEP_RDKAFKA_ROOT on \
             (cargo:rustc-env=KAT_RDKAFKA_ROOT=...)",
        )
}

/// Include flags and libraries for one librdkafka.
fn rdkafka_flags(rdkafka: Rdkafka) -> (Vec<String>, Vec<String>) {
    match rdkafka {
        Rdkafka::System => {
            assert!(
                Path::new("/usr/include/librdkafka/rdkafka.h").exists(),
                "Debian's librdkafka-dev is missing (scripts/setup.sh installs it)"
            );
            (vec![], vec!["-lrdkafka".into(), "-lpthread".into()])
        }
        #[cfg(feature = "rdkafka")]
        Rdkafka::Bundled => {
            let root = bundled_root();
            let src = root.join("src");
            assert!(
                src.join("rdkafka.h").exists(),
                "no rdkafka.h in {}",
                src.display()
            );
            // <librdkafka/rdkafka.h> resolves through a `librdkafka` link.
            let include = work_dir().join("bundled-include");
            std::fs::create_dir_all(&include).expect("create include dir");
            let link = include.join("librdkafka");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&src, &link).expect("symlink librdkafka headers");
            let mut libs = vec![src.join("librdkafka.a").display().to_string()];
            libs.extend(bundled_link_libs(&root));
            (vec!["-isystem".into(), include.display().to_string()], libs)
        }
    }
}

/// The system libraries the bundled static librdkafka needs, as its
/// configure script recorded them (`LIBS+=` lines of Makefile.config).
#[cfg(feature = "rdkafka")]
fn bundled_link_libs(root: &Path) -> Vec<String> {
    let config = std::fs::read_to_string(root.join("Makefile.config"))
        .expect("Makefile.config of the bundled librdkafka");
    let mut libs: Vec<String> = Vec::new();
    for line in config.lines() {
        if let Some(rest) = line.strip_prefix("LIBS+=") {
            for lib in rest.split_whitespace() {
                if !libs.iter().any(|l| l == lib) {
                    libs.push(lib.to_string());
                }
            }
        }
    }
    assert!(!libs.is_empty(), "no LIBS+= line in Makefile.config");
    libs
}

/// Compiles `tests/glue/consumers.c` and returns the executable.
fn build(name: &str, rdkafka: Rdkafka, lang: Lang, libkat: Libkat) -> PathBuf {
    build_source("consumers.c", name, rdkafka, lang, libkat, &[])
}

/// Compiles one program of `tests/glue` with extra compiler flags.
fn build_source(
    source: &str,
    name: &str,
    rdkafka: Rdkafka,
    lang: Lang,
    libkat: Libkat,
    extra: &[&str],
) -> PathBuf {
    let libdir = libkat_dir();
    let out = work_dir().join(name);
    let (includes, rdkafka_libs) = rdkafka_flags(rdkafka);
    let mut cmd = match lang {
        Lang::C11 => {
            let mut c = Command::new("gcc");
            c.arg("-std=c11");
            c
        }
        Lang::Cxx17 => {
            let mut c = Command::new("g++");
            c.args(["-std=c++17", "-x", "c++"]);
            c
        }
    };
    cmd.args(WARNINGS)
        .arg("-g")
        .arg("-I")
        .arg(Path::new(MANIFEST_DIR).join("include"))
        .args(&includes)
        .args(extra)
        .arg(Path::new(MANIFEST_DIR).join("tests/glue").join(source));
    if lang == Lang::Cxx17 {
        cmd.args(["-x", "none"]);
    }
    cmd.arg("-o").arg(&out);
    match libkat {
        Libkat::Shared => {
            cmd.arg(format!("-L{}", libdir.display()))
                .arg("-lkat")
                .arg(format!("-Wl,-rpath,{}", libdir.display()));
        }
        Libkat::Static => {
            cmd.arg(libdir.join("libkat.a"));
        }
    }
    cmd.args(&rdkafka_libs);
    if libkat == Libkat::Static {
        // What rustc reports as a staticlib's native dependencies.
        cmd.args(["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl"]);
    }
    let output = cmd.output().expect("run the compiler");
    assert!(
        output.status.success(),
        "compiling {name} failed: {cmd:?}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

struct Run {
    args: String,
    stdout: String,
}

/// Runs a program to completion or kills it at the deadline; panics with its
/// output unless it exited 0 and printed PASS for its arguments.
fn run(exe: &Path, args: &str, valgrind: bool) -> Run {
    let argv: Vec<&str> = args.split_whitespace().collect();
    let mut cmd = if valgrind {
        let mut c = Command::new("valgrind");
        c.args([
            "-q",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--show-leak-kinds=definite",
            "--error-exitcode=99",
        ])
        .arg(format!(
            "--suppressions={MANIFEST_DIR}/tests/glue/valgrind.supp"
        ))
        .arg(exe);
        c
    } else {
        Command::new(exe)
    };
    if valgrind {
        // Under valgrind a 3 s session can expire before the first join.
        cmd.env("KAT_GLUE_SESSION_MS", "6000");
    }
    // cargo test puts the native link directories of dependencies on
    // LD_LIBRARY_PATH, which holds the bundled librdkafka.so.1 with the
    // `rdkafka` feature: the programs find libkat by rpath and Debian's
    // librdkafka in the system directories, never through it.
    cmd.env_remove("LD_LIBRARY_PATH");
    // Sanitized builds: leaks and undefined behaviour fail the run.
    cmd.env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1");
    let mut child = cmd
        .args(&argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the program");
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let deadline = if valgrind {
        VALGRIND_DEADLINE
    } else {
        DEADLINE
    };
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the program") {
            break Some(status);
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(20));
    };
    let stdout = out_reader.join().expect("stdout reader");
    let stderr = err_reader.join().expect("stderr reader");
    let name = exe.file_name().unwrap_or_default().to_string_lossy();
    let what = format!("{}{name} {args}", if valgrind { "valgrind " } else { "" });
    match status {
        None => panic!("{what}: killed after {deadline:?}\n{stdout}\n{stderr}"),
        Some(status) => assert!(
            status.success(),
            "{what}: {status}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        ),
    }
    let pass = format!("PASS {}", argv.join(" "));
    assert!(stdout.contains(&pass), "{what}: no `{pass}` line\n{stdout}");
    Run {
        args: args.to_string(),
        stdout,
    }
}

/// Runs programs concurrently (they mostly wait on the mock's rebalance
/// rounds), at most `parallel` at a time; panics with every failure.
fn run_all(jobs: &[(&Path, &str)], valgrind: bool, parallel: usize) -> Vec<Run> {
    let mut runs = Vec::new();
    let mut failures = Vec::new();
    for chunk in jobs.chunks(parallel) {
        let handles: Vec<_> = chunk
            .iter()
            .map(|&(exe, args)| {
                let exe = exe.to_path_buf();
                let args = args.to_string();
                thread::spawn(move || run(&exe, &args, valgrind))
            })
            .collect();
        for handle in handles {
            match handle.join() {
                Ok(run) => runs.push(run),
                Err(panic) => failures.push(
                    panic
                        .downcast_ref::<String>()
                        .cloned()
                        .unwrap_or_else(|| "a program panicked".into()),
                ),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    runs
}

/// `key=<n>` from the `summary <consumer>` line of a run.
fn summary(run: &Run, consumer: &str, key: &str) -> u64 {
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains(&format!("summary {consumer} ")))
        .unwrap_or_else(|| panic!("{}: no summary for {consumer}\n{}", run.args, run.stdout));
    line.split_whitespace()
        .find_map(|field| field.strip_prefix(&format!("{key}=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}: no {key} in `{line}`", run.args))
}

/// What every scenario must have shown beyond its own PASS.
fn assert_scenario(run: &Run) {
    let args: Vec<&str> = run.args.split_whitespace().collect();
    let (scenario, protocol, api) = (args[0], args[1], args[2]);
    let counted = api != "cb";
    if scenario != "edge" {
        // Glue failures counted per group: only the refused assign the
        // program makes on purpose (own callback, cooperative).
        let refused = u64::from(api == "own" && protocol != "range");
        assert_eq!(
            summary(run, "A", "glue_failures"),
            refused,
            "{}",
            run.stdout
        );
    }
    match scenario {
        "join-leave" => {
            // Both consumers' rebalances reached kat: A was assigned at least
            // on joining, on B joining and on B leaving; B once.
            assert!(
                summary(run, "A", "kat_assigned_events") >= 2,
                "{}",
                run.stdout
            );
            assert!(
                summary(run, "A", "kat_revoked_events") >= 2,
                "{}",
                run.stdout
            );
            assert!(
                summary(run, "B", "kat_assigned_events") >= 1,
                "{}",
                run.stdout
            );
            assert!(
                summary(run, "B", "kat_revoked_events") >= 1,
                "{}",
                run.stdout
            );
            assert_eq!(summary(run, "A", "kat_lost_events"), 0, "{}", run.stdout);
            if counted {
                assert!(summary(run, "A", "assigns") >= 2, "{}", run.stdout);
                assert!(summary(run, "B", "revokes") >= 1, "{}", run.stdout);
            }
            if api == "event" {
                assert!(summary(run, "A", "refused_events") >= 1, "{}", run.stdout);
            }
            if api == "own" && protocol != "range" {
                assert!(
                    run.stdout.contains(
                        "refused assign: kat_rebalance: rd_kafka_incremental_assign failed"
                    ),
                    "{}",
                    run.stdout
                );
            }
        }
        "lost-error" | "lost-poll" => {
            assert!(summary(run, "A", "kat_lost_events") >= 1, "{}", run.stdout);
            if counted {
                assert!(summary(run, "A", "lost") >= 1, "{}", run.stdout);
            }
            if scenario == "lost-poll" {
                assert!(
                    run.stdout.contains("kat_check_lost recorded the loss"),
                    "{}",
                    run.stdout
                );
            }
        }
        "edge" => {
            assert!(
                run.stdout.contains(
                    "librdkafka refused the assign call: kat_rebalance: rd_kafka_assign failed"
                ),
                "{}",
                run.stdout
            );
            assert!(
                run.stdout.contains("glue failures counted: 6"),
                "{}",
                run.stdout
            );
        }
        "close-queue" => {
            assert!(
                run.stdout
                    .contains("A closed through kat_consumer_close_queue"),
                "{}",
                run.stdout
            );
            assert!(
                summary(run, "A", "kat_revoked_events") >= 1,
                "{}",
                run.stdout
            );
        }
        "close-plain" => {
            // With the event API the plain close left kat stale, and
            // kat_after_close() recorded a reset; with a callback the final
            // revoke went through the glue and nothing was left.
            let marker = if api == "event" {
                "kat_after_close recorded the stale partitions [0,1,2,3] as reset"
            } else {
                "kat_after_close found nothing stale"
            };
            assert!(run.stdout.contains(marker), "{}", run.stdout);
        }
        other => panic!("unknown scenario {other}"),
    }
}

/// The suites that run many programs take turns: contention for the two
/// cores would stretch the mock's rebalance rounds past their deadlines.
fn heavy_turn() -> MutexGuard<'static, ()> {
    static HEAVY: Mutex<()> = Mutex::new(());
    HEAVY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn have_valgrind() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn libkat_built_for_c_never_links_librdkafka() {
    let so = libkat_dir().join("libkat.so");
    let needed = Command::new("readelf")
        .arg("-d")
        .arg(&so)
        .output()
        .expect("readelf (binutils)");
    assert!(needed.status.success());
    let needed = String::from_utf8_lossy(&needed.stdout);
    assert!(needed.contains("(NEEDED)"), "{needed}");
    assert!(
        !needed.contains("librdkafka"),
        "libkat.so needs librdkafka:\n{needed}"
    );

    let symbols = Command::new("nm")
        .args(["-D"])
        .arg(&so)
        .output()
        .expect("nm (binutils)");
    assert!(symbols.status.success());
    let symbols = String::from_utf8_lossy(&symbols.stdout);
    assert!(
        symbols.contains(" T kat_group_assigned"),
        "kat's exports missing"
    );
    let rd: Vec<&str> = symbols.lines().filter(|l| l.contains("rd_kafka")).collect();
    assert!(rd.is_empty(), "libkat.so references librdkafka: {rd:?}");
}

#[test]
fn header_stands_alone_in_c99_c11_and_cxx17() {
    let include = Path::new(MANIFEST_DIR).join("include");
    let consumers = Path::new(MANIFEST_DIR).join("tests/glue/consumers.c");
    let alone = work_dir().join("header_alone.c");
    // Only the glue header: it must bring everything it needs, twice over.
    std::fs::write(
        &alone,
        "#include \"kat_rdkafka.h\"\n#include \"kat_rdkafka.h\"\n\
         void use_glue(rd_kafka_conf_t *conf, kat_group_t *group);\n\
         void use_glue(rd_kafka_conf_t *conf, kat_group_t *group) {\n\
           rd_kafka_conf_set_rebalance_cb(conf, kat_rebalance_cb);\n\
           rd_kafka_conf_set_opaque(conf, group);\n\
         }\n",
    )
    .expect("write header_alone.c");
    let compilers: [(&str, &[&str]); 4] = [
        ("gcc", &["-std=c99"]),
        ("gcc", &["-std=c11"]),
        ("g++", &["-std=c++17", "-x", "c++"]),
        ("g++", &["-std=c++11", "-x", "c++"]),
    ];
    for (compiler, std) in compilers {
        for source in [&alone, &consumers] {
            let output = Command::new(compiler)
                .args(std)
                .args(WARNINGS)
                .arg("-fsyntax-only")
                .arg("-I")
                .arg(&include)
                .arg(source)
                .output()
                .expect("run the compiler");
            assert!(
                output.status.success(),
                "{compiler} {std:?} {}:\n{}",
                source.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

/// Debian's librdkafka 2.0.2, which libkat was not built with: eager and
/// cooperative-sticky, every api, both losses, and the edge cases; through
/// libkat.so, libkat.a and a C++ build of the same program.
#[test]
fn debian_librdkafka_2_0_2() {
    let _turn = heavy_turn();
    let shared = build("consumers-202", Rdkafka::System, Lang::C11, Libkat::Shared);
    let static_ = build(
        "consumers-202-static",
        Rdkafka::System,
        Lang::C11,
        Libkat::Static,
    );
    let cxx = build(
        "consumers-202-cxx",
        Rdkafka::System,
        Lang::Cxx17,
        Libkat::Shared,
    );
    let jobs: Vec<(&Path, &str)> = vec![
        (&shared, "join-leave range own"),
        (&shared, "join-leave cooperative-sticky event"),
        (&static_, "join-leave range event"),
        (&static_, "join-leave cooperative-sticky own"),
        (&cxx, "join-leave range cb"),
        (&cxx, "join-leave cooperative-sticky cb"),
        (&shared, "lost-error range own"),
        (&shared, "lost-error cooperative-sticky event"),
        (&static_, "lost-poll range cb"),
        (&shared, "lost-poll cooperative-sticky own"),
        (&shared, "edge range own"),
        (&shared, "close-queue range event"),
        (&static_, "close-queue cooperative-sticky event"),
        (&shared, "close-plain range event"),
        (&cxx, "close-plain cooperative-sticky event"),
        (&shared, "close-plain cooperative-sticky cb"),
    ];
    for run in run_all(&jobs, false, jobs.len()) {
        assert!(run.stdout.contains("librdkafka 2.0.2"), "{}", run.stdout);
        assert_scenario(&run);
    }
}

/// The same programs on Debian's librdkafka under valgrind's memcheck: no
/// invalid access, no definite leak (`tests/glue/valgrind.supp` holds the
/// one report that is librdkafka's own, with its justification).
#[test]
fn debian_librdkafka_2_0_2_under_valgrind() {
    let _turn = heavy_turn();
    if !have_valgrind() {
        eprintln!("valgrind is not installed (scripts/setup.sh installs it): skipped");
        return;
    }
    let exe = build(
        "consumers-202-vg",
        Rdkafka::System,
        Lang::C11,
        Libkat::Shared,
    );
    let jobs: Vec<(&Path, &str)> = vec![
        (&exe, "join-leave range own"),
        (&exe, "join-leave cooperative-sticky event"),
        (&exe, "lost-poll cooperative-sticky cb"),
        (&exe, "edge range own"),
        (&exe, "close-queue cooperative-sticky event"),
        (&exe, "close-plain range event"),
    ];
    for run in run_all(&jobs, true, 2) {
        assert!(run.stdout.contains("librdkafka 2.0.2"), "{}", run.stdout);
        assert_scenario(&run);
    }
}

/// The librdkafka 2.12.1 that rdkafka-sys bundles: eager, cooperative-sticky
/// and KIP-848, every api, the losses (ILLEGAL_GENERATION, max.poll.interval
/// and KIP-848 fencing) and the edge cases.
#[cfg(feature = "rdkafka")]
#[test]
fn bundled_librdkafka_2_12_1() {
    let _turn = heavy_turn();
    let c = build("consumers-212", Rdkafka::Bundled, Lang::C11, Libkat::Shared);
    let cxx = build(
        "consumers-212-cxx",
        Rdkafka::Bundled,
        Lang::Cxx17,
        Libkat::Static,
    );
    let mut jobs: Vec<(&Path, String)> = Vec::new();
    for protocol in ["range", "cooperative-sticky", "consumer"] {
        for api in ["cb", "own", "event"] {
            jobs.push((&c, format!("join-leave {protocol} {api}")));
        }
    }
    for args in [
        "lost-error range own",
        "lost-error cooperative-sticky event",
        "lost-error consumer own",
        "lost-poll range own",
        "lost-poll cooperative-sticky cb",
        "lost-poll consumer event",
        "edge range own",
        "close-queue range event",
        "close-queue cooperative-sticky event",
        "close-queue consumer event",
        "close-plain range event",
        "close-plain cooperative-sticky event",
        "close-plain consumer event",
        "close-plain consumer cb",
    ] {
        jobs.push((&c, args.to_string()));
    }
    jobs.push((&cxx, "join-leave consumer own".to_string()));
    jobs.push((&cxx, "lost-error consumer event".to_string()));
    let jobs: Vec<(&Path, &str)> = jobs.iter().map(|(e, a)| (*e, a.as_str())).collect();
    for run in run_all(&jobs, false, 6) {
        assert!(run.stdout.contains("librdkafka 2.12.1"), "{}", run.stdout);
        assert_scenario(&run);
    }
}

/// Compiles `tests/glue/cpp_consumer.cpp` (g++, c++17, kat.hpp with
/// librdkafka included first) against Debian's librdkafka and libkat.so.
fn build_cpp_consumer(name: &str) -> PathBuf {
    let libdir = libkat_dir();
    let out = work_dir().join(name);
    let (includes, rdkafka_libs) = rdkafka_flags(Rdkafka::System);
    let mut cmd = Command::new("g++");
    cmd.arg("-std=c++17")
        .args(WARNINGS)
        .arg("-g")
        .arg("-I")
        .arg(Path::new(MANIFEST_DIR).join("include"))
        .arg("-I")
        .arg(Path::new(MANIFEST_DIR).join("bindings/cpp"))
        .args(&includes)
        .arg(Path::new(MANIFEST_DIR).join("tests/glue/cpp_consumer.cpp"))
        .arg("-o")
        .arg(&out)
        .arg(format!("-L{}", libdir.display()))
        .arg("-lkat")
        .arg(format!("-Wl,-rpath,{}", libdir.display()))
        .args(&rdkafka_libs);
    let output = cmd.output().expect("run the compiler");
    assert!(
        output.status.success(),
        "compiling {name} failed: {cmd:?}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// kat.hpp's librdkafka path (`kat::rebalance_cb`, `kat::rebalance`,
/// `kat::rebalance_event`, `kat::check_lost`) with two real consumers in one
/// group on Debian's librdkafka 2.0.2, eager and cooperative-sticky, B with
/// its own callback or on the event API, plainly and under valgrind:
/// `tests/glue/cpp_consumer.cpp` checks kat against rd_kafka_assignment()
/// after every poll and at each stable state, B's generations against the
/// rebalances it saw, the close of each consumer and a loss recorded by
/// `kat::check_lost` before its revoke.
#[test]
fn cpp_wrapper_consumers_on_debian_librdkafka_2_0_2() {
    let _turn = heavy_turn();
    let exe = build_cpp_consumer("cpp-consumer-202");
    let jobs: Vec<(&Path, &str)> = vec![
        (&exe, "range"),
        (&exe, "cooperative-sticky"),
        (&exe, "range event"),
        (&exe, "cooperative-sticky event"),
    ];
    let valgrind_jobs: Vec<(&Path, &str)> =
        vec![(&exe, "range"), (&exe, "cooperative-sticky event")];
    // The programs mostly wait on the mock's rounds: the plain and the
    // valgrind runs share the cores without stretching them much.
    let runs: Vec<Run> = thread::scope(|scope| {
        let valgrind = scope.spawn(|| {
            if have_valgrind() {
                run_all(&valgrind_jobs, true, 2)
            } else {
                eprintln!("valgrind is not installed (scripts/setup.sh installs it): skipped");
                Vec::new()
            }
        });
        let mut runs = run_all(&jobs, false, jobs.len());
        runs.extend(valgrind.join().expect("valgrind runs"));
        runs
    });
    for run in &runs {
        let out = &run.stdout;
        assert!(out.contains("librdkafka 2.0.2"), "{out}");
        assert!(
            out.contains("kat-cpp/A kat::check_lost recorded the loss of [0,1,2,3]"),
            "{out}"
        );
        // A (kat::rebalance_cb): assigned alone, again when B left, again
        // after its loss; each assignment of a partition was seen.
        assert!(
            summary(run, "kat-cpp/A", "kat_assigned_events") >= 3,
            "{out}"
        );
        assert!(summary(run, "kat-cpp/A", "kat_lost_events") >= 1, "{out}");
        assert!(summary(run, "kat-cpp/A", "gains_seen") >= 9, "{out}");
        // B (kat::rebalance in its own callback, or kat::rebalance_event):
        // assigned, then revoked by its close, never lost.
        assert!(summary(run, "kat-cpp/B", "assigns") >= 1, "{out}");
        assert!(summary(run, "kat-cpp/B", "revokes") >= 1, "{out}");
        assert!(
            summary(run, "kat-cpp/B", "kat_assigned_events") >= 1,
            "{out}"
        );
        assert!(
            summary(run, "kat-cpp/B", "kat_revoked_events") >= 1,
            "{out}"
        );
        assert_eq!(summary(run, "kat-cpp/B", "kat_lost_events"), 0, "{out}");
    }
    let valgrind_runs = if have_valgrind() { 2 } else { 0 };
    assert_eq!(runs.len(), jobs.len() + valgrind_runs);
}

// ---- ownership that ends on time (tests/glue/ownership.c) ------------------

const SANITIZE: &[&str] = &["-fsanitize=address,undefined", "-fno-omit-frame-pointer"];

/// The checks of an `ownership expiry` run beyond its PASS line: one expiry,
/// the lost revoke counted once, and the reader saw it within 50 ms after
/// the deadline (the program itself asserts the order of the timestamps).
fn assert_expiry(run: &Run, timed: bool) {
    assert_eq!(summary(run, "expiry", "expirations"), 1, "{}", run.stdout);
    assert_eq!(summary(run, "expiry", "lost_events"), 1, "{}", run.stdout);
    if timed {
        let delay = summary(run, "expiry", "expiry_delay_us");
        assert!(
            delay < 50_000,
            "expiry seen {delay} us after the deadline\n{}",
            run.stdout
        );
    }
}

/// A consumer whose poll loop stops, on Debian's librdkafka 2.0.2, eager and
/// cooperative-sticky: kat expires its partitions after
/// `max.poll.interval.ms`, before the other member is assigned them and
/// before it polls again; plainly and under ASan/UBSan.
#[test]
fn poll_deadline_expiry_on_debian_librdkafka_2_0_2() {
    let _turn = heavy_turn();
    let plain = build_source(
        "ownership.c",
        "ownership-202",
        Rdkafka::System,
        Lang::C11,
        Libkat::Shared,
        &[],
    );
    let san = build_source(
        "ownership.c",
        "ownership-202-san",
        Rdkafka::System,
        Lang::C11,
        Libkat::Shared,
        SANITIZE,
    );
    let jobs: Vec<(&Path, &str)> = vec![
        (&plain, "expiry range"),
        (&plain, "expiry cooperative-sticky"),
        (&san, "expiry range"),
        (&san, "expiry cooperative-sticky"),
    ];
    for run in run_all(&jobs, false, 2) {
        assert!(run.stdout.contains("librdkafka 2.0.2"), "{}", run.stdout);
        assert_expiry(&run, true);
    }
}

/// Fencing tokens on Debian's librdkafka 2.0.2, which has no
/// `rd_kafka_consumer_group_metadata_generation_id`: the glue compiles
/// without it and records the broker generation as 0 (unknown), with the
/// member id; plainly and under ASan/UBSan.
#[test]
fn fencing_token_on_debian_librdkafka_2_0_2() {
    let _turn = heavy_turn();
    let plain = build_source(
        "ownership.c",
        "ownership-202",
        Rdkafka::System,
        Lang::C11,
        Libkat::Shared,
        &[],
    );
    let san = build_source(
        "ownership.c",
        "ownership-202-san",
        Rdkafka::System,
        Lang::C11,
        Libkat::Shared,
        SANITIZE,
    );
    let jobs: Vec<(&Path, &str)> =
        vec![(&plain, "token range"), (&san, "token cooperative-sticky")];
    for run in run_all(&jobs, false, 2) {
        assert!(run.stdout.contains("librdkafka 2.0.2"), "{}", run.stdout);
        assert_eq!(summary(&run, "token", "first"), 0, "{}", run.stdout);
        assert_eq!(summary(&run, "token", "second"), 0, "{}", run.stdout);
    }
}

/// Fencing tokens on the bundled librdkafka 2.12.1: the token's broker
/// generation is librdkafka's group generation (eager, cooperative-sticky)
/// or member epoch (KIP-848), and it moves forward with the rebalance that
/// a second member's join causes.
#[cfg(feature = "rdkafka")]
#[test]
fn fencing_token_on_bundled_librdkafka_2_12_1() {
    let _turn = heavy_turn();
    let exe = build_source(
        "ownership.c",
        "ownership-212",
        Rdkafka::Bundled,
        Lang::C11,
        Libkat::Shared,
        &[],
    );
    let jobs: Vec<(&Path, &str)> = vec![
        (&exe, "token range"),
        (&exe, "token cooperative-sticky"),
        (&exe, "token consumer"),
    ];
    for run in run_all(&jobs, false, 3) {
        assert!(run.stdout.contains("librdkafka 2.12.1"), "{}", run.stdout);
        let (first, second) = (
            summary(&run, "token", "first"),
            summary(&run, "token", "second"),
        );
        assert!(first > 0 && second > first, "{}", run.stdout);
    }
}

/// The expiry scenario under valgrind's memcheck (no timing checked: valgrind
/// serialises threads).
#[test]
fn poll_deadline_expiry_on_debian_librdkafka_2_0_2_under_valgrind() {
    let _turn = heavy_turn();
    if !have_valgrind() {
        eprintln!("valgrind is not installed (scripts/setup.sh installs it): skipped");
        return;
    }
    let exe = build_source(
        "ownership.c",
        "ownership-202-vg",
        Rdkafka::System,
        Lang::C11,
        Libkat::Shared,
        &[],
    );
    let jobs: Vec<(&Path, &str)> = vec![(&exe, "expiry cooperative-sticky"), (&exe, "token range")];
    for run in run_all(&jobs, true, 2) {
        if run.args.starts_with("expiry") {
            assert_expiry(&run, false);
        }
    }
}

/// The expiry scenario on the bundled librdkafka 2.12.1: eager,
/// cooperative-sticky and KIP-848.
#[cfg(feature = "rdkafka")]
#[test]
fn poll_deadline_expiry_on_bundled_librdkafka_2_12_1() {
    let _turn = heavy_turn();
    let exe = build_source(
        "ownership.c",
        "ownership-212",
        Rdkafka::Bundled,
        Lang::C11,
        Libkat::Shared,
        &[],
    );
    let jobs: Vec<(&Path, &str)> = vec![
        (&exe, "expiry range"),
        (&exe, "expiry cooperative-sticky"),
        (&exe, "expiry consumer"),
    ];
    for run in run_all(&jobs, false, 3) {
        assert!(run.stdout.contains("librdkafka 2.12.1"), "{}", run.stdout);
        assert_expiry(&run, true);
    }
}

/// The drain barrier with real consumers: a worker holds a lease on each of
/// A's partitions for 500 ms into their revoke; the program checks that the
/// unassign call and B's assignment come after the release (drain) or that
/// the timeout reports the held leases (drain-deadline).
fn assert_drain(run: &Run) {
    assert!(summary(run, "drain", "released") >= 1, "{}", run.stdout);
    assert!(summary(run, "drain", "drains") >= 1, "{}", run.stdout);
    if run.args.starts_with("drain-deadline") {
        assert!(summary(run, "drain", "held_total") >= 1, "{}", run.stdout);
    } else {
        assert_eq!(summary(run, "drain", "timeouts"), 0, "{}", run.stdout);
    }
}

/// Eager and cooperative-sticky revokes with leases held, on Debian's
/// librdkafka 2.0.2: plainly, under ASan/UBSan and under valgrind.
#[test]
fn drain_barrier_on_debian_librdkafka_2_0_2() {
    let _turn = heavy_turn();
    let plain = build_source(
        "ownership.c",
        "ownership-202",
        Rdkafka::System,
        Lang::C11,
        Libkat::Shared,
        &[],
    );
    let san = build_source(
        "ownership.c",
        "ownership-202-san",
        Rdkafka::System,
        Lang::C11,
        Libkat::Shared,
        SANITIZE,
    );
    let jobs: Vec<(&Path, &str)> = vec![
        (&plain, "drain range"),
        (&plain, "drain cooperative-sticky"),
        (&plain, "drain-deadline cooperative-sticky"),
        (&san, "drain range"),
        (&san, "drain-deadline range"),
    ];
    for run in run_all(&jobs, false, 3) {
        assert!(run.stdout.contains("librdkafka 2.0.2"), "{}", run.stdout);
        assert_drain(&run);
    }
    if have_valgrind() {
        let vg = build_source(
            "ownership.c",
            "ownership-202-vg",
            Rdkafka::System,
            Lang::C11,
            Libkat::Shared,
            &[],
        );
        for run in run_all(&[(&vg, "drain cooperative-sticky")], true, 1) {
            assert_drain(&run);
        }
    }
}

/// The drain barrier on the bundled librdkafka 2.12.1: eager,
/// cooperative-sticky and KIP-848.
#[cfg(feature = "rdkafka")]
#[test]
fn drain_barrier_on_bundled_librdkafka_2_12_1() {
    let _turn = heavy_turn();
    let exe = build_source(
        "ownership.c",
        "ownership-212",
        Rdkafka::Bundled,
        Lang::C11,
        Libkat::Shared,
        &[],
    );
    let jobs: Vec<(&Path, &str)> = vec![
        (&exe, "drain range"),
        (&exe, "drain cooperative-sticky"),
        (&exe, "drain consumer"),
        (&exe, "drain-deadline consumer"),
    ];
    for run in run_all(&jobs, false, 4) {
        assert!(run.stdout.contains("librdkafka 2.12.1"), "{}", run.stdout);
        assert_drain(&run);
    }
}

/// The commit guard with real consumers: after B takes some of A's
/// partitions, A's offsets for them are removed before the commit and the
/// broker's committed offsets for them stay as they were (checked with
/// `rd_kafka_committed` inside the program); on 2.0.2 plainly, under
/// ASan/UBSan and valgrind, and on the bundled 2.12.1 with KIP-848.
#[test]
fn commit_guard_on_debian_librdkafka_2_0_2() {
    let _turn = heavy_turn();
    let plain = build_source(
        "ownership.c",
        "ownership-202",
        Rdkafka::System,
        Lang::C11,
        Libkat::Shared,
        &[],
    );
    let san = build_source(
        "ownership.c",
        "ownership-202-san",
        Rdkafka::System,
        Lang::C11,
        Libkat::Shared,
        SANITIZE,
    );
    let jobs: Vec<(&Path, &str)> =
        vec![(&plain, "guard range"), (&san, "guard cooperative-sticky")];
    for run in run_all(&jobs, false, 2) {
        assert!(run.stdout.contains("librdkafka 2.0.2"), "{}", run.stdout);
        assert!(summary(&run, "guard", "removed") >= 1, "{}", run.stdout);
    }
    if have_valgrind() {
        let vg = build_source(
            "ownership.c",
            "ownership-202-vg",
            Rdkafka::System,
            Lang::C11,
            Libkat::Shared,
            &[],
        );
        run_all(&[(&vg, "guard cooperative-sticky")], true, 1);
    }
}

#[cfg(feature = "rdkafka")]
#[test]
fn commit_guard_on_bundled_librdkafka_2_12_1() {
    let _turn = heavy_turn();
    let exe = build_source(
        "ownership.c",
        "ownership-212",
        Rdkafka::Bundled,
        Lang::C11,
        Libkat::Shared,
        &[],
    );
    let jobs: Vec<(&Path, &str)> = vec![
        (&exe, "guard range"),
        (&exe, "guard cooperative-sticky"),
        (&exe, "guard consumer"),
    ];
    for run in run_all(&jobs, false, 3) {
        assert!(run.stdout.contains("librdkafka 2.12.1"), "{}", run.stdout);
        assert!(summary(&run, "guard", "removed") >= 1, "{}", run.stdout);
    }
}

/// Compiles `tests/glue/cpp_rdkafkacpp.cpp` (kat_rdkafkacpp.hpp, librdkafka's
/// C++ API) against one librdkafka and its librdkafka++, and libkat.so.
fn build_rdkafkacpp_consumer(name: &str, rdkafka: Rdkafka) -> PathBuf {
    let libdir = libkat_dir();
    let out = work_dir().join(name);
    let (includes, libs): (Vec<String>, Vec<String>) = match rdkafka {
        Rdkafka::System => {
            assert!(
                Path::new("/usr/include/librdkafka/rdkafkacpp.h").exists(),
                "Debian's librdkafka-dev (with rdkafkacpp.h) is missing"
            );
            (
                vec![],
                vec!["-lrdkafka++".into(), "-lrdkafka".into(), "-lpthread".into()],
            )
        }
        #[cfg(feature = "rdkafka")]
        Rdkafka::Bundled => {
            // rdkafka-sys's `make libs` builds the C++ library beside the C
            // one; <librdkafka/rdkafkacpp.h> resolves through links.
            let root = bundled_root();
            let include = work_dir().join("bundled-include-cpp");
            let dir = include.join("librdkafka");
            std::fs::create_dir_all(&dir).expect("create include dir");
            for (header, from) in [
                ("rdkafka.h", "src"),
                ("rdkafka_mock.h", "src"),
                ("rdkafkacpp.h", "src-cpp"),
            ] {
                let link = dir.join(header);
                let _ = std::fs::remove_file(&link);
                std::os::unix::fs::symlink(root.join(from).join(header), &link)
                    .expect("symlink a librdkafka header");
            }
            let cpp = root.join("src-cpp").join("librdkafka++.a");
            assert!(cpp.exists(), "rdkafka-sys did not build {}", cpp.display());
            let mut libs = vec![
                cpp.display().to_string(),
                root.join("src").join("librdkafka.a").display().to_string(),
            ];
            libs.extend(bundled_link_libs(&root));
            (vec!["-isystem".into(), include.display().to_string()], libs)
        }
    };
    let mut cmd = Command::new("g++");
    cmd.arg("-std=c++17")
        .args(WARNINGS)
        .arg("-g")
        .arg("-I")
        .arg(Path::new(MANIFEST_DIR).join("include"))
        .arg("-I")
        .arg(Path::new(MANIFEST_DIR).join("bindings/cpp"))
        .args(&includes)
        .arg(Path::new(MANIFEST_DIR).join("tests/glue/cpp_rdkafkacpp.cpp"))
        .arg("-o")
        .arg(&out)
        .arg(format!("-L{}", libdir.display()))
        .arg("-lkat")
        .arg(format!("-Wl,-rpath,{}", libdir.display()))
        .args(&libs);
    let output = cmd.output().expect("run the compiler");
    assert!(
        output.status.success(),
        "compiling {name} failed: {cmd:?}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// What every run of cpp_rdkafkacpp must have shown beyond its PASS line.
fn assert_rdkafkacpp_run(run: &Run) {
    let out = &run.stdout;
    assert!(
        out.contains("kat-rdkafkacpp/A kat::rdkafkacpp::check_lost recorded the loss of [0,1,2,3]"),
        "{out}"
    );
    // A (kat::rdkafkacpp::rebalance_callback): assigned alone, again when B
    // left, again after its loss; no failure counted.
    assert!(
        summary(run, "kat-rdkafkacpp/A", "kat_assigned_events") >= 3,
        "{out}"
    );
    assert!(
        summary(run, "kat-rdkafkacpp/A", "kat_lost_events") >= 1,
        "{out}"
    );
    assert!(
        summary(run, "kat-rdkafkacpp/A", "kat_revoked_events") >= 1,
        "{out}"
    );
    assert_eq!(summary(run, "kat-rdkafkacpp/A", "failures"), 0, "{out}");
    assert_eq!(
        summary(run, "kat-rdkafkacpp/A", "glue_failures"),
        0,
        "{out}"
    );
    // B repeats its first cooperative assign on purpose: refused, counted.
    let refused = u64::from(run.args != "range");
    assert_eq!(
        summary(run, "kat-rdkafkacpp/B", "glue_failures"),
        refused,
        "{out}"
    );
    // B (its own RdKafka::RebalanceCb calling kat::rdkafkacpp::rebalance):
    // assigned, then revoked by its close, never lost.
    assert!(summary(run, "kat-rdkafkacpp/B", "assigns") >= 1, "{out}");
    assert!(summary(run, "kat-rdkafkacpp/B", "revokes") >= 1, "{out}");
    assert!(
        summary(run, "kat-rdkafkacpp/B", "kat_revoked_events") >= 1,
        "{out}"
    );
    assert_eq!(
        summary(run, "kat-rdkafkacpp/B", "kat_lost_events"),
        0,
        "{out}"
    );
}

/// The RdKafka::RebalanceCb adapter (`kat_rdkafkacpp.hpp`) with two real
/// RdKafka::KafkaConsumer consumers on Debian's librdkafka++ 2.0.2, eager
/// and cooperative-sticky, plainly and (cooperative) under valgrind.
#[test]
fn rdkafkacpp_adapter_on_debian_librdkafka_2_0_2() {
    let _turn = heavy_turn();
    let exe = build_rdkafkacpp_consumer("cpp-rdkafkacpp-202", Rdkafka::System);
    let jobs: Vec<(&Path, &str)> = vec![(&exe, "range"), (&exe, "cooperative-sticky")];
    let runs: Vec<Run> = thread::scope(|scope| {
        let valgrind = scope.spawn(|| {
            if have_valgrind() {
                run_all(&[(&exe, "cooperative-sticky")], true, 1)
            } else {
                eprintln!("valgrind is not installed (scripts/setup.sh installs it): skipped");
                Vec::new()
            }
        });
        let mut runs = run_all(&jobs, false, jobs.len());
        runs.extend(valgrind.join().expect("valgrind runs"));
        runs
    });
    for run in &runs {
        assert!(
            run.stdout.contains("librdkafka 2.0.2 (C++ 2.0.2)"),
            "{}",
            run.stdout
        );
        assert_rdkafkacpp_run(run);
    }
}

/// The same adapter on the librdkafka++ 2.12.1 that rdkafka-sys builds:
/// eager, cooperative-sticky and KIP-848 (`group.protocol=consumer`).
#[cfg(feature = "rdkafka")]
#[test]
fn rdkafkacpp_adapter_on_bundled_librdkafka_2_12_1() {
    let _turn = heavy_turn();
    let exe = build_rdkafkacpp_consumer("cpp-rdkafkacpp-212", Rdkafka::Bundled);
    let jobs: Vec<(&Path, &str)> = vec![
        (&exe, "range"),
        (&exe, "cooperative-sticky"),
        (&exe, "consumer"),
    ];
    for run in run_all(&jobs, false, jobs.len()) {
        assert!(
            run.stdout.contains("librdkafka 2.12.1 (C++ 2.12.1)"),
            "{}",
            run.stdout
        );
        assert_rdkafkacpp_run(&run);
    }
}
