//! The C++ wrapper's guarantees that only a compiler can show
//! (`bindings/cpp/kat.hpp`, `kat_rdkafka.hpp`):
//! - the two traps do not compile: an owning `kat::tracker` sliced into a
//!   borrowing `kat::tracker_ref`, and borrowed views taken from a temporary
//!   snapshot (or generations list, or group); each snippet that must fail is
//!   paired with its corrected form, which must compile, so a failure is for
//!   the reason named and not a typo;
//! - `[[nodiscard]]`: dropping a snapshot, a `try_` result or the result of
//!   the librdkafka glue is a warning (an error with `-Werror`);
//! - `-fno-exceptions`: `tests/c/cpp_noexcept.cpp` builds and runs (plainly,
//!   under valgrind and with ASan/UBSan), and the throwing forms are absent;
//! - include order: `kat.hpp` before or after `<librdkafka/rdkafka.h>`, with
//!   `kat_rdkafka.hpp` anywhere, always compiles.
//!
//! libkat is built by a nested `cargo build --lib` into the directory
//! `tests/native.rs` uses (`CARGO_TARGET_TMPDIR/native/cargo-default`), so
//! the two test binaries share one build.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const CXX_FLAGS: &[&str] = &[
    "-std=c++17",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-pedantic",
    "-g",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn work_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cpp");
    std::fs::create_dir_all(&dir).expect("create the cpp work directory");
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run(cmd: &mut Command) -> Output {
    cmd.env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// The cargo profile this test binary was built with.
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

/// The directory holding libkat.so, built with default features.
fn libkat_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("native")
            .join("cargo-default");
        let profile = profile();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = run(Command::new(cargo)
            .args(["build", "--lib", "--manifest-path"])
            .arg(root().join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .arg("--profile")
            .arg(&profile)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET"));
        assert!(
            out.status.success(),
            "nested cargo build --lib failed:\n{}",
            text(&out.stderr)
        );
        let dir = target.join(match profile.as_str() {
            "dev" | "test" => "debug",
            "bench" => "release",
            other => other,
        });
        assert!(dir.join("libkat.so").is_file(), "no libkat.so in {dir:?}");
        dir
    })
}

fn includes(cmd: &mut Command) -> &mut Command {
    cmd.arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(root().join("bindings").join("cpp"))
}

fn rdkafka_header_available() -> bool {
    Path::new("/usr/include/librdkafka/rdkafka.h").exists()
}

/// Compiles `code` with g++ -fsyntax-only and the given extra flags.
fn compile(code: &str, extra: &[&str], name: &str) -> Output {
    let file = work_dir().join(format!("{name}.cpp"));
    std::fs::write(&file, code).expect("write snippet");
    run(includes(
        Command::new("g++")
            .args(CXX_FLAGS)
            .args(extra)
            .arg("-fsyntax-only"),
    )
    .arg(&file))
}

fn assert_compiles(code: &str, extra: &[&str], name: &str) {
    let out = compile(code, extra, name);
    assert!(
        out.status.success(),
        "{name} must compile:\n{code}\n--- g++\n{}",
        text(&out.stderr)
    );
}

/// `code` must not compile, and g++ must say `why` (e.g. that a deleted
/// function was used) about the line marked `// TRAP`.
fn assert_rejected(code: &str, extra: &[&str], name: &str, why: &str) {
    let out = compile(code, extra, name);
    let stderr = text(&out.stderr);
    assert!(
        !out.status.success(),
        "{name} compiled but must not:\n{code}"
    );
    let line = code
        .lines()
        .position(|l| l.contains("// TRAP"))
        .map(|i| i + 1)
        .expect("snippet marks its trap line");
    let at = format!("{name}.cpp:{line}:");
    assert!(
        stderr.lines().any(|l| l.contains(&at) && l.contains(why)),
        "{name}: expected `{why}` at line {line}:\n{stderr}"
    );
}

/// A snippet with a trap (`bad`) and its corrected form (`good`).
struct Trap {
    name: &'static str,
    bad: &'static str,
    good: &'static str,
}

const PRELUDE: &str = "#include \"kat.hpp\"\n#include <cstdio>\n";

fn program(body: &str) -> String {
    format!("{PRELUDE}int main() {{\n{body}\n    return 0;\n}}\n")
}

