//! `cargo xtask test`: every lint and test suite, then one line
//! `N tests passed, M failed; K lint/build steps passed, L failed`.
//!
//! Suites run in order and a failing one does not stop the rest, so one run shows everything
//! that is wrong. Browser suites (wasm-bindgen-test, Playwright, realtime-js conformance) run in
//! a loopback-only network namespace; they are compiled before entering it, since the namespace
//! reaches no registry.

use std::process::Command;

use anyhow::Result;

use crate::build;
use crate::netns::LoopbackNamespace;
use crate::util::{cargo, run_tee, BackgroundProcess};

const WASM: &str = "wasm32-unknown-unknown";
/// Where tests/web_realtime.rs finds pairux-server inside the test namespace.
const WASM_TEST_SERVER: &str = "127.0.0.1:18765";

/// What an outcome counts: test cases of a suite, or one lint or build step.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Tests,
    Step,
}

/// Outcome of one suite: counts of cases, or one case for a lint or build step.
struct Outcome {
    name: &'static str,
    kind: Kind,
    passed: u64,
    failed: u64,
}

struct Runner<'a> {
    only: Option<&'a str>,
    outcomes: Vec<Outcome>,
}

impl Runner<'_> {
    fn wants(&self, name: &str) -> bool {
        self.only.is_none_or(|o| name.contains(o))
    }

    /// A suite that passes or fails as a whole (lints).
    fn check(&mut self, name: &'static str, c: &mut Command) -> bool {
        if !self.wants(name) {
            return true;
        }
        self.step(name, c)
    }

    /// A build the selected suites need: runs whatever `--only` says.
    fn step(&mut self, name: &'static str, c: &mut Command) -> bool {
        banner(name);
        let ok = run_tee(c).map(|(_, ok)| ok).unwrap_or_else(report);
        self.outcomes.push(Outcome {
            name,
            kind: Kind::Step,
            passed: u64::from(ok),
            failed: u64::from(!ok),
        });
        ok
    }

    /// A suite whose output reports test counts; a non-zero exit with no failures counted is
    /// itself one failure (e.g. a compile error).
    fn counted(&mut self, name: &'static str, c: &mut Command) {
        if !self.wants(name) {
            return;
        }
        banner(name);
        let (text, ok) = run_tee(c).unwrap_or_else(|e| (report(e).to_string(), false));
        let (passed, mut failed) = parse_counts(&text);
        if !ok && failed == 0 {
            failed = 1;
        }
        if ok && passed == 0 {
            eprintln!("xtask: suite {name} ran no test");
            failed += 1;
        }
        self.outcomes.push(Outcome {
            name,
            kind: Kind::Tests,
            passed,
            failed,
        });
    }

    /// A selected suite that could not run counts as one failure (once).
    fn not_run(&mut self, name: &'static str, why: &str) {
        if self.wants(name) && !self.outcomes.iter().any(|o| o.name == name) {
            eprintln!("xtask: {name} not run: {why}");
            self.outcomes.push(Outcome {
                name,
                kind: Kind::Tests,
                passed: 0,
                failed: 1,
            });
        }
    }
}

