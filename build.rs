//! A stamp of the files that decide how the app's wasm becomes what browsers download, built
//! into both apps (`BUILD_STAMP`, `src/lib.rs`): Trunk.toml (the wasm-bindgen and wasm-opt
//! versions, the loader), index.html (the rust links and their wasm-opt levels) and
//! package-lock.json (binaryen, which provides wasm-opt). Trunk names the guest app after a
//! hash of cargo's wasm, taken before wasm-bindgen and wasm-opt run; with the stamp inside,
//! a change of only those tools still gives new files a new name, never new bytes under an
//! old, immutable one (ARCHITECTURE.md, App size).

use std::fmt::Write as _;

const FILES: [&str; 3] = ["Trunk.toml", "index.html", "package-lock.json"];

fn main() {
    // FNV-1a, 64-bit: a change detector, not a security boundary.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in FILES {
        println!("cargo:rerun-if-changed={file}");
        let bytes = std::fs::read(file).unwrap_or_default();
        for b in file.bytes().chain(bytes) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "pub const BUILD_STAMP: u64 = {hash:#018x};");
    let dir = std::env::var("OUT_DIR").unwrap_or_else(|_| ".".to_owned());
    if let Err(err) = std::fs::write(std::path::Path::new(&dir).join("stamp.rs"), out) {
        println!("cargo:warning=cannot write the build stamp: {err}");
    }
}
