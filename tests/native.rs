//! Builds libkat and runs the C and C++ programs in `tests/c` against it.
//!
//! Each C program is compiled with `gcc -std=c11 -Wall -Wextra -Werror
//! -pedantic` (C++ with `g++ -std=c++17`, same warnings), linked twice (to
//! `libkat.so` through an rpath, and to `libkat.a`), and run; then again
//! under valgrind memcheck (when `valgrind` is on PATH; CI installs it) and
//! built with `-fsanitize=address,undefined`. Every run must exit 0, print
//! what the program is expected to print, and write nothing to stderr.
//!
//! libkat is built by a nested `cargo build --lib` into directories of its
//! own under `CARGO_TARGET_TMPDIR` (one with default features, one with
//! `test-hooks` for `panic.c`). Cargo decides freshness there; the outer
//! `cargo test` never locks those directories, so the nested build cannot
//! deadlock with it, and it never rebuilds the outer build's artifacts with
//! other features.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const C_FLAGS: &[&str] = &["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g"];
const CXX_FLAGS: &[&str] = &[
    "-std=c++17",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-pedantic",
    "-g",
];
const SANITIZE: &[&str] = &["-fsanitize=address,undefined", "-fno-omit-frame-pointer"];
const STATIC_DEPS: &[&str] = &["-lpthread", "-ldl", "-lm"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn source(name: &str) -> PathBuf {
    root().join("tests").join("c").join(name)
}

fn work_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("native")
}

/// The cargo profile this test binary was built with, read from its path
/// (`<target>/<profile dir>/deps/native-<hash>`).
fn profile() -> String {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .and_then(OsStr::to_str)
        .unwrap_or("debug")
        .to_owned();
    match dir.as_str() {
        "debug" => "dev".to_owned(),
        _ => dir,
    }
}

fn profile_dir(profile: &str) -> &str {
    match profile {
        "dev" | "test" => "debug",
        "bench" => "release",
        other => other,
    }
}

/// Where libkat.so and libkat.a are, for one feature set.
struct Libs {
    plain: PathBuf,
    hooks: PathBuf,
}