const TRAPS: &[Trap] = &[
    Trap {
        name: "slice_tracker_into_ref",
        bad: "    kat::tracker_ref r = kat::tracker(); // TRAP\n    return int(r.epoch());",
        good: "    kat::tracker t;\n    kat::tracker_ref r = t;\n    return int(r.epoch());",
    },
    Trap {
        name: "slice_tracker_into_ref_direct",
        bad: "    kat::tracker_ref r(kat::tracker{}); // TRAP\n    return int(r.epoch());",
        good: "    kat::tracker t;\n    kat::tracker_ref r(t);\n    return int(r.epoch());",
    },
    Trap {
        name: "ref_of_temporary_tracker",
        bad: "    auto r = kat::tracker().ref(); // TRAP\n    return int(r.epoch());",
        good: "    kat::tracker t;\n    auto r = t.ref();\n    return int(r.epoch());",
    },
    Trap {
        name: "find_on_temporary_snapshot",
        bad: "    kat::tracker t;\n    auto v = t.snapshot().find(\"g\", \"orders\"); // TRAP\n    return v ? int(v->partitions().size()) : 0;",
        good: "    kat::tracker t;\n    const auto s = t.snapshot();\n    auto v = s.find(\"g\", \"orders\");\n    return v ? int(v->partitions().size()) : 0;",
    },
    Trap {
        name: "find_through_temporary_result",
        bad: "    kat::tracker t;\n    auto v = t.try_snapshot()->find(\"g\", \"orders\"); // TRAP\n    return v ? int(v->partitions().size()) : 0;",
        good: "    kat::tracker t;\n    auto s = t.try_snapshot();\n    auto v = s->find(\"g\", \"orders\");\n    return v ? int(v->partitions().size()) : 0;",
    },
    Trap {
        name: "try_find_on_temporary_snapshot",
        bad: "    kat::tracker t;\n    auto v = t.snapshot().try_find(\"g\", \"orders\"); // TRAP\n    return v.ok();",
        good: "    kat::tracker t;\n    const auto s = t.snapshot();\n    auto v = s.try_find(\"g\", \"orders\");\n    return v.ok();",
    },
    Trap {
        name: "groups_of_temporary_snapshot",
        bad: "    kat::tracker t;\n    for (const kat::group_view g : t.snapshot().groups()) { // TRAP\n        std::puts(g.name().data());\n    }",
        good: "    kat::tracker t;\n    const auto s = t.snapshot();\n    for (const kat::group_view g : s.groups()) {\n        std::puts(g.name().data());\n    }",
    },
    Trap {
        name: "group_view_of_temporary_snapshot",
        bad: "    kat::tracker t;\n    auto g = t.snapshot().group(0); // TRAP\n    return int(g.topic_count());",
        good: "    kat::tracker t;\n    const auto s = t.snapshot();\n    auto g = s.group(0);\n    return int(g.topic_count());",
    },
    Trap {
        name: "entry_of_temporary_generations",
        bad: "    kat::tracker t;\n    auto e = t.generations()[0]; // TRAP\n    return int(e.topic.size());",
        good: "    kat::tracker t;\n    const auto gens = t.generations();\n    auto e = gens[0];\n    return int(e.topic.size());",
    },
    Trap {
        name: "iterator_of_temporary_generations",
        bad: "    kat::tracker t;\n    auto it = t.generations().begin(); // TRAP\n    return int((*it).partition);",
        good: "    kat::tracker t;\n    int n = 0;\n    for (const kat::generation_entry &e : t.generations()) {\n        n += int(e.partition);\n    }\n    return n;",
    },
    Trap {
        name: "name_of_temporary_group",
        bad: "    kat::tracker t;\n    std::string_view n = t.group(\"g\").name(); // TRAP\n    return int(n.size());",
        good: "    kat::tracker t;\n    const kat::group g = t.group(\"g\");\n    std::string_view n = g.name();\n    return int(n.size());",
    },
    Trap {
        name: "lease_of_temporary_handle",
        bad: "    kat::tracker t;\n    const auto g = t.group(\"g\");\n    kat::lease l = g.partition(\"orders\", 0).lease(1); // TRAP\n    return l.valid();",
        good: "    kat::tracker t;\n    const auto g = t.group(\"g\");\n    const auto h = g.partition(\"orders\", 0);\n    kat::lease l = h.lease(1);\n    return l.valid();",
    },
    Trap {
        name: "try_lease_of_temporary_handle",
        bad: "    kat::tracker t;\n    const auto g = t.group(\"g\");\n    auto l = g.partition(\"orders\", 0).try_lease(1); // TRAP\n    return l.ok();",
        good: "    kat::tracker t;\n    const auto g = t.group(\"g\");\n    const auto h = g.partition(\"orders\", 0);\n    auto l = h.try_lease(1);\n    return l.ok();",
    },
];

