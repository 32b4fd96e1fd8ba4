//! The C header `include/moat.h` matches the C ABI in `src/ffi*.rs`.
//! Regenerate with `MOAT_UPDATE_HEADER=1 cargo test -p moat --test c_header`.

use std::path::PathBuf;

#[test]
fn c_header_is_current() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_src(crate_dir.join("src/ffi.rs"))
        .with_src(crate_dir.join("src/ffi_geo.rs"))
        .with_src(crate_dir.join("src/ffi_events.rs"))
        .with_src(crate_dir.join("src/ffi_metrics.rs"))
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let path = crate_dir.join("include/moat.h");
    if std::env::var("MOAT_UPDATE_HEADER").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
    }
    let current = std::fs::read(&path).unwrap_or_default();
    assert!(
        current == generated,
        "include/moat.h is out of date with src/ffi.rs: run MOAT_UPDATE_HEADER=1 cargo test -p moat --test c_header"
    );
}