fn cargo_build_lib(features: Option<&str>, target_dir: &Path) -> PathBuf {
    let profile = profile();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--lib")
        .arg("--manifest-path")
        .arg(root().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .arg("--profile")
        .arg(&profile)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET");
    if let Some(f) = features {
        cmd.arg("--features").arg(f);
    }
    let out = cmd.output().expect("run cargo");
    assert!(
        out.status.success(),
        "nested `cargo build --lib` failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = target_dir.join(profile_dir(&profile));
    for f in ["libkat.so", "libkat.a"] {
        assert!(
            dir.join(f).is_file(),
            "{} was not built",
            dir.join(f).display()
        );
    }
    dir
}

/// Builds libkat once per test binary (both feature sets, one after the
/// other so that two heavy builds never run at once).
fn libs() -> &'static Libs {
    static LIBS: OnceLock<Libs> = OnceLock::new();
    LIBS.get_or_init(|| {
        let base = work_dir();
        let plain = cargo_build_lib(None, &base.join("cargo-default"));
        let hooks = cargo_build_lib(Some("test-hooks"), &base.join("cargo-test-hooks"));
        Libs { plain, hooks }
    })
}

fn on_path(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run(cmd: &mut Command) -> Output {
    // `cargo test` points LD_LIBRARY_PATH at its own target directory, which
    // would beat the programs' RUNPATH and load the outer build's libkat.so.
    // RUST_BACKTRACE=0 keeps the panic hook's report (panic.c) to two lines.
    cmd.env_remove("LD_LIBRARY_PATH")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn check_success(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Lang {
    C,
    Cxx,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Link {
    Shared,
    Static,
}

/// How to build one program.
struct Program<'a> {
    name: &'a str,
    sources: &'a [&'a str],
    lang: Lang,
    defines: &'a [&'a str],
    extra_libs: &'a [&'a str],
    hooks: bool,
}

impl Program<'_> {
    fn lib_dir(&self) -> &'static Path {
        if self.hooks {
            &libs().hooks
        } else {
            &libs().plain
        }
    }

    fn build(&self, link: Link, sanitize: bool) -> PathBuf {
        let dir = work_dir().join("bin");
        std::fs::create_dir_all(&dir).expect("create bin dir");
        let exe = dir.join(format!(
            "{}-{}{}",
            self.name,
            match link {
                Link::Shared => "shared",
                Link::Static => "static",
            },
            if sanitize { "-san" } else { "" }
        ));
        let (compiler, flags) = match self.lang {
            Lang::C => ("gcc", C_FLAGS),
            Lang::Cxx => ("g++", CXX_FLAGS),
        };
        let lib = self.lib_dir();
        let mut cmd = Command::new(compiler);
        cmd.args(flags)
            .arg("-I")
            .arg(root().join("include"))
            .arg("-I")
            .arg(root().join("bindings").join("cpp"))
            .arg("-I")
            .arg(root().join("tests").join("c"));
        cmd.args(self.defines.iter().map(|d| format!("-D{d}")));
        if sanitize {
            cmd.args(SANITIZE);
        }
        cmd.args(self.sources.iter().map(|s| source(s)));
        cmd.arg("-o").arg(&exe);
        match link {
            Link::Shared => {
                cmd.arg("-L")
                    .arg(lib)
                    .arg("-lkat")
                    .arg(format!("-Wl,-rpath,{}", lib.display()));
            }
            Link::Static => {
                cmd.arg(lib.join("libkat.a")).args(STATIC_DEPS);
            }
        }
        cmd.args(self.extra_libs).arg("-lpthread");
        let out = run(&mut cmd);
        check_success(&format!("compiling {} ({link:?})", self.name), &out);

        let needed = needed_libs(&exe);
        match link {
            Link::Shared => assert!(
                needed.iter().any(|n| n.starts_with("libkat.so")),
                "{} does not need libkat.so: {needed:?}",
                exe.display()
            ),
            Link::Static => assert!(
                !needed.iter().any(|n| n.contains("libkat")),
                "{} should not need libkat.so: {needed:?}",
                exe.display()
            ),
        }
        if link == Link::Shared {
            // The loader resolves libkat.so to the library built above.
            let out = run(Command::new("ldd").arg(&exe));
            check_success("ldd", &out);
            let expected = format!("{}/libkat.so", lib.display());
            assert!(
                text(&out.stdout).contains(&expected),
                "{} does not load {expected}:\n{}",
                exe.display(),
                text(&out.stdout)
            );
        }
        if sanitize {
            // The sanitizer runtimes are really linked in.
            for rt in ["libasan.so", "libubsan.so"] {
                assert!(
                    needed.iter().any(|n| n.starts_with(rt)),
                    "{} is not linked to {rt}: {needed:?}",
                    exe.display()
                );
            }
        }
        exe
    }
}

/// The NEEDED entries of an ELF file.
fn needed_libs(path: &Path) -> Vec<String> {
    let out = run(Command::new("readelf").arg("-d").arg(path));
    check_success("readelf -d", &out);
    text(&out.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1))
        .map(|l| l.trim_end_matches(']').to_owned())
        .collect()
}

/// What a run must print.
enum Expect<'a> {
    /// stdout is exactly this.
    Exactly(&'a str),
    /// stdout is one line `<name>: <N> checks passed`, N > 0.
    ChecksPassed(&'a str),
}

impl Expect<'_> {
    fn check(&self, what: &str, stdout: &str) {
        match self {
            Expect::Exactly(s) => assert_eq!(stdout, *s, "{what}: unexpected output"),
            Expect::ChecksPassed(name) => {
                let n = stdout
                    .strip_prefix(&format!("{name}: "))
                    .and_then(|r| r.strip_suffix(" checks passed\n"))
                    .and_then(|n| n.parse::<u64>().ok());
                assert!(
                    n.is_some_and(|n| n > 0),
                    "{what}: unexpected output {stdout:?}"
                );
            }
        }
    }
}