#[test]
fn traps_do_not_compile_and_their_fixes_do() {
    for trap in TRAPS {
        assert_compiles(&program(trap.good), &[], &format!("{}_fixed", trap.name));
        assert_rejected(&program(trap.bad), &[], trap.name, "deleted");
    }
}

#[test]
fn dropped_results_are_warnings() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "drop_snapshot",
            "    kat::tracker t;\n    t.snapshot(); // TRAP",
            "    kat::tracker t;\n    const auto s = t.snapshot();\n    return int(s.epoch());",
        ),
        (
            "drop_try_result",
            "    kat::tracker t;\n    const auto g = t.group(\"g\");\n    g.try_assigned(\"orders\", {0}); // TRAP",
            "    kat::tracker t;\n    const auto g = t.group(\"g\");\n    if (!g.try_assigned(\"orders\", {0})) {\n        return 1;\n    }",
        ),
        (
            "drop_lease",
            "    kat::tracker t;\n    const auto g = t.group(\"g\");\n    const auto h = g.partition(\"orders\", 0);\n    h.try_lease(1); // TRAP",
            "    kat::tracker t;\n    const auto g = t.group(\"g\");\n    const auto h = g.partition(\"orders\", 0);\n    return h.try_lease(1).ok();",
        ),
        (
            "drop_generation",
            "    kat::tracker t;\n    t.generation(\"g\", \"orders\", 0); // TRAP",
            "    kat::tracker t;\n    return int(t.generation(\"g\", \"orders\", 0));",
        ),
    ];
    for (name, bad, good) in cases {
        assert_compiles(&program(good), &[], &format!("{name}_fixed"));
        assert_rejected(&program(bad), &[], name, "ignoring return value");
    }
    if !rdkafka_header_available() {
        println!("<librdkafka/rdkafka.h> not found: skipped the glue's [[nodiscard]]");
        return;
    }
    let glue = |body: &str| {
        format!(
            "#include \"kat_rdkafka.hpp\"\n\
             void on_poll(const kat::group &g, rd_kafka_t *rk);\n\
             void on_poll(const kat::group &g, rd_kafka_t *rk) {{\n{body}\n}}\n\
             int main() {{ return 0; }}\n"
        )
    };
    for (name, bad, good) in [
        (
            "drop_check_lost",
            "    kat::check_lost(g, rk); // TRAP",
            "    if (const auto r = kat::check_lost(g, rk); !r) {\n        std::fputs(r.err().what(), stderr);\n    }",
        ),
        (
            "drop_rebalance",
            "    kat::rebalance(g, rk, RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, nullptr); // TRAP",
            "    (void)kat::rebalance(g, rk, RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, nullptr);",
        ),
        (
            "drop_commit_guard",
            "    kat::commit_guard(g, nullptr); // TRAP",
            "    if (!kat::commit_guard(g, nullptr)) {\n        (void)kat::set_poll_deadline(g, rk);\n    }",
        ),
        (
            "drop_after_close",
            "    kat::after_close(g, rk); // TRAP",
            "    if (!kat::after_close(g, rk)) {\n        std::fputs(\"kat\", stderr);\n    }",
        ),
    ] {
        assert_compiles(&glue(good), &[], &format!("{name}_fixed"));
        assert_rejected(&glue(bad), &[], name, "ignoring return value");
    }
}

#[test]
fn without_exceptions_only_the_result_forms_exist() {
    let good = program(
        "    kat::tracker t;\n    auto e = t.try_epoch();\n    return e.ok() ? int(*e) : 1;",
    );
    assert_compiles(&good, &["-fno-exceptions"], "noexcept_try_epoch");
    // The throwing form would have to abort on failure: it is not there.
    let bad = program("    kat::tracker t;\n    return int(t.epoch()); // TRAP");
    assert_compiles(&bad, &[], "exceptions_epoch");
    assert_rejected(
        &bad,
        &["-fno-exceptions"],
        "noexcept_epoch",
        "has no member named",
    );
    // KAT_NO_EXCEPTIONS selects the same mode with exceptions on.
    assert_rejected(
        &bad,
        &["-DKAT_NO_EXCEPTIONS"],
        "no_exceptions_macro_epoch",
        "has no member named",
    );
}

