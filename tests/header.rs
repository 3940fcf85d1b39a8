//! The committed `include/kat.h` must be exactly what cbindgen generates from
//! the source. Refresh it with `KAT_UPDATE_HEADER=1 cargo build`.

#[test]
fn committed_header_matches_generated_header() {
    let generated = std::fs::read_to_string(env!("KAT_GENERATED_HEADER"))
        .expect("build.rs writes the generated header");
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/kat.h"))
        .expect("include/kat.h is committed");
    if generated != committed {
        let line = generated
            .lines()
            .zip(committed.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| generated.lines().count().min(committed.lines().count()))
            + 1;
        panic!(
            "include/kat.h is stale (first difference at line {line}); \
             run `KAT_UPDATE_HEADER=1 cargo build` and commit it"
        );
    }
}
