//! `cargo xtask compress [DIR]`: the Brotli (`.br`) and gzip (`.gz`) forms of the app's files,
//! written beside them, which pairux-server sends to a browser that accepts them
//! (`ServeDir::precompressed_br/gzip`, crates/server/src/lib.rs).
//!
//! Trunk runs it as a post-build hook (Trunk.toml) on its staging directory, so every build
//! of dist/ has them and none can be stale: a file and its forms are written by one build.
//! Compressing once at build time lets the slowest, smallest settings pay off (Brotli quality
//! 11 takes about a second for the guest app's wasm; a server compressing per request could
//! not afford it).
//!
//! Before compressing, it shrinks each wasm-bindgen pair ([`shrink`]) and then names a hashed
//! pair after what it finally holds ([`name_by_content`]).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

/// Exports of a dependency's wasm-bindgen classes the app never makes: leptos 0.8 turns on
/// `server_fn`'s `browser` feature, whose `wasm-streams` exports its stream adapters, and an
/// export keeps its code whoever uses it (7.5 KB of the guest's wasm). The JS glue only
/// reaches them from those classes, which nothing constructs.
const UNUSED_EXPORTS: [&str; 2] = ["intounderlying", "__wbg_intounderlying"];

/// Shrinks a wasm-bindgen pair: the wasm `X_bg.wasm` and its glue `X.js` beside it.
/// - Removes [`UNUSED_EXPORTS`] (not from the worker, which has none) and what only they kept.
/// - Renames every import the wasm takes from the glue to a name of one or two characters, in
///   both files ([`short_import_names`]). wasm-bindgen names each import after the function it
///   wraps plus 16 hex digits of hash (`__wbg_set_onopen_5d4bdb6344270e9b`): hundreds of
///   names that gzip cannot compress, written once in the wasm and once in the glue.
///
/// A file that is not wasm, or has no glue beside it, is left alone.
fn shrink(wasm: &Path, strip: bool) -> Result<()> {
    let bytes = std::fs::read(wasm).with_context(|| format!("reading {}", wasm.display()))?;
    if !bytes.starts_with(b"\0asm") {
        return Ok(());
    }
    let mut module = walrus::Module::from_buffer(&bytes)
        .with_context(|| format!("reading {}", wasm.display()))?;
    let unused: Vec<walrus::ExportId> = module
        .exports
        .iter()
        .filter(|e| strip && UNUSED_EXPORTS.iter().any(|p| e.name.starts_with(p)))
        .map(|e| e.id())
        .collect();
    for id in &unused {
        module.exports.delete(*id);
    }
    if !unused.is_empty() {
        walrus::passes::gc::run(&mut module);
    }
    let glue = glue_of(wasm);
    let (renamed, changed) = match std::fs::read_to_string(&glue) {
        Ok(js) => {
            let renaming = short_import_names(&mut module, &js);
            if renaming.changed {
                std::fs::write(&glue, renaming.js)
                    .with_context(|| format!("writing {}", glue.display()))?;
            }
            (renaming.renamed, renaming.changed)
        }
        Err(_) => (0, false),
    };
    // Written whenever the glue was: the two must agree (the module's name alone may differ).
    if unused.is_empty() && !changed {
        return Ok(());
    }
    let before = bytes.len();
    module
        .emit_wasm_file(wasm)
        .with_context(|| format!("writing {}", wasm.display()))?;
    let after = std::fs::metadata(wasm)?.len();
    println!(
        "compress: {} unused exports out of {}, {renamed} imports renamed ({before} → {after} bytes)",
        unused.len(),
        wasm.display()
    );
    Ok(())
}

