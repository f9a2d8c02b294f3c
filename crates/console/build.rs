//! Embeds the console's build output (`console/dist`, committed, produced by `npm run build`
//! in `console/`) into the binary: walks the directory and writes a table of
//! `include_bytes!` entries with each file's ETag, so `cargo build` needs neither npm nor
//! network access.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dist = manifest.join("../../console/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    let mut files = Vec::new();
    if dist.is_dir() {
        walk(&dist, &dist, &mut files);
    } else {
        // A checkout without the build output still compiles; the console then answers 404
        // and says how to build it.
        println!(
            "cargo:warning=console/dist is missing: run `npm ci && npm run build` in console/"
        );
    }
    files.sort();
    let mut out =
        String::from("/// Every file of console/dist: (path relative to dist, body, ETag).\n");
    out.push_str("pub(crate) static FILES: &[(&str, &[u8], &str)] = &[\n");
    for (rel, abs) in &files {
        let body = std::fs::read(abs).expect("readable console asset");
        println!("cargo:rerun-if-changed={}", abs.display());
        let _ = writeln!(
            out,
            "    ({rel:?}, include_bytes!({:?}), \"\\\"{:016x}\\\"\"),",
            abs.display().to_string(),
            fnv1a(&body)
        );
    }
    out.push_str("];\n");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    std::fs::write(out_dir.join("assets.rs"), out).expect("writable OUT_DIR");
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let entries = std::fs::read_dir(dir).expect("readable console/dist");
    for entry in entries {
        let path = entry.expect("readable console/dist entry").path();
        if path.is_dir() {
            walk(root, &path, files);
        } else {
            let rel = path
                .strip_prefix(root)
                .expect("under dist")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            files.push((rel, path));
        }
    }
}

/// A content hash for ETags: not cryptographic, only needs to change when the file does.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
