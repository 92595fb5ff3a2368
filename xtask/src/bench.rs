//! `cargo xtask bench <name>`: each benchmark writes `target/bench/<name>.json` and prints a
//! table. Benchmarks are figures, never pass/fail tests.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::build;
use crate::netns::LoopbackNamespace;
use crate::util::{self, cargo};

pub fn run(name: &str) -> Result<()> {
    match name {
        "size" => size(),
        "realtime" => realtime(),
        "media" => media(),
        "input" => input(),
        "e2ee" => e2ee(),
        "sfu" => sfu(),
        "focus" => focus(),
        "legibility" => legibility(),
        "metronome" => metronome(),
        other => {
            bail!(
                "unknown benchmark `{other}` (have: size, realtime, media, input, e2ee, sfu, focus, legibility, metronome)"
            )
        }
    }
}

fn out_dir() -> Result<PathBuf> {
    let dir = util::root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Writes the JSON and prints it as a two-column table.
fn report(name: &str, figures: &Value) -> Result<()> {
    let path = out_dir()?.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(figures)? + "\n")?;
    println!("\n{name} → {}", path.display());
    report_table(figures);
    Ok(())
}

/// Prints figures as a two-column table.
fn report_table(figures: &Value) {
    if let Some(map) = figures.as_object() {
        for (k, v) in map {
            println!("  {k:<28} {v}");
        }
    }
}

/// Gzipped sizes of what a browser downloads: the full app's and the guest app's wasm + JS
/// glue, worker wasm + JS; and the wasm files' Brotli forms, which are what goes out to Chrome. A figure whose files are missing is `null` (never 0 bytes) and the
/// command fails after reporting.
fn size() -> Result<()> {
    build::app()?;
    let dist = build::dist();
    let (mut figures, mut missing) = size_figures(&dist)?;
    for (bin, crates, functions) in [
        ("pairux-web", "app_largest_crates", "app_largest_functions"),
        (
            "pairux-guest",
            "guest_largest_crates",
            "guest_largest_functions",
        ),
    ] {
        match contributors(bin) {
            Ok((c, f)) => {
                figures[crates] = c;
                figures[functions] = f;
            }
            Err(err) => {
                eprintln!("xtask: largest contributors of {bin} not measured: {err:#}");
                figures[crates] = Value::Null;
                figures[functions] = Value::Null;
                missing.push(crates);
            }
        }
    }
    report("size", &figures)?;
    if !missing.is_empty() {
        bail!(
            "not measured: {} (no such file in {}: was the app built?)",
            missing.join(", "),
            dist.display()
        );
    }
    Ok(())
}

