//! Assembling `target/site`, the directory the server embeds:
//!
//! ```text
//! target/site/
//!   pkg/provisr.js      wasm-bindgen's JS glue (plus any `snippets/` it references)
//!   pkg/provisr.wasm    renamed from provisr_bg.wasm: leptos's HydrationScripts load /pkg/{name}.wasm
//!   pkg/provisr.css     style/main.css
//!   pkg/*.br, pkg/*.gz  precompressed copies, served when the browser accepts them
//!   …                   everything in public/, at the site root
//! ```
//!
//! The whole tree is computed in memory first, then synchronised: files whose bytes did not
//! change are not rewritten (so their mtimes stay and a warm release build doesn't re-embed and
//! relink the server for nothing), and files that are no longer produced are deleted (so a debug
//! build never serves the `.br` of an older release build).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use crate::build::OUTPUT_NAME;
use crate::Workspace;

type Tree = BTreeMap<PathBuf, Vec<u8>>;

pub fn assemble(ws: &Workspace, bindgen_dir: &Path, release: bool) -> Result<()> {
    let site = ws.site_dir();
    let mut tree = Tree::new();

    // wasm-bindgen output, with the wasm renamed the way cargo-leptos does it.
    let bg_wasm = format!("{OUTPUT_NAME}_bg.wasm");
    for (rel, bytes) in read_tree(bindgen_dir)? {
        let rel = if rel == Path::new(&bg_wasm) { PathBuf::from(format!("{OUTPUT_NAME}.wasm")) } else { rel };
        tree.insert(Path::new("pkg").join(rel), bytes);
    }
    for required in ["js", "wasm"] {
        let path = PathBuf::from(format!("pkg/{OUTPUT_NAME}.{required}"));
        if !tree.contains_key(&path) {
            bail!("wasm-bindgen did not produce {}", path.display());
        }
    }

    let css = ws.root.join("style").join("main.css");
    let css_bytes = fs::read(&css).with_context(|| format!("reading the console's CSS {}", css.display()))?;
    tree.insert(PathBuf::from(format!("pkg/{OUTPUT_NAME}.css")), css_bytes);

    let public = ws.root.join("public");
    if public.is_dir() {
        for (rel, bytes) in read_tree(&public)? {
            if rel.starts_with("pkg") {
                bail!("public/{} would clash with the generated pkg/", rel.display());
            }
            tree.insert(rel, bytes);
        }
    }

    precompress(&mut tree, &site, release)?;
    let (written, removed) = sync(&site, &tree)?;
    println!("site: {} files in {} ({written} written, {removed} removed)", tree.len(), site.display());
    report_sizes(&tree);
    Ok(())
}

/// Adds `<file>.br` and `<file>.gz` for every file under `pkg/`. Compression is deterministic,
/// so when a file's bytes equal what is already on disk and both compressed copies exist, those
/// are reused instead of recomputed (brotli at quality 11 takes a few seconds on the wasm).
fn precompress(tree: &mut Tree, site: &Path, release: bool) -> Result<()> {
    // Release builds pay for the best ratio; debug builds (4 MB wasm) only need to be quick.
    let (brotli_quality, gzip_level) =
        if release { (11, flate2::Compression::best()) } else { (4, flate2::Compression::fast()) };
    let sources: Vec<PathBuf> = tree.keys().filter(|path| path.starts_with("pkg")).cloned().collect();
    for path in sources {
        let bytes = &tree[&path];
        let br_path = with_suffix(&path, "br");
        let gz_path = with_suffix(&path, "gz");
        let on_disk = site.join(&path);
        let unchanged = fs::read(&on_disk).is_ok_and(|old| &old == bytes);
        let cached = match (fs::read(site.join(&br_path)), fs::read(site.join(&gz_path))) {
            (Ok(br), Ok(gz)) if unchanged => Some((br, gz)),
            _ => None,
        };
        let (br, gz) = match cached {
            Some(pair) => pair,
            None => (
                brotli(bytes, brotli_quality).with_context(|| format!("brotli {}", path.display()))?,
                gzip(bytes, gzip_level).with_context(|| format!("gzip {}", path.display()))?,
            ),
        };
        tree.insert(br_path, br);
        tree.insert(gz_path, gz);
    }
    Ok(())
}

fn brotli(bytes: &[u8], quality: i32) -> Result<Vec<u8>> {
    let params = brotli::enc::BrotliEncoderParams { quality, lgwin: 22, size_hint: bytes.len(), ..Default::default() };
    let mut out = Vec::new();
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)?;
    Ok(out)
}

fn gzip(bytes: &[u8], level: flate2::Compression) -> Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), level);
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// Every regular file below `dir`, keyed by its path relative to `dir`.
fn read_tree(dir: &Path) -> Result<Tree> {
    let mut tree = Tree::new();
    for rel in list_files(dir)? {
        let path = dir.join(&rel);
        let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        tree.insert(rel, bytes);
    }
    Ok(tree)
}

/// Relative paths of the regular files below `dir` (empty if `dir` does not exist).
fn list_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        let abs = dir.join(&rel);
        let entries = match fs::read_dir(&abs) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err).with_context(|| format!("listing {}", abs.display())),
        };
        for entry in entries {
            let entry = entry?;
            let child = rel.join(entry.file_name());
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(child);
            } else if kind.is_file() {
                files.push(child);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Makes `site` hold exactly `tree`; returns (files written, files removed).
fn sync(site: &Path, tree: &Tree) -> Result<(usize, usize)> {
    let mut written = 0;
    for (rel, bytes) in tree {
        let path = site.join(rel);
        if fs::read(&path).is_ok_and(|old| &old == bytes) {
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        written += 1;
    }
    let mut removed = 0;
    for rel in list_files(site)? {
        if !tree.contains_key(&rel) {
            let path = site.join(&rel);
            fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            removed += 1;
        }
    }
    remove_empty_dirs(site)?;
    Ok((written, removed))
}

fn remove_empty_dirs(dir: &Path) -> Result<bool> {
    let mut empty = true;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() && remove_empty_dirs(&entry.path())? {
            fs::remove_dir(entry.path())?;
        } else {
            empty = false;
        }
    }
    Ok(empty)
}

fn report_sizes(tree: &Tree) {
    for ext in ["wasm", "js", "css"] {
        let path = PathBuf::from(format!("pkg/{OUTPUT_NAME}.{ext}"));
        let size = |p: &Path| tree.get(p).map_or(0, Vec::len) / 1024;
        println!(
            "  {:<22} {:>6} KiB  (gzip {:>5} KiB, brotli {:>5} KiB)",
            path.display(),
            size(&path),
            size(&with_suffix(&path, "gz")),
            size(&with_suffix(&path, "br")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_copies_round_trip() {
        let text = b"provisr ".repeat(1000);
        let br = brotli(&text, 11).expect("brotli");
        let mut decoded = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut decoded).expect("unbrotli");
        assert_eq!(decoded, text);

        let gz = gzip(&text, flate2::Compression::best()).expect("gzip");
        let mut decoded = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut decoded).expect("gunzip");
        assert_eq!(decoded, text);
    }

    #[test]
    fn suffix_is_appended() {
        assert_eq!(with_suffix(Path::new("pkg/provisr.wasm"), "br"), PathBuf::from("pkg/provisr.wasm.br"));
    }
}
