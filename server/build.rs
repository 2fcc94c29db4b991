//! Re-embed the console bundle whenever `cargo xtask build` rewrites `target/site`
//! (rust-embed alone only notices files it embedded before).
fn main() {
    // The folder rust-embed reads (see `console.rs`). Cargo re-runs a build script on every
    // build while a watched path is missing, so make sure it exists on a fresh clone.
    let site = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/site");
    let _ = std::fs::create_dir_all(site);
    println!("cargo:rerun-if-changed={site}");
    // Pack the executable's relative relocations (DT_RELR, glibc ≥ 2.36): a PIE has ~90 000 of
    // them, and the 2 MB table that `ld.so` reads at every start stays resident.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu")
    {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