pub fn run(only: Option<&str>) -> Result<()> {
    let mut r = Runner {
        only,
        outcomes: Vec::new(),
    };
    r.check("fmt", cargo().args(["fmt", "--all", "--", "--check"]));
    r.check(
        "clippy-native",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    );
    // The app with its browser tests; the core as the app uses it (its own tests are native,
    // and their proptest dev-dependency does not build for wasm32).
    r.check(
        "clippy-wasm32",
        cargo().args([
            "clippy",
            "-p",
            "pairux-web",
            "--all-targets",
            "--target",
            WASM,
            "--",
            "-D",
            "warnings",
        ]),
    );
    r.check(
        "clippy-wasm32-core",
        cargo().args([
            "clippy",
            "-p",
            "pairux-core",
            "--lib",
            "--target",
            WASM,
            "--",
            "-D",
            "warnings",
        ]),
    );
    r.check(
        "clippy-wasm32-worker",
        cargo().args([
            "clippy",
            "-p",
            "pairux-worker",
            "--all-targets",
            "--target",
            WASM,
            "--",
            "-D",
            "warnings",
        ]),
    );
    // Every test binary runs even after one fails, so the closing count covers them all
    // (cargo stops at the first failing binary otherwise: a run once reported 452 tests, not
    // ~520, because of two failures in one binary).
    r.counted(
        "cargo-test",
        cargo().args(["test", "--workspace", "--no-fail-fast"]),
    );

    let browser_suites = ["wasm-bindgen-test", "conformance", "e2e"];
    if browser_suites.iter().any(|s| r.wants(s)) {
        let built = r.step("build-app", &mut build::trunk_release())
            & r.step("build-server", &mut build::native())
            & r.step(
                "build-wasm-tests",
                cargo().args(["test", "-p", "pairux-web", "--target", WASM, "--no-run"]),
            );
        if built {
            // A namespace or server that cannot start fails the suites left, and the summary
            // still comes.
            if let Err(err) = browser(&mut r) {
                let why = format!("{err:#}");
                for s in browser_suites {
                    r.not_run(s, &why);
                }
            }
        } else {
            for s in browser_suites {
                r.not_run(s, "its build failed");
            }
        }
    }
    if r.outcomes.is_empty() {
        anyhow::bail!(
            "--only {:?} selects no suite; the suites are: {}",
            only.unwrap_or_default(),
            SUITES.join(", ")
        );
    }
    summary(&r.outcomes)
}

/// Every suite and step `--only` can select (by a part of its name).
const SUITES: &[&str] = &[
    "fmt",
    "clippy-native",
    "clippy-wasm32",
    "clippy-wasm32-core",
    "clippy-wasm32-worker",
    "cargo-test",
    "wasm-bindgen-test",
    "conformance",
    "e2e",
];

fn browser(r: &mut Runner) -> Result<()> {
    let ns = LoopbackNamespace::create()?;
    let server = build::server_bin();
    let dist = build::dist();
    let node_env = |c: &mut Command| {
        c.env("PAIRUX_SERVER_BIN", &server)
            .env("PAIRUX_AGENT_BIN", build::agent_bin())
            .env("PAIRUX_DIST", &dist)
            .env("PAIRUX_IN_NETNS", "1")
            // Where Janus and coturn serve media inside the namespace (`--media-ip`).
            .env("PAIRUX_MEDIA_IP", crate::netns::MEDIA_IP);
    };
    // The glue tests in the browser talk to a real server; the namespace is private, so a fixed
    // port is free and the test knows where to find it (tests/web_realtime.rs).
    let _server = if r.wants("wasm-bindgen-test") {
        let mut c = ns.exec(&server.to_string_lossy());
        c.args(["--listen", WASM_TEST_SERVER, "--static"])
            .arg(&dist)
            .env("RUST_LOG", "pairux_server=warn");
        // The namespace's ports are not reachable from here: the test waits for it to listen.
        Some(BackgroundProcess::spawn(&mut c)?)
    } else {
        None
    };
    r.counted(
        "wasm-bindgen-test",
        ns.exec(&std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["test", "--offline", "-p", "pairux-web", "--target", WASM])
            .env(
                "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
                "wasm-bindgen-test-runner",
            )
            .env("CHROMEDRIVER", "/usr/bin/chromedriver")
            .env("WASM_BINDGEN_TEST_TIMEOUT", "60")
            .env("PAIRUX_SERVER_BIN", &server),
    );
    let mut conformance = ns.exec("node");
    conformance.args([
        "--test",
        "--test-reporter=spec",
        "--test-timeout=120000",
        "tests/conformance/",
    ]);
    node_env(&mut conformance);
    r.counted("conformance", &mut conformance);
    let mut e2e = ns.exec("node");
    // A journey that hangs fails after two minutes rather than holding CI to its limit (the
    // longest takes under 20 s).
    e2e.args([
        "--test",
        "--test-reporter=spec",
        "--test-concurrency=1",
        "--test-timeout=120000",
        "tests/e2e/",
    ]);
    node_env(&mut e2e);
    r.counted("e2e", &mut e2e);
    Ok(())
}