/// stderr must be empty, except for lines the program is known to print
/// (the default panic hook's message in panic.c).
fn check_stderr(what: &str, stderr: &str, allowed: &[&str]) {
    let unexpected: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !allowed.iter().any(|a| l.contains(a)))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{what}: unexpected stderr:\n{stderr}"
    );
}

/// Builds and runs a program in every configuration and checks each run.
fn run_everywhere(p: &Program<'_>, args: &[&str], expect: &Expect<'_>, allowed_stderr: &[&str]) {
    let mut outputs = BTreeSet::new();
    for link in [Link::Shared, Link::Static] {
        let exe = p.build(link, false);
        let what = format!("{} ({link:?})", p.name);
        let out = run(Command::new(&exe).args(args));
        check_success(&what, &out);
        expect.check(&what, &text(&out.stdout));
        check_stderr(&what, &text(&out.stderr), allowed_stderr);
        outputs.insert(text(&out.stdout));

        if on_path("valgrind") {
            let what = format!("{} ({link:?}, valgrind)", p.name);
            let out = run(valgrind().arg(&exe).args(args));
            check_success(&what, &out);
            expect.check(&what, &text(&out.stdout));
            check_stderr(&what, &text(&out.stderr), allowed_stderr);
            outputs.insert(text(&out.stdout));
        } else {
            println!("valgrind is not on PATH: skipped memcheck of {what}");
        }

        let exe = p.build(link, true);
        let what = format!("{} ({link:?}, ASan+UBSan)", p.name);
        let out = run(sanitized(&exe).args(args));
        check_success(&what, &out);
        expect.check(&what, &text(&out.stdout));
        check_stderr(&what, &text(&out.stderr), allowed_stderr);
        outputs.insert(text(&out.stdout));
    }
    assert_eq!(
        outputs.len(),
        1,
        "{}: the configurations disagree: {outputs:?}",
        p.name
    );
}

fn valgrind() -> Command {
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "-q",
        "--error-exitcode=99",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite,indirect,possible",
        "--num-callers=40",
    ]);
    // No suppression file: the global tracker releases its memory at exit,
    // so "possibly lost" counts like any other leak.
    cmd
}

fn sanitized(exe: &Path) -> Command {
    let mut cmd = Command::new(exe);
    cmd.env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1");
    cmd
}

fn c_program<'a>(name: &'a str, sources: &'a [&'a str]) -> Program<'a> {
    Program {
        name,
        sources,
        lang: Lang::C,
        defines: &[],
        extra_libs: &[],
        hooks: false,
    }
}

#[test]
fn api_c_exercises_the_whole_c_api() {
    run_everywhere(
        &c_program("api", &["api.c"]),
        &[],
        &Expect::ChecksPassed("api"),
        &[],
    );
}

#[test]
fn hostile_c_gets_documented_errors_and_no_change() {
    run_everywhere(
        &c_program("hostile", &["hostile.c"]),
        &[],
        &Expect::ChecksPassed("hostile"),
        &[],
    );
}

#[test]
fn by_len_c_reads_names_by_pointer_and_length() {
    run_everywhere(
        &c_program("by_len", &["by_len.c"]),
        &[],
        &Expect::ChecksPassed("by_len"),
        &[],
    );
}

#[test]
fn known_c_reads_every_known_topic_and_shares_unchanged_ones() {
    run_everywhere(
        &c_program("known", &["known.c"]),
        &[],
        &Expect::ChecksPassed("known"),
        &[],
    );
}