/// Renames each content-hashed wasm-bindgen pair in `dir` (`X-<hex>_bg.wasm` and its glue
/// `X-<hex>.js`) after the first 16 hex digits of SHA-256 over the two files' final bytes,
/// and puts the new name wherever `index.html` says the old one.
///
/// Trunk hashes cargo's wasm, before wasm-bindgen, wasm-opt and [`shrink`] run, so a build
/// where only those changed would put new bytes under an old name, which pairux-server lets
/// browsers keep a year without asking (`static_cache_control`): a browser holding one file of
/// the old pair would then fail to link the other. Named after their final bytes, the two files
/// change names whenever either changes, and only then.
fn name_by_content(dir: &Path) -> Result<()> {
    use sha2::Digest as _;
    for wasm in std::fs::read_dir(dir)?.flatten().map(|e| e.path()) {
        let name = wasm.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let Some(stem) = name.strip_suffix("_bg.wasm") else {
            continue;
        };
        let Some((base, old)) = stem.rsplit_once('-') else {
            continue;
        };
        if base.is_empty()
            || !(8..=16).contains(&old.len())
            || !old.bytes().all(|b| b.is_ascii_hexdigit())
        {
            continue;
        }
        let glue = glue_of(&wasm);
        let (Ok(wasm_bytes), Ok(js_bytes)) = (std::fs::read(&wasm), std::fs::read(&glue)) else {
            continue;
        };
        let mut hasher = sha2::Sha256::new();
        for part in [&wasm_bytes, &js_bytes] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        let digest = hasher.finalize();
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let new_stem = format!("{base}-{hex}");
        if new_stem == stem {
            continue;
        }
        let html = dir.join("index.html");
        let page = std::fs::read_to_string(&html)
            .with_context(|| format!("reading {} to rename {stem}", html.display()))?;
        if !page.contains(stem) {
            anyhow::bail!("{} does not name {stem}", html.display());
        }
        std::fs::rename(&wasm, dir.join(format!("{new_stem}_bg.wasm")))?;
        std::fs::rename(&glue, dir.join(format!("{new_stem}.js")))?;
        std::fs::write(&html, page.replace(stem, &new_stem))
            .with_context(|| format!("writing {}", html.display()))?;
        println!("compress: {stem} named after its content: {new_stem}");
    }
    Ok(())
}

/// The glue wasm-bindgen wrote for `X_bg.wasm`: `X.js` beside it.
fn glue_of(wasm: &Path) -> PathBuf {
    let name = wasm.file_name().and_then(|n| n.to_str()).unwrap_or("");
    wasm.with_file_name(format!("{}.js", name.trim_end_matches("_bg.wasm")))
}

/// Renames the imports `module` takes from its glue's module (`./X_bg.js`) to short names,
/// and the glue's import object to match; returns the new glue and how many were renamed.
///
/// The glue writes each import once, as a key of its import object (`name: function…`), and
/// the module's name once, as the key of that object. A name found any other way than that
/// (twice, or not as a key) is left as it is, so the two files always agree: the app fails to
/// start on a mismatch, which every browser test would show.
fn short_import_names(module: &mut walrus::Module, js: &str) -> Renaming {
    let mut js = js.to_owned();
    let mut renamed = 0;
    let mut modules = Vec::new();
    // The glue's own module (`./X_bg.js`), not a snippet (`./snippets/…`).
    let glue_module = |m: &str| {
        m.strip_prefix("./")
            .is_some_and(|m| !m.contains('/') && m.ends_with("_bg.js"))
    };
    for import in module.imports.iter_mut() {
        if !glue_module(&import.module) {
            continue;
        }
        if !modules.contains(&import.module) {
            modules.push(import.module.clone());
        }
        let Some(at) = only_key(&js, &import.name) else {
            continue;
        };
        // Keys of one object: they need to differ only from each other, and every name not
        // renamed keeps its hash.
        let short = short_name(renamed);
        js.replace_range(at..at + import.name.len(), &short);
        import.name = short;
        renamed += 1;
    }
    let mut changed = renamed > 0;
    for (i, name) in modules.iter().enumerate() {
        let quoted = format!("\"{name}\"");
        if js.matches(&quoted).count() == 1 {
            let short = format!("{i}");
            js = js.replacen(&quoted, &format!("\"{short}\""), 1);
            for import in module.imports.iter_mut().filter(|i| &i.module == name) {
                import.module = short.clone();
            }
            changed = true;
        }
    }
    Renaming {
        js,
        renamed,
        changed,
    }
}

/// What [`short_import_names`] made of a glue.
struct Renaming {
    /// The glue, as it must be written with the module.
    js: String,
    /// Imports given a short name.
    renamed: usize,
    /// Whether anything was renamed (an import, or only the module).
    changed: bool,
}

/// Where `name` is written in `js` as an object key (`name:`, not part of a longer word), if
/// that is the only place it is written at all.
fn only_key(js: &str, name: &str) -> Option<usize> {
    let mut found = js.match_indices(name).map(|(at, _)| at);
    let at = found.next()?;
    if found.next().is_some() {
        return None;
    }
    let before = js[..at].chars().next_back();
    let after = js[at + name.len()..].chars().next();
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
    (!word(before) && after == Some(':')).then_some(at)
}

/// The `n`th short identifier: `a`…`Z`, then two characters.
fn short_name(n: usize) -> String {
    const FIRST: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const REST: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$";
    let mut out = String::new();
    let mut n = n;
    out.push(FIRST[n % FIRST.len()] as char);
    n /= FIRST.len();
    while n > 0 {
        n -= 1;
        out.push(REST[n % REST.len()] as char);
        n /= REST.len();
    }
    out
}

