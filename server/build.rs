//! Re-embed the console bundle whenever `cargo xtask build` rewrites `target/site`
//! (rust-embed alone only notices files it embedded before).
fn main() {
    // The folder rust-embed reads (see `console.rs`). Cargo re-runs a build script on every
    // build while a watched path is missing, so make sure it exists on a fresh clone.
    let site = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/site");
    let _ = std::fs::create_dir_all(site);
    println!("cargo:rerun-if-changed={site}");
}