#[test]
fn panic_c_contains_a_panic_and_keeps_working() {
    let p = Program {
        defines: &["KAT_TEST_HOOKS"],
        hooks: true,
        ..c_program("panic", &["panic.c"])
    };
    // Rust's default panic hook reports the panic on stderr; nothing else
    // may appear there.
    run_everywhere(
        &p,
        &[],
        &Expect::ChecksPassed("panic"),
        &[
            "panicked",
            "test hook panicked on purpose",
            "RUST_BACKTRACE",
        ],
    );
}

#[test]
fn hostile_observability_c_gets_documented_errors_and_no_change() {
    run_everywhere(
        &c_program("hostile_observability", &["hostile_observability.c"]),
        &[],
        &Expect::ChecksPassed("hostile_observability"),
        &[],
    );
}

/// fork() while another thread applies events: every child returns from
/// its event (applied, or `KAT_ERR_FORKED` with nothing changed) and none
/// hangs.
#[test]
fn hostile_fork_c_children_never_hang() {
    run_everywhere(
        &c_program("hostile_fork", &["hostile_fork.c"]),
        &[],
        &Expect::ChecksPassed("hostile_fork"),
        &[],
    );
}

#[test]
fn hostile_ownership_c_gets_documented_errors_and_no_change() {
    run_everywhere(
        &c_program("hostile_ownership", &["hostile_ownership.c"]),
        &[],
        &Expect::ChecksPassed("hostile_ownership"),
        &[],
    );
}