/// What is worth compressing: text and wasm. Images are compressed already; `index.html` is
/// never sent from disk as it is (pairux-server writes the client config into it per request).
const EXTENSIONS: [&str; 5] = ["wasm", "js", "mjs", "css", "json"];

/// A form is kept only when it saves at least this share of the file (tiny files grow).
const MIN_SAVING: f64 = 0.1;

pub fn run(dir: Option<PathBuf>) -> Result<()> {
    let dir = match dir {
        Some(dir) => dir,
        None => {
            // Trunk's hooks are told where the build is staged, and for which profile. A debug
            // build (`trunk serve` for UI work) is not what pairux-server serves, and its wasm
            // is tens of megabytes: Brotli 11 would hold every rebuild for a minute.
            if std::env::var("TRUNK_PROFILE").is_ok_and(|p| p != "release") {
                println!("compress: skipped (not a release build)");
                return Ok(());
            }
            std::env::var_os("TRUNK_STAGING_DIR")
                .map(PathBuf::from)
                .context("no directory given and TRUNK_STAGING_DIR is not set")?
        }
    };
    for wasm in std::fs::read_dir(&dir)?.flatten().map(|e| e.path()) {
        let name = wasm.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with("_bg.wasm") {
            shrink(&wasm, !name.starts_with("pairux-worker"))?;
        }
    }
    name_by_content(&dir)?;
    let files = candidates(&dir)?;
    // Largest first, on every core: the wasm files are most of the work.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let results: Vec<Result<Vec<(usize, u64, u64)>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(file) = files.get(i) else {
                            return Ok(done);
                        };
                        done.extend(compress_file(file)?);
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a worker panicked")))
            })
            .collect()
    });
    let mut written = 0usize;
    let (mut before, mut after) = (0u64, 0u64);
    for result in results {
        for (forms, from, to) in result? {
            written += forms;
            before += from;
            after += to;
        }
    }
    println!(
        "compress: {written} compressed forms in {} (Brotli: {before} → {after} bytes)",
        dir.display()
    );
    Ok(())
}

/// Writes each of `file`'s forms that pays (and removes one that does not); returns how many
/// were written, with the file's and its Brotli form's sizes (0 when Brotli did not pay).
fn compress_file(file: &Path) -> Result<Option<(usize, u64, u64)>> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let pays = |packed: &[u8]| (packed.len() as f64) <= bytes.len() as f64 * (1.0 - MIN_SAVING);
    let mut forms = 0;
    let mut br_len = None;
    for (ext, packed) in [("br", brotli(&bytes)?), ("gz", gzip(&bytes)?)] {
        let target = with_suffix(file, ext);
        if pays(&packed) {
            std::fs::write(&target, &packed)
                .with_context(|| format!("writing {}", target.display()))?;
            forms += 1;
            if ext == "br" {
                br_len = Some(packed.len() as u64);
            }
        } else if target.exists() {
            std::fs::remove_file(&target)?;
        }
    }
    Ok((forms > 0).then(|| {
        let original = if br_len.is_some() {
            bytes.len() as u64
        } else {
            0
        };
        (forms, original, br_len.unwrap_or(0))
    }))
}

/// The files under `dir` (and its subdirectories: wasm-bindgen's `snippets/`) to compress.
fn candidates(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.contains(&e))
            {
                out.push(path);
            }
        }
    }
    out.sort_by_key(|p| std::cmp::Reverse(std::fs::metadata(p).map_or(0, |m| m.len())));
    Ok(out)
}