fn valgrind_available() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Builds `tests/c/<source>` with `extra` flags against libkat.so.
fn build(source: &str, extra: &[&str], exe_name: &str) -> PathBuf {
    let lib = libkat_dir();
    let exe = work_dir().join(exe_name);
    let out = run(includes(Command::new("g++").args(CXX_FLAGS).args(extra))
        .arg(root().join("tests").join("c").join(source))
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(lib)
        .arg("-lkat")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lpthread"));
    assert!(
        out.status.success(),
        "compiling {source} {extra:?} failed:\n{}",
        text(&out.stderr)
    );
    exe
}

fn check_run(what: &str, out: &Output, name: &str) {
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        out.status,
        text(&out.stderr)
    );
    let n = stdout
        .strip_prefix(&format!("{name}: "))
        .and_then(|r| r.strip_suffix(" checks passed\n"))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(n.is_some_and(|n| n > 20), "{what}: {stdout:?}");
    assert!(
        out.stderr.is_empty(),
        "{what}: stderr:\n{}",
        text(&out.stderr)
    );
}

/// The repository's suppression file for the C tests, while there is one.
fn suppressions() -> Vec<String> {
    let supp = root().join("tests/c/valgrind.supp");
    if supp.is_file() {
        vec![format!("--suppressions={}", supp.display())]
    } else {
        Vec::new()
    }
}

#[test]
fn no_exceptions_program_runs_plainly_under_valgrind_and_sanitizers() {
    let exe = build("cpp_noexcept.cpp", &["-fno-exceptions"], "cpp_noexcept");
    check_run(
        "cpp_noexcept",
        &run(&mut Command::new(&exe)),
        "cpp_noexcept",
    );
    if valgrind_available() {
        let out = run(Command::new("valgrind")
            .args([
                "-q",
                "--error-exitcode=99",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect,possible",
            ])
            .args(suppressions())
            .arg(&exe));
        check_run("cpp_noexcept (valgrind)", &out, "cpp_noexcept");
    } else {
        println!("valgrind is not on PATH: skipped memcheck of cpp_noexcept");
    }
    let san = build(
        "cpp_noexcept.cpp",
        &[
            "-fno-exceptions",
            "-fsanitize=address,undefined",
            "-fno-omit-frame-pointer",
        ],
        "cpp_noexcept-san",
    );
    let out = run(Command::new(&san)
        .env("ASAN_OPTIONS", "detect_leaks=1")
        .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1"));
    check_run("cpp_noexcept (ASan+UBSan)", &out, "cpp_noexcept");
}

#[test]
fn include_order_does_not_matter() {
    if !rdkafka_header_available() {
        println!("<librdkafka/rdkafka.h> not found: skipped (install librdkafka-dev)");
        return;
    }
    let use_glue = "int main() {\n\
        kat::tracker t;\n\
        auto made = t.try_group(\"g\");\n\
        const kat::group &g = *made;\n\
        rd_kafka_conf_t *conf = rd_kafka_conf_new();\n\
        rd_kafka_conf_set_rebalance_cb(conf, kat::rebalance_cb);\n\
        rd_kafka_conf_set_opaque(conf, g.get());\n\
        rd_kafka_conf_destroy(conf);\n\
        return kat::check_lost(g, nullptr).ok() ? 1 : 0;\n\
    }\n";
    let orders: &[(&str, &str)] = &[
        (
            "hpp_first",
            "#include \"kat.hpp\"\n#include <librdkafka/rdkafka.h>\n#include \"kat_rdkafka.hpp\"\n",
        ),
        (
            "rdkafka_first",
            "#include <librdkafka/rdkafka.h>\n#include \"kat.hpp\"\n#include \"kat_rdkafka.hpp\"\n",
        ),
        (
            "glue_only",
            "#include \"kat_rdkafka.hpp\"\n#include \"kat_rdkafka.hpp\"\n",
        ),
        (
            "glue_then_hpp",
            "#include \"kat_rdkafka.hpp\"\n#include \"kat.hpp\"\n#include \"kat_rdkafka.h\"\n",
        ),
        (
            "c_glue_then_hpp",
            "#include \"kat_rdkafka.h\"\n#include \"kat.hpp\"\n#include \"kat_rdkafka.hpp\"\n",
        ),
    ];
    for (name, head) in orders {
        assert_compiles(&format!("{head}{use_glue}"), &[], name);
        assert_compiles(
            &format!("{head}{use_glue}"),
            &["-fno-exceptions"],
            &format!("{name}_noexcept"),
        );
    }
    // kat.hpp alone never depends on librdkafka, whatever came before it.
    assert_compiles(
        "#include <librdkafka/rdkafka.h>\n#include \"kat.hpp\"\nint main() { kat::tracker t; return int(*t.try_epoch()); }\n",
        &[],
        "hpp_after_rdkafka_alone",
    );
}