#[test]
fn metrics_c_scrapes_prometheus_text_that_promtool_accepts() {
    let file = work_dir().join("metrics-from-c.prom");
    let arg = file.to_str().expect("UTF-8 path");
    run_everywhere(
        &c_program("metrics", &["metrics.c"]),
        &[arg],
        &Expect::ChecksPassed("metrics"),
        &[],
    );
    if std::env::var_os("KAT_SKIP_METRICS_PARSERS").is_some() {
        return;
    }
    let out = run(Command::new("promtool")
        .arg("check")
        .arg("metrics")
        .stdin(std::fs::File::open(&file).expect("metrics.c wrote its scrape")));
    check_success("promtool check metrics (metrics.c's scrape)", &out);
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool findings:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn quickstart_c_prints_the_snapshot() {
    run_everywhere(
        &c_program("quickstart", &["quickstart.c"]),
        &[],
        &Expect::Exactly(
            "orders/1: generation 1, assigned\n\
             billing\n\
             \x20 orders/0 generation 1\n\
             \x20 orders/1 generation 1\n\
             \x20 orders/2 generation 1\n",
        ),
        &[],
    );
}

#[test]
fn valgrind_reports_every_leaked_kat_object() {
    if !on_path("valgrind") {
        println!("valgrind is not on PATH: skipped the leak detection self-test");
        return;
    }
    let exe = c_program("leaky", &["leaky.c"]).build(Link::Shared, false);
    for leak in ["tracker", "group", "snapshot", "handle", "generations"] {
        let out = run(valgrind().arg(&exe).arg(leak));
        assert_eq!(
            out.status.code(),
            Some(99),
            "valgrind missed a leaked {leak}:\n{}",
            text(&out.stderr)
        );
    }
    let out = run(valgrind().arg(&exe).arg("none"));
    check_success("leaky none (valgrind)", &out);
}

fn rdkafka_header_available() -> bool {
    let probe = work_dir().join("rdkafka-probe.c");
    std::fs::create_dir_all(work_dir()).expect("work dir");
    std::fs::write(
        &probe,
        "#include <librdkafka/rdkafka.h>\nint main(void) { return 0; }\n",
    )
    .expect("write probe");
    run(Command::new("gcc").arg("-fsyntax-only").arg(&probe))
        .status
        .success()
}

#[test]
fn kat_h_and_rdkafka_h_together_with_a_real_list() {
    if !rdkafka_header_available() {
        println!("<librdkafka/rdkafka.h> not found: skipped (install librdkafka-dev)");
        return;
    }
    for (name, defines) in [
        ("rdkafka_after_kat", &[][..]),
        ("rdkafka_before_kat", &["KAT_AFTER_RDKAFKA"][..]),
    ] {
        let p = Program {
            name,
            defines,
            extra_libs: &["-lrdkafka"],
            ..c_program(name, &["rdkafka_interop.c"])
        };
        run_everywhere(&p, &[], &Expect::ChecksPassed("rdkafka_interop"), &[]);
    }
}

#[test]
fn cpp_wrapper_api() {
    let p = Program {
        lang: Lang::Cxx,
        ..c_program("cpp_api", &["cpp_api.cpp"])
    };
    run_everywhere(&p, &[], &Expect::ChecksPassed("cpp_api"), &[]);
}

#[test]
fn cpp_monitoring_metrics_health_history_and_statistics() {
    let p = Program {
        lang: Lang::Cxx,
        ..c_program("cpp_monitoring", &["cpp_monitoring.cpp"])
    };
    run_everywhere(&p, &[], &Expect::ChecksPassed("cpp_monitoring"), &[]);
}

#[test]
fn cpp_ownership_tokens_leases_drain_waits_and_poll_deadline() {
    if !rdkafka_header_available() {
        println!("<librdkafka/rdkafka.h> not found: skipped (install librdkafka-dev)");
        return;
    }
    let p = Program {
        lang: Lang::Cxx,
        extra_libs: &["-lrdkafka"],
        ..c_program("cpp_ownership", &["cpp_ownership.cpp"])
    };
    run_everywhere(&p, &[], &Expect::ChecksPassed("cpp_ownership"), &[]);
}

#[test]
fn cpp_wrapper_included_in_two_translation_units() {
    let p = Program {
        lang: Lang::Cxx,
        ..c_program(
            "cpp_double_include",
            &["cpp_double_include_a.cpp", "cpp_double_include_b.cpp"],
        )
    };
    run_everywhere(&p, &[], &Expect::ChecksPassed("cpp_double_include"), &[]);
}

fn compiles(compiler: &str, flags: &[&str], lang: &str, code: &str, what: &str) {
    let dir = work_dir().join("headers");
    std::fs::create_dir_all(&dir).expect("create headers dir");
    let file = dir.join(format!("{what}.{}", if lang == "c" { "c" } else { "cpp" }));
    std::fs::write(&file, code).expect("write header test");
    let out = run(Command::new(compiler)
        .args(flags)
        .arg("-fsyntax-only")
        .arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(root().join("bindings").join("cpp"))
        .arg(&file));
    check_success(&format!("{what}: {compiler} {flags:?}"), &out);
}

const HEADER_ALONE: &str = "#include \"kat.h\"\n#include \"kat.h\"\n\
    int main(void) { const char *v = kat_version(); return v == 0; }\n";

#[test]
fn kat_h_compiles_on_its_own_as_c11_c99_and_cxx17() {
    compiles("gcc", C_FLAGS, "c", HEADER_ALONE, "kat_h_c11");
    let c99 = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"];
    compiles("gcc", &c99, "c", HEADER_ALONE, "kat_h_c99");
    compiles("g++", CXX_FLAGS, "cpp", HEADER_ALONE, "kat_h_cxx17");
    // With the test hook declared too.
    let hooks = format!("#define KAT_TEST_HOOKS 1\n{HEADER_ALONE}");
    compiles("gcc", C_FLAGS, "c", &hooks, "kat_h_hooks");
}

#[test]
fn kat_hpp_compiles_on_its_own() {
    let code = "#include \"kat.hpp\"\n#include \"kat.hpp\"\nint main() { return 0; }\n";
    compiles("g++", CXX_FLAGS, "cpp", code, "kat_hpp_alone");
}

/// `kat_*` functions an ELF file defines (dynamic symbol table).
fn exported_functions(lib: &Path) -> BTreeSet<String> {
    let out = run(Command::new("nm").args(["-D", "--defined-only"]).arg(lib));
    check_success("nm -D --defined-only", &out);
    text(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_addr, kind, name) = (f.next()?, f.next()?, f.next()?);
            (kind == "T" && name.starts_with("kat_")).then(|| name.to_owned())
        })
        .collect()
}