/// `file` with `.ext` appended (`a.wasm` → `a.wasm.br`), the name ServeDir looks for.
fn with_suffix(file: &Path, ext: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

fn brotli(bytes: &[u8]) -> Result<Vec<u8>> {
    let params = ::brotli::enc::BrotliEncoderParams {
        quality: 11,
        // 16 MB window: the whole of any file here, so matches reach across the wasm.
        lgwin: 24,
        ..Default::default()
    };
    let mut out = Vec::new();
    ::brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).context("Brotli")?;
    Ok(out)
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes)?;
    Ok(gz.finish()?)
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    #[test]
    fn each_form_decodes_to_the_file_and_small_or_other_files_get_none() {
        let dir = std::env::temp_dir().join(format!("pairux-compress-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("snippets/x")).unwrap();
        let text: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("let v{i} = {};\n", i % 97).into_bytes())
            .collect();
        std::fs::write(dir.join("app_bg.wasm"), &text).unwrap();
        std::fs::write(dir.join("snippets/x/inline0.js"), &text).unwrap();
        std::fs::write(dir.join("tiny.js"), b"x").unwrap();
        std::fs::write(dir.join("index.html"), &text).unwrap();
        std::fs::write(dir.join("favicon.png"), &text).unwrap();
        // A form left from before that no longer pays is removed.
        std::fs::write(dir.join("tiny.js.br"), b"stale").unwrap();
        run(Some(dir.clone())).unwrap();

        for file in ["app_bg.wasm", "snippets/x/inline0.js"] {
            let br = std::fs::read(dir.join(format!("{file}.br"))).unwrap();
            let gz = std::fs::read(dir.join(format!("{file}.gz"))).unwrap();
            assert!(
                br.len() < text.len() / 4 && gz.len() < text.len() / 4,
                "{file}"
            );
            let mut back = Vec::new();
            ::brotli::BrotliDecompress(&mut &br[..], &mut back).unwrap();
            assert_eq!(back, text, "{file}.br");
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, text, "{file}.gz");
        }
        for none in [
            "tiny.js.br",
            "tiny.js.gz",
            "index.html.br",
            "favicon.png.gz",
        ] {
            assert!(!dir.join(none).exists(), "{none}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_stream_adapters_exports_go_and_the_rest_stay() {
        let dir = std::env::temp_dir().join(format!("pairux-strip-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut module = walrus::Module::default();
        let mut export = |name: &str| {
            let mut f = walrus::FunctionBuilder::new(&mut module.types, &[], &[]);
            f.func_body();
            let id = f.finish(vec![], &mut module.funcs);
            module.exports.add(name, id);
        };
        export("intounderlyingsink_write");
        export("__wbg_intounderlyingsource_free");
        export("main");
        let wasm = dir.join("app_bg.wasm");
        module.emit_wasm_file(&wasm).unwrap();
        shrink(&wasm, true).unwrap();
        let back = walrus::Module::from_file(&wasm).unwrap();
        let names: Vec<&str> = back.exports.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["main"]);
        assert_eq!(back.funcs.iter().count(), 1, "what only they kept went too");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn imports_from_the_glue_get_short_names_in_both_files() {
        let dir = std::env::temp_dir().join(format!("pairux-rename-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut module = walrus::Module::default();
        let ty = module.types.add(&[], &[]);
        for (from, name) in [
            ("./app_bg.js", "__wbg_set_onopen_5d4bdb6344270e9b"),
            ("./app_bg.js", "__wbindgen_init_externref_table"),
            // Written twice in the glue: which one is the key is not for us to guess.
            ("./app_bg.js", "__wbg_twice_0123456789abcdef"),
            ("./snippets/x/inline0.js", "helper"),
        ] {
            module.add_import_func(from, name, ty);
        }
        let wasm = dir.join("app_bg.wasm");
        module.emit_wasm_file(&wasm).unwrap();
        let glue = "function imports() {\n    const import0 = {\n        __proto__: null,\n        \
            __wbg_set_onopen_5d4bdb6344270e9b: function(a) { a.onopen = null; },\n        \
            __wbindgen_init_externref_table: function() {},\n        \
            __wbg_twice_0123456789abcdef: function() { /* __wbg_twice_0123456789abcdef */ },\n    };\n    \
            return { __proto__: null, \"./app_bg.js\": import0 };\n}\n";
        std::fs::write(dir.join("app.js"), glue).unwrap();
        shrink(&wasm, true).unwrap();

        let back = walrus::Module::from_file(&wasm).unwrap();
        let names: Vec<(&str, &str)> = back
            .imports
            .iter()
            .map(|i| (i.module.as_str(), i.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("0", "a"),
                ("0", "b"),
                ("0", "__wbg_twice_0123456789abcdef"),
                ("./snippets/x/inline0.js", "helper"),
            ]
        );
        let js = std::fs::read_to_string(dir.join("app.js")).unwrap();
        assert!(
            js.contains("        a: function(a) { a.onopen = null; },"),
            "{js}"
        );
        assert!(js.contains("        b: function() {},"), "{js}");
        assert!(
            js.contains("__wbg_twice_0123456789abcdef: function()"),
            "{js}"
        );
        assert!(js.contains("\"0\": import0"), "{js}");
        assert!(
            !js.contains("5d4bdb6344270e9b") && !js.contains("app_bg.js"),
            "{js}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_glue_whose_only_change_is_the_module_name_is_written_with_its_wasm() {
        let dir = std::env::temp_dir().join(format!("pairux-rename-mod-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut module = walrus::Module::default();
        let ty = module.types.add(&[], &[]);
        // Its one import is written twice in the glue: it keeps its name, the module does not.
        module.add_import_func("./app_bg.js", "__wbg_twice_0123456789abcdef", ty);
        let wasm = dir.join("app_bg.wasm");
        module.emit_wasm_file(&wasm).unwrap();
        let glue = "const import0 = { __wbg_twice_0123456789abcdef: function() {} };\n\
            // __wbg_twice_0123456789abcdef\nreturn { \"./app_bg.js\": import0 };\n";
        std::fs::write(dir.join("app.js"), glue).unwrap();
        shrink(&wasm, false).unwrap();
        let back = walrus::Module::from_file(&wasm).unwrap();
        let import = back.imports.iter().next().unwrap();
        assert_eq!(
            (import.module.as_str(), import.name.as_str()),
            ("0", "__wbg_twice_0123456789abcdef")
        );
        let js = std::fs::read_to_string(dir.join("app.js")).unwrap();
        assert!(js.contains("\"0\": import0"), "{js}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_hashed_pair_is_named_after_its_final_bytes_and_the_page_follows() {
        let dir = std::env::temp_dir().join(format!("pairux-name-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let write_pair = |stem: &str, wasm: &[u8], js: &str| {
            std::fs::write(dir.join(format!("{stem}_bg.wasm")), wasm).unwrap();
            std::fs::write(dir.join(format!("{stem}.js")), js).unwrap();
        };
        let page = "<script>var js = \"/app-00112233aabbccdd.js\"; \
            fetch(\"/app-00112233aabbccdd_bg.wasm\")</script>";
        std::fs::write(dir.join("index.html"), page).unwrap();
        write_pair("app-00112233aabbccdd", b"\0asm one", "glue");
        // Unhashed pairs (the full app, the worker) keep their names.
        write_pair("plain", b"\0asm", "glue");
        let listing = |dir: &Path| {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };

        name_by_content(&dir).unwrap();
        let first = listing(&dir);
        let stem = first
            .iter()
            .find_map(|n| n.strip_suffix("_bg.wasm").filter(|s| s.starts_with("app-")))
            .unwrap()
            .to_owned();
        assert_ne!(stem, "app-00112233aabbccdd");
        assert_eq!(stem.len(), "app-".len() + 16);
        assert!(first.contains(&format!("{stem}.js")), "{first:?}");
        assert!(first.contains(&"plain_bg.wasm".to_owned()), "{first:?}");
        let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
        assert_eq!(html, page.replace("app-00112233aabbccdd", &stem));

        // The same bytes again: the same name, nothing moves.
        name_by_content(&dir).unwrap();
        assert_eq!(listing(&dir), first);

        // Only the glue changes (as a change of only the post-build step would): a new name.
        std::fs::write(dir.join(format!("{stem}.js")), "glue, shrunk").unwrap();
        name_by_content(&dir).unwrap();
        let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
        assert!(!html.contains(&stem), "{html}");
        assert!(!dir.join(format!("{stem}_bg.wasm")).exists());

        // A page that does not name the pair is an error, not a silent break.
        std::fs::write(dir.join("index.html"), "<p>nothing</p>").unwrap();
        write_pair("other-0123456789abcdef", b"\0asm", "x");
        assert!(name_by_content(&dir).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn short_names_are_identifiers_and_all_differ() {
        let names: Vec<String> = (0..5000).map(short_name).collect();
        let distinct: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), names.len());
        assert!(names.iter().all(|n| n.len() <= 3
            && n.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')));
        assert_eq!(
            (names[0].as_str(), names[51].len(), names[52].len()),
            ("a", 1, 2)
        );
    }

    #[test]
    fn each_form_is_kept_only_where_it_pays() {
        // Short English without repeats: gzip, which needs repeats, comes out larger (103
        // bytes), Brotli's built-in dictionary still pays (73).
        let dir =
            std::env::temp_dir().join(format!("pairux-compress-small-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let text = b"The quick brown fox jumps over the lazy dog; nothing here is repeated, which gzip needs.";
        std::fs::write(dir.join("inline0.js"), text).unwrap();
        std::fs::write(dir.join("inline0.js.gz"), b"stale").unwrap();
        run(Some(dir.clone())).unwrap();
        let br = std::fs::metadata(dir.join("inline0.js.br")).unwrap().len();
        assert!((br as f64) <= text.len() as f64 * 0.9, "br: {br}");
        assert!(!dir.join("inline0.js.gz").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
