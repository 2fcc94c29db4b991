//! Re-embed the console bundle whenever `cargo xtask build` rewrites `target/site`
//! (rust-embed alone only notices files it embedded before), and the release binary's link
//! options.
fn main() {
    // The folder rust-embed reads (see `console.rs`). Cargo re-runs a build script on every
    // build while a watched path is missing, so make sure it exists on a fresh clone.
    let site = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/site");
    let _ = std::fs::create_dir_all(site);
    println!("cargo:rerun-if-changed={site}");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux" || var("CARGO_CFG_TARGET_ENV") != "gnu" {
        return;
    }
    // Pack the executable's relative relocations (DT_RELR, glibc ≥ 2.36): a PIE has ~90 000 of
    // them, and the 2 MB table that `ld.so` reads at every start stays resident.
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    // The rest is for the release binary linked by lld (rustc's default linker on x86_64 Linux).
    if var("PROFILE") != "release" || var("CARGO_CFG_TARGET_ARCH") != "x86_64" {
        return;
    }
    // Lay out the functions the daemon runs (start-up, the API, supervising, capture, cron)
    // together at the start of `.text`. The kernel maps a binary's code in large folios (about
    // 1 MiB per fault in a test here), so with that code spread over all 22 MB, most of the 22 MB
    // stayed resident. `cargo xtask link-order` regenerates the list; lld skips the names it no
    // longer finds.
    let order = concat!(env!("CARGO_MANIFEST_DIR"), "/link-order.txt");
    println!("cargo:rerun-if-changed={order}");
    println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={order}");
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    // Stripped here rather than by the profile (see Cargo.toml); `link-order` keeps the symbols.
    println!("cargo:rerun-if-env-changed=PROVISR_KEEP_SYMBOLS");
    if std::env::var_os("PROVISR_KEEP_SYMBOLS").is_none() {
        println!("cargo:rustc-link-arg-bins=-Wl,--strip-all");
    }
}