/// What one app's wasm (`bin`: `pairux-web` or `pairux-guest`) is made of: twiggy over the
/// release build that Trunk just made (cargo's output keeps the names), put through
/// wasm-bindgen and `wasm-opt -Oz` like Trunk does but keeping names (`-g`). Sizes are of the
/// optimised code, before gzip. Returns the largest crates (functions grouped by the crate
/// that names them; generic std code is grouped as `core::<module>`) and the largest single
/// functions and data segments.
fn contributors(bin: &str) -> Result<(Value, Value)> {
    let root = util::root();
    let input = root.join(format!("target/wasm32-unknown-unknown/release/{bin}.wasm"));
    if !input.exists() {
        bail!("{} is missing", input.display());
    }
    let dir = out_dir()?.join(format!("size-named/{bin}"));
    std::fs::create_dir_all(&dir)?;
    util::run(
        util::cmd("wasm-bindgen")
            .args(["--target", "web", "--keep-debug", "--out-dir"])
            .arg(&dir)
            .arg(&input),
    )?;
    let named = dir.join("named.wasm");
    util::run(
        util::cmd(&root.join("node_modules/.bin/wasm-opt").to_string_lossy())
            .args(["-Oz", "-g"])
            .args(WASM_FEATURES)
            .arg(dir.join(format!("{bin}_bg.wasm")))
            .arg("-o")
            .arg(&named),
    )?;
    let out = std::process::Command::new("twiggy")
        .args(["top", "-n", "1000000", "-f", "json"])
        .arg(&named)
        .output()
        .context("running twiggy (installed by `cargo xtask setup`)")?;
    if !out.status.success() {
        bail!("twiggy failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let parsed: Value = serde_json::from_slice(&out.stdout).context("twiggy's JSON")?;
    let items: Vec<TwiggyItem> = parsed
        .as_array()
        .context("twiggy's JSON is not a list")?
        .iter()
        .filter_map(|i| {
            Some(TwiggyItem {
                name: i["name"].as_str()?.to_owned(),
                shallow_size: i["shallow_size"].as_u64()?,
            })
        })
        .collect();
    if items.is_empty() {
        bail!("twiggy listed nothing");
    }
    Ok(largest(&items, 15, 20))
}

/// The wasm features wasm-bindgen 0.2.130's output uses (as Trunk's wasm-opt run enables them).
const WASM_FEATURES: &[&str] = &[
    "--enable-reference-types",
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
];

struct TwiggyItem {
    name: String,
    shallow_size: u64,
}

/// The `crates` largest crates and `functions` largest items, names section left out.
fn largest(items: &[TwiggyItem], crates: usize, functions: usize) -> (Value, Value) {
    let mut by_crate: std::collections::BTreeMap<String, u64> = Default::default();
    let mut code: Vec<&TwiggyItem> = Vec::new();
    for item in items {
        if item.name.contains("names\" subsection") {
            continue;
        }
        *by_crate.entry(crate_of(&item.name)).or_default() += item.shallow_size;
        code.push(item);
    }
    let mut by_crate: Vec<(String, u64)> = by_crate.into_iter().collect();
    by_crate.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    code.sort_by_key(|i| std::cmp::Reverse(i.shallow_size));
    let crates_json = by_crate
        .into_iter()
        .take(crates)
        .map(|(name, bytes)| json!({ "crate": name, "bytes": bytes }))
        .collect();
    let functions_json = code
        .into_iter()
        .take(functions)
        .map(|i| json!({ "name": strip_hash(&i.name), "bytes": i.shallow_size }))
        .collect();
    (Value::Array(crates_json), Value::Array(functions_json))
}

/// The crate a symbol belongs to: the first path segment (`pairux_web::…`,
/// `<tachys::… as …>` → `tachys`); std's generic code as `core::<module>` / `alloc::<module>`;
/// data segments as `data`.
fn crate_of(name: &str) -> String {
    if name.starts_with("data segment") {
        return "data".to_owned();
    }
    let mut segments = name
        .split("::")
        .map(|s| {
            let s = s.rsplit(['<', ' ', '&', '(']).next().unwrap_or(s);
            s.split('[').next().unwrap_or(s)
        })
        .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    match segments.next() {
        Some(first @ ("core" | "alloc" | "std")) => match segments.next() {
            Some(module) => format!("{first}::{module}"),
            None => first.to_owned(),
        },
        Some(first) => first.to_owned(),
        None => name.chars().take(40).collect(),
    }
}

/// `…::h0123456789abcdef` → `…`.
fn strip_hash(name: &str) -> &str {
    match name.rsplit_once("::h") {
        Some((head, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
            head
        }
        _ => name,
    }
}

/// The size figures of `dist`, and the keys that had no file to measure (`null` in the figures).
fn size_figures(dist: &Path) -> Result<(Value, Vec<&'static str>)> {
    let mut figures = json!({});
    let mut missing = Vec::new();
    for (key, pick) in [
        ("app_wasm_gz_bytes", Pick::App("wasm")),
        ("app_js_gz_bytes", Pick::App("js")),
        ("guest_wasm_gz_bytes", Pick::Guest("wasm")),
        ("guest_js_gz_bytes", Pick::Guest("js")),
        ("worker_wasm_gz_bytes", Pick::Worker("wasm")),
        ("worker_js_gz_bytes", Pick::Worker("js")),
    ] {
        let found = files(dist, pick)?;
        if found.is_empty() {
            figures[key] = Value::Null;
            missing.push(key);
            continue;
        }
        let mut total = 0;
        for file in found {
            total += gzip_len(&std::fs::read(&file)?)?;
        }
        figures[key] = json!(total);
    }
    // What pairux-server sends Chrome: the build's Brotli forms (`cargo xtask compress`).
    for (key, pick) in [
        ("app_wasm_br_bytes", Pick::App("wasm")),
        ("guest_wasm_br_bytes", Pick::Guest("wasm")),
        ("worker_wasm_br_bytes", Pick::Worker("wasm")),
    ] {
        let found = files(dist, pick)?;
        let mut total = 0;
        let mut all = !found.is_empty();
        for file in found {
            let mut name = file.into_os_string();
            name.push(".br");
            match std::fs::metadata(&name) {
                Ok(meta) => total += meta.len(),
                Err(_) => all = false,
            }
        }
        if all {
            figures[key] = json!(total);
        } else {
            figures[key] = Value::Null;
            missing.push(key);
        }
    }
    Ok((figures, missing))
}

#[derive(Clone, Copy)]
enum Pick {
    /// The full app (`pairux-web`): the landing page and hosts.
    App(&'static str),
    /// The guest app (`pairux-guest-<hash>`): what a guest's page downloads.
    Guest(&'static str),
    Worker(&'static str),
}

/// Trunk names the main build `<bin>-<hash>[_bg].<ext>` (the guest app) and worker-type builds
/// `<bin>[_bg].<ext>` (the full app, `pairux-web`, and the transform worker, `pairux-worker`).
fn files(dist: &Path, pick: Pick) -> Result<Vec<PathBuf>> {
    let (prefix, ext) = match pick {
        Pick::App(ext) => ("pairux-web", ext),
        Pick::Guest(ext) => ("pairux-guest-", ext),
        Pick::Worker(ext) => ("pairux-worker", ext),
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dist).with_context(|| format!("reading {}", dist.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with(prefix) && path.extension().is_some_and(|e| e == ext) {
            found.push(path);
        }
    }
    Ok(found)
}

fn gzip_len(bytes: &[u8]) -> Result<u64> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes)?;
    Ok(gz.finish()?.len() as u64)
}

/// The Realtime load benchmark lives with the server (it needs its types); this runs it.
fn realtime() -> Result<()> {
    let out = out_dir()?.join("realtime.json");
    util::run(
        cargo()
            .args([
                "run",
                "--profile",
                build::NATIVE_PROFILE,
                "-p",
                "pairux-server",
            ])
            .args(["--bin", "pairux-realtime-bench", "--", "--out"])
            .arg(&out),
    )
}

/// Time to first frame and glass-to-glass latency of the P2P share next to the plain-page floor
/// (bench/media.mjs: headless Chromium against pairux-server serving the release build), in the
/// loopback-only namespace. The app always encrypts, so its g2g is also `g2g_e2ee_ms_*`; the
/// floor runs again with the built SFrame worker in the path (`g2g_floor_e2ee_ms_*`,
/// `e2ee_overhead_ms_p50`). Voice: mouth-to-ear while the host talks (`audio_ms_p50/p95`,
/// onsets of the fake microphone's bursts timestamped on both sides) and the screen's g2g with
/// the host's microphone on (`g2g_voice_ms_*`, `g2g_voice_minus_silent_ms_p50`). Also writes
/// `media-samples.json` and the plot `media.png`.
fn media() -> Result<()> {
    build::all()?;
    let dir = out_dir()?;
    let (json, png) = (dir.join("media.json"), dir.join("media.png"));
    let _ = std::fs::remove_file(&json);
    let ns = LoopbackNamespace::create()?;
    let measured = util::run(
        ns.exec("node")
            .arg("bench/media.mjs")
            .arg("--out")
            .arg(&json)
            .arg("--png")
            .arg(&png)
            .env("PAIRUX_SERVER_BIN", build::server_bin())
            .env("PAIRUX_DIST", build::dist())
            .env("PAIRUX_IN_NETNS", "1"),
    );
    drop(ns);
    // The script writes what it measured even when a part failed; show that, then the failure.
    if let Ok(text) = std::fs::read_to_string(&json) {
        report("media", &serde_json::from_str(&text)?)?;
        println!("  plot: {}", png.display());
    }
    measured
}

/// Legibility of shared code (bench/legibility.mjs): 1920×1080 pages of Rust code shared
/// through the app (release build, P2P, E2EE) at each quality preset and at a bench-set 2.5 Mbps
/// cap, next to a floor page with Chrome's default settings: SSIM of the received luma against
/// the source (`ssim_<kbps>kbps_<height>p`), and the time after a full-page change until the
/// received picture reaches SSIM 0.95 (`settle_ms_*`), in the loopback-only namespace. Also
/// writes `legibility-samples.json`, the plot `legibility.png` and the received frames as PNGs
/// under `target/bench/legibility/`.
fn legibility() -> Result<()> {
    build::all()?;
    let dir = out_dir()?;
    let (json, png, frames) = (
        dir.join("legibility.json"),
        dir.join("legibility.png"),
        dir.join("legibility"),
    );
    let _ = std::fs::remove_file(&json);
    let ns = LoopbackNamespace::create()?;
    let measured = util::run(
        ns.exec("node")
            .arg("bench/legibility.mjs")
            .arg("--out")
            .arg(&json)
            .arg("--png")
            .arg(&png)
            .arg("--frames")
            .arg(&frames)
            .env("PAIRUX_SERVER_BIN", build::server_bin())
            .env("PAIRUX_DIST", build::dist())
            .env("PAIRUX_IN_NETNS", "1"),
    );
    drop(ns);
    // The script writes what it measured even when a part failed; show that, then the failure.
    if let Ok(text) = std::fs::read_to_string(&json) {
        let mut figures: Value = serde_json::from_str(&text)?;
        // The table shows the figures; settings and notes stay in the file.
        if let Some(map) = figures.as_object_mut() {
            map.retain(|_, v| !v.is_object() && !v.is_array());
        }
        println!("\nlegibility → {}", json.display());
        report_table(&figures);
        println!("  plot: {}, frames: {}", png.display(), frames.display());
    }
    measured
}

/// Remote-control latency: controller input → the host's input sink (host and controller alone,
/// like the floor's two pages), and with a viewer joined, controller pointer → the relayed cursor
/// drawn on it and input under its load (`input_with_viewer_ms_*`) (bench/input.mjs: headless
/// Chromium against pairux-server serving the release build), in the loopback-only namespace,
/// against its plain-JavaScript floor in the same run (bench/input-floor.html: `input_floor_ms_*`,
/// `input_ratio_p50/p95`; with a picture streaming too, `input_floor_media_ms_*`,
/// `input_ratio_media_p50/p95`); then controller input → a real X client through pairux-agent on Xvfb
/// (`agent_ms_*`). Also writes `input-samples.json`. The script exits non-zero when a figure
/// was not measured.
fn input() -> Result<()> {
    build::all()?;
    node_bench(
        "input",
        &[
            ("PAIRUX_SERVER_BIN", build::server_bin()),
            ("PAIRUX_AGENT_BIN", build::agent_bin()),
            ("PAIRUX_DIST", build::dist()),
            ("PAIRUX_IN_NETNS", PathBuf::from("1")),
        ],
    )
}

/// Runs `bench/<name>.mjs --out target/bench/<name>.json` with `env` in the loopback-only
/// namespace, then reports what it wrote — also when a part failed (the script writes what
/// it measured; its failure is returned after).
fn node_bench(name: &str, env: &[(&str, PathBuf)]) -> Result<()> {
    let json = out_dir()?.join(format!("{name}.json"));
    let _ = std::fs::remove_file(&json);
    let ns = LoopbackNamespace::create()?;
    let mut cmd = ns.exec("node");
    cmd.arg(format!("bench/{name}.mjs")).arg("--out").arg(&json);
    for (key, value) in env {
        cmd.env(key, value);
    }
    let measured = util::run(&mut cmd);
    drop(ns);
    if let Ok(text) = std::fs::read_to_string(&json) {
        report(name, &serde_json::from_str(&text)?)?;
    }
    measured
}

/// The SFU (Janus started by pairux-server, on the namespace's veth): glass-to-glass and TTFF
/// through Janus against P2P in one run (bench/media.mjs --sfu, plot `sfu.png`), then host
/// uplink and CPU at 1–8 viewers P2P vs SFU and fan-out to 25–200 load subscribers through one
/// Janus (bench/sfu.mjs). Both halves land in `sfu.json`; a part that failed leaves its figures
/// `null` and the command fails.
fn sfu() -> Result<()> {
    build::all()?;
    let dir = out_dir()?;
    let (media_json, load_json, png) = (
        dir.join("sfu-media.json"),
        dir.join("sfu-load.json"),
        dir.join("sfu.png"),
    );
    for f in [&media_json, &load_json] {
        let _ = std::fs::remove_file(f);
    }
    let env = |c: &mut std::process::Command| {
        c.env("PAIRUX_SERVER_BIN", build::server_bin())
            .env("PAIRUX_DIST", build::dist())
            .env("PAIRUX_IN_NETNS", "1")
            .env("PAIRUX_MEDIA_IP", crate::netns::MEDIA_IP);
    };
    // A namespace per half: whatever a half leaves running (a browser after a timeout) dies
    // with its namespace instead of loading the machine under the other half.
    let ns = LoopbackNamespace::create()?;
    let mut media = ns.exec("node");
    media
        .args([
            "bench/media.mjs",
            "--sfu",
            "--only",
            "g2g,g2g_sfu,g2g_relay,ttff,ttff_sfu,audio,audio_sfu",
        ])
        .arg("--out")
        .arg(&media_json)
        .arg("--png")
        .arg(&png);
    env(&mut media);
    let measured_media = util::run(&mut media);
    drop(ns);
    let ns = LoopbackNamespace::create()?;
    let mut load = ns.exec("node");
    load.arg("bench/sfu.mjs").arg("--out").arg(&load_json);
    env(&mut load);
    let measured_load = util::run(&mut load);
    drop(ns);
    let mut figures = serde_json::Map::new();
    for f in [&media_json, &load_json] {
        if let Ok(text) = std::fs::read_to_string(f) {
            if let Value::Object(map) = serde_json::from_str(&text)? {
                figures.extend(map);
            }
        }
    }
    report("sfu", &Value::Object(figures))?;
    println!("  plot: {}", png.display());
    measured_media.and(measured_load)
}

/// SFrame throughput of the shipped transform worker, measured inside a worker in headless
/// Chromium, next to WebCrypto AES-GCM on the same frames (bench/e2ee.mjs). No peer connection,
/// but Chromium still runs in the loopback-only namespace like every browser here.
fn e2ee() -> Result<()> {
    build::app()?;
    node_bench("e2ee", &[("PAIRUX_DIST", build::dist())])
}

/// Whether Chromium hands received video frames to an encoded transform, and to the decoder,
/// on a metronome's ticks (bench/metronome.mjs): how tightly each stream of frame stamps locks
/// to a 15.625 ms grid (`*_lock_r`, 1 = one phase), the sending side as the control, in the
/// loopback-only namespace. A diagnosis of `e2ee_overhead_ms_p50`, not a target.
fn metronome() -> Result<()> {
    // The probe page is plain JavaScript: nothing of the app's build is needed.
    node_bench("metronome", &[])
}

/// Figures `bench/focus.mjs` measures through real Janus nodes (null when it is missing or fails).
const FOCUS_MEDIA_KEYS: [&str; 4] = [
    "switch_gap_ms_p50",
    "switch_gap_ms_max",
    "failover_ms_p50",
    "failover_ms_max",
];
/// Figures of the assignment simulation (null when it fails).
const FOCUS_SIM_KEYS: [&str; 3] = ["assign_ms_p50", "assign_ms_p99", "load_spread_pct"];

/// The Session Focus: (1) its decision latency and load spread in the assignment simulation
/// (pairux-core's `focus_bench` example — 1,000 sessions on 4 nodes in 2 regions — built with
/// the native profile, since xtask itself is unoptimized); (2) if `bench/focus.mjs` exists, the
/// gap a P2P → SFU switch leaves at guests and the time to a picture after a node is killed,
/// in the loopback-only namespace. Both land in `focus.json`; a part that failed or is missing
/// leaves its figures `null` (a failed script's partial figures are kept, as for `media`) and
/// the command fails after writing the file.
fn focus() -> Result<()> {
    let mut figures = serde_json::Map::new();
    for key in FOCUS_SIM_KEYS.iter().chain(&FOCUS_MEDIA_KEYS) {
        figures.insert((*key).to_owned(), Value::Null);
    }
    let mut sim = cargo();
    sim.args([
        "run",
        "--profile",
        build::NATIVE_PROFILE,
        "-p",
        "pairux-core",
        "--example",
        "focus_bench",
    ]);
    let (printed, simulated) = last_json_line(&mut sim);
    figures.extend(printed.unwrap_or_default());
    let script = util::root().join("bench/focus.mjs");
    let measured = if script.exists() {
        focus_media(&mut figures)
    } else {
        Err(anyhow::anyhow!("{} is missing", script.display()))
    };
    report("focus", &Value::Object(figures.clone()))?;
    let missing: Vec<&str> = FOCUS_SIM_KEYS
        .iter()
        .chain(&FOCUS_MEDIA_KEYS)
        .copied()
        .filter(|k| figures.get(*k).is_none_or(Value::is_null))
        .collect();
    if let Err(err) = &simulated {
        eprintln!("bench focus: simulation: {err:#}");
    }
    if let Err(err) = &measured {
        eprintln!("bench focus: media half: {err:#}");
    }
    simulated.and(measured)?;
    if !missing.is_empty() {
        bail!("not measured: {}", missing.join(", "));
    }
    Ok(())
}

/// `bench/focus.mjs` against the release build in the loopback-only namespace; merges the
/// figures it printed (also when it failed: they are what it could measure) into `figures`.
fn focus_media(figures: &mut serde_json::Map<String, Value>) -> Result<()> {
    build::all()?;
    let ns = LoopbackNamespace::create()?;
    let mut node = ns.exec("node");
    node.arg("bench/focus.mjs")
        .env("PAIRUX_SERVER_BIN", build::server_bin())
        .env("PAIRUX_DIST", build::dist())
        .env("PAIRUX_IN_NETNS", "1")
        .env("PAIRUX_MEDIA_IP", crate::netns::MEDIA_IP);
    let (printed, measured) = last_json_line(&mut node);
    drop(ns);
    figures.extend(printed.unwrap_or_default());
    measured
}

/// Runs a command with stderr shown live and stdout echoed; returns the JSON object on its last
/// non-empty stdout line (if it printed one) and whether it ran and exited 0.
fn last_json_line(
    c: &mut std::process::Command,
) -> (Option<serde_json::Map<String, Value>>, Result<()>) {
    use std::io::{BufRead, BufReader};
    eprintln!("$ {c:?}");
    let mut child = match c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
    {
        Ok(child) => child,
        Err(err) => return (None, Err(err).context(format!("cannot start {c:?}"))),
    };
    let mut last = String::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            if !line.trim().is_empty() {
                last = line;
            }
        }
    }
    let printed = match serde_json::from_str::<Value>(last.trim()) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    };
    let status = match child.wait() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(anyhow::anyhow!("{c:?} failed ({status})")),
        Err(err) => Err(err).context(format!("waiting for {c:?}")),
    };
    let status = status.and_then(|()| match printed {
        Some(_) => Ok(()),
        None => bail!("{c:?} printed no JSON object on its last stdout line"),
    });
    (printed, status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contributors_group_by_crate() {
        assert_eq!(
            crate_of("pairux_web::realtime::open_socket::{{closure}}::h0"),
            "pairux_web"
        );
        assert_eq!(
            crate_of("<tachys::view::any_view::AnyView as core::fmt::Debug>::fmt"),
            "tachys"
        );
        assert_eq!(
            crate_of("core::ptr::drop_in_place<alloc::rc::Rc<x::Inner>>::h1"),
            "core::ptr"
        );
        assert_eq!(
            crate_of("<f64 as core[c5930c85a12de822]::fmt::Display>::fmt"),
            "core::fmt"
        );
        assert_eq!(crate_of("data segment \".rodata.7\""), "data");
        assert_eq!(strip_hash("a::b::h0123456789abcdef"), "a::b");
        assert_eq!(strip_hash("a::b"), "a::b");
        let items = [
            TwiggyItem {
                name: "\"function names\" subsection".into(),
                shallow_size: 900,
            },
            TwiggyItem {
                name: "a::x::h0123456789abcdef".into(),
                shallow_size: 10,
            },
            TwiggyItem {
                name: "b::y".into(),
                shallow_size: 30,
            },
            TwiggyItem {
                name: "a::z".into(),
                shallow_size: 25,
            },
        ];
        let (crates, functions) = largest(&items, 5, 2);
        assert_eq!(
            crates,
            json!([{ "crate": "a", "bytes": 35 }, { "crate": "b", "bytes": 30 }])
        );
        assert_eq!(
            functions,
            json!([{ "name": "b::y", "bytes": 30 }, { "name": "a::z", "bytes": 25 }])
        );
    }

    #[test]
    fn size_of_nothing_is_null_not_zero() {
        let dir = std::env::temp_dir().join(format!("pairux-size-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("pairux-web_bg.wasm"), b"\0asm wasm bytes").unwrap();
        std::fs::write(dir.join("pairux-web_bg.wasm.br"), b"br").unwrap();
        // A wasm without its Brotli form: that figure is not measured either.
        std::fs::write(dir.join("pairux-worker_bg.wasm"), b"\0asm wasm bytes").unwrap();
        std::fs::write(dir.join("index.html"), b"<html>").unwrap();
        let (figures, missing) = size_figures(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(figures["app_wasm_gz_bytes"].as_u64().is_some_and(|n| n > 0));
        assert_eq!(figures["app_wasm_br_bytes"], 2);
        let absent = [
            "app_js_gz_bytes",
            "guest_wasm_gz_bytes",
            "guest_js_gz_bytes",
            "worker_js_gz_bytes",
            "guest_wasm_br_bytes",
            "worker_wasm_br_bytes",
        ];
        for key in absent {
            assert_eq!(figures[key], Value::Null, "{key}");
        }
        assert_eq!(missing, absent);
    }
}
