//! Generates `kat.h` with cbindgen into OUT_DIR. The committed copy in
//! `include/kat.h` is refreshed with `KAT_UPDATE_HEADER=1 cargo build`; a
//! test fails when the two differ.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=KAT_UPDATE_HEADER");

    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it"));
    let mut config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let version = env::var("CARGO_PKG_VERSION").expect("cargo sets it");
    let part = |name: &str| env::var(name).expect("cargo sets it");
    config.after_includes = Some(format!(
        "{}\n#define KAT_VERSION_MAJOR {}\n#define KAT_VERSION_MINOR {}\n#define KAT_VERSION_PATCH {}\n#define KAT_VERSION_STRING \"{}\"\n\n/* librdkafka's partition list; only its public layout is read. */\nstruct rd_kafka_topic_partition_list_s;\n",
        config.after_includes.take().unwrap_or_default(),
        part("CARGO_PKG_VERSION_MAJOR"),
        part("CARGO_PKG_VERSION_MINOR"),
        part("CARGO_PKG_VERSION_PATCH"),
        version,
    ));

    let generated = out_dir.join("kat.h");
    match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => {
            bindings.write_to_file(&generated);
            if env::var_os("KAT_UPDATE_HEADER").is_some() {
                bindings.write_to_file(crate_dir.join("include").join("kat.h"));
            }
        }
        Err(e) => panic!("cbindgen failed: {e}"),
    }
    println!(
        "cargo:rustc-env=KAT_GENERATED_HEADER={}",
        generated.display()
    );

    soname(&out_dir);

    // With the `rdkafka` feature, rdkafka-sys builds librdkafka from source;
    // tests that compile C programs against that same librdkafka (header
    // `<root>/src/rdkafka.h`, static library `<root>/src/librdkafka.a`, link
    // flags in `<root>/Makefile.config`) find it here.
    println!("cargo:rerun-if-env-changed=DEP_RDKAFKA_ROOT");
    if let Ok(root) = env::var("DEP_RDKAFKA_ROOT") {
        println!("cargo:rustc-env=KAT_RDKAFKA_ROOT={root}");
    }
}

/// Gives `libkat.so` its SONAME, `libkat.so.<major>.<minor>` while the major
/// version is 0 (a 0.x minor release may break the ABI) and
/// `libkat.so.<major>` from 1.0 on, so that programs record the ABI they were
/// linked against. `scripts/install.sh` installs the library as
/// `libkat.so.<version>` with symlinks from the SONAME and from `libkat.so`.
///
/// A program linked to the `libkat.so` of a cargo build records the SONAME
/// too, so a symlink of that name is kept next to it in the profile's output
/// directory (`<target>/<profile>/`, three levels above `OUT_DIR`): programs
/// linked in the checkout then load with `-Wl,-rpath,target/<profile>`.
fn soname(out_dir: &std::path::Path) {
    let major = env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets it");
    let minor = env::var("CARGO_PKG_VERSION_MINOR").expect("cargo sets it");
    let soname = if major == "0" {
        format!("libkat.so.0.{minor}")
    } else {
        format!("libkat.so.{major}")
    };
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    println!("cargo:rustc-env=KAT_SONAME={soname}");
    if let Some(profile_dir) = out_dir.ancestors().nth(3) {
        let link = profile_dir.join(&soname);
        // Best effort: a read-only target directory only costs the
        // in-checkout convenience, never the build.
        #[cfg(unix)]
        if std::fs::symlink_metadata(&link).is_err() {
            let _ = std::os::unix::fs::symlink("libkat.so", &link);
        }
    }
}