/// Whether `code` uses the identifier `name` (called or passed as a
/// function pointer), not merely a longer name starting with it.
fn mentions(code: &str, name: &str) -> bool {
    code.match_indices(name).any(|(i, _)| {
        let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
        let before = code[..i].chars().next_back().is_some_and(ident);
        let after = code[i + name.len()..].chars().next().is_some_and(ident);
        !before && !after
    })
}

#[test]
fn every_export_is_covered_by_hostile_c() {
    let hostile = std::fs::read_to_string(source("hostile.c")).expect("hostile.c");
    let panic = std::fs::read_to_string(source("panic.c")).expect("panic.c");
    // The pointer + length reads have their hostile inputs in by_len.c.
    let by_len = std::fs::read_to_string(source("by_len.c")).expect("by_len.c");
    // The known-topic reads of a snapshot have theirs in known.c.
    let known = std::fs::read_to_string(source("known.c")).expect("known.c");
    // The monitoring exports have theirs in hostile_observability.c.
    let observability = std::fs::read_to_string(source("hostile_observability.c"))
        .expect("hostile_observability.c");
    // The ownership exports have theirs in hostile_ownership.c.
    let ownership =
        std::fs::read_to_string(source("hostile_ownership.c")).expect("hostile_ownership.c");
    let exports = exported_functions(&libs().hooks.join("libkat.so"));
    assert!(exports.len() > 40, "too few exports found: {exports:?}");
    assert!(exports.contains("kat_test_panic"));
    let missing: Vec<&String> = exports
        .iter()
        .filter(|f| {
            let covered = if f.as_str() == "kat_test_panic" {
                mentions(&panic, f)
            } else {
                mentions(&hostile, f)
                    || (f.ends_with("_n") && mentions(&by_len, f))
                    || (f.starts_with("kat_snapshot_known_topic") && mentions(&known, f))
                    || mentions(&observability, f)
                    || mentions(&ownership, f)
            };
            !covered
        })
        .collect();
    assert!(
        missing.is_empty(),
        "exported but not exercised by tests/c/hostile.c: {missing:?}"
    );
    // The production library has the same exports minus the test hook.
    let plain = exported_functions(&libs().plain.join("libkat.so"));
    let mut expected = exports.clone();
    expected.remove("kat_test_panic");
    assert_eq!(plain, expected);
}

#[test]
fn libkat_never_links_or_defines_librdkafka() {
    let so = libs().plain.join("libkat.so");
    let a = libs().plain.join("libkat.a");
    let needed = needed_libs(&so);
    assert!(
        !needed.iter().any(|n| n.contains("rdkafka")),
        "libkat.so needs librdkafka: {needed:?}"
    );
    for (what, args, file) in [
        ("defined", &["-D", "--defined-only"][..], &so),
        ("undefined", &["-D", "--undefined-only"][..], &so),
        ("any (static)", &["--defined-only"][..], &a),
        ("undefined (static)", &["--undefined-only"][..], &a),
    ] {
        let out = run(Command::new("nm").args(args).arg(file));
        check_success("nm", &out);
        let listing = text(&out.stdout);
        assert!(
            listing.lines().count() > 10,
            "nm {args:?} {} printed too little",
            file.display()
        );
        let hits: Vec<&str> = listing.lines().filter(|l| l.contains("rd_kafka")).collect();
        assert!(
            hits.is_empty(),
            "{} has {what} rd_kafka symbols: {hits:?}",
            file.display()
        );
    }
}