fn banner(name: &str) {
    eprintln!("\n==== {name} ====");
}

fn report(err: anyhow::Error) -> bool {
    eprintln!("xtask: {err:#}");
    false
}

/// Sums cargo's `test result: … N passed; M failed` lines and node's `pass N` / `fail N`.
fn parse_counts(text: &str) -> (u64, u64) {
    let (mut passed, mut failed) = (0, 0);
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("test result: ") {
            passed += number_before(rest, " passed");
            failed += number_before(rest, " failed");
        } else if let Some(n) = node_count(line, "pass") {
            passed += n;
        } else if let Some(n) = node_count(line, "fail") {
            failed += n;
        }
    }
    (passed, failed)
}

/// `ℹ pass 3` (spec reporter) or `# pass 3` (TAP).
fn node_count(line: &str, word: &str) -> Option<u64> {
    let rest = line
        .strip_prefix("ℹ ")
        .or_else(|| line.strip_prefix("# "))?
        .strip_prefix(word)?
        .strip_prefix(' ')?;
    rest.trim().parse().ok()
}

fn number_before(text: &str, suffix: &str) -> u64 {
    text.find(suffix)
        .and_then(|end| text[..end].rsplit(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn summary(outcomes: &[Outcome]) -> Result<()> {
    eprintln!("\n==== summary ====");
    for o in outcomes {
        let mark = if o.failed == 0 { "ok  " } else { "FAIL" };
        let unit = match o.kind {
            Kind::Tests => "tests",
            Kind::Step => "step",
        };
        eprintln!(
            "{mark} {:<20} {unit:<5} {:>5} passed {:>4} failed",
            o.name, o.passed, o.failed
        );
    }
    let (line, failed) = summary_line(outcomes);
    println!("{line}");
    if failed > 0 {
        anyhow::bail!("{failed} failed");
    }
    Ok(())
}

/// The closing line, test cases counted apart from lint and build steps, and the number of
/// failures of either kind (non-zero fails the run).
fn summary_line(outcomes: &[Outcome]) -> (String, u64) {
    let sum = |kind: Kind, f: fn(&Outcome) -> u64| -> u64 {
        outcomes.iter().filter(|o| o.kind == kind).map(f).sum()
    };
    let (tests_passed, tests_failed) = (
        sum(Kind::Tests, |o| o.passed),
        sum(Kind::Tests, |o| o.failed),
    );
    let (steps_passed, steps_failed) =
        (sum(Kind::Step, |o| o.passed), sum(Kind::Step, |o| o.failed));
    (
        format!(
            "{tests_passed} tests passed, {tests_failed} failed; \
             {steps_passed} lint/build steps passed, {steps_failed} failed"
        ),
        tests_failed + steps_failed,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_cargo_and_node_results() {
        let text = "test result: ok. 12 passed; 0 failed; 1 ignored\n\
                    test result: FAILED. 3 passed; 2 failed; 0 ignored\n\
                    ℹ tests 4\nℹ pass 4\nℹ fail 0\n# pass 2\n# fail 1\n\
                    ok 1 - a test named pass 9\n";
        assert_eq!(parse_counts(text), (21, 3));
    }

    #[test]
    fn summary_counts_tests_apart_from_lint_and_build_steps() {
        let o = |name, kind, passed, failed| Outcome {
            name,
            kind,
            passed,
            failed,
        };
        let outcomes = [
            o("fmt", Kind::Step, 1, 0),
            o("clippy-native", Kind::Step, 0, 1),
            o("cargo-test", Kind::Tests, 120, 0),
            o("build-app", Kind::Step, 1, 0),
            o("e2e", Kind::Tests, 40, 2),
        ];
        assert_eq!(
            summary_line(&outcomes),
            (
                "160 tests passed, 2 failed; 2 lint/build steps passed, 1 failed".to_string(),
                3
            )
        );
        let clean = [o("fmt", Kind::Step, 1, 0), o("e2e", Kind::Tests, 3, 0)];
        assert_eq!(summary_line(&clean).1, 0);
    }
}
