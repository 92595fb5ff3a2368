//! The server as a process: started with `--exit-with-parent` (as `cargo xtask run` and the
//! browser tests' harness start it), it stops once the process that started it has gone, so a
//! killed supervisor leaves no server holding its port.

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Whether `pid` has stopped (gone, or a zombie nobody has reaped yet).
fn stopped(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

/// A server started in the background by a shell that lives `parent_s` seconds and exits; its
/// pid and the directory it serves (removed by the caller).
fn orphaned_server(exit_with_parent: bool, parent_s: u32) -> (u32, PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "pairux-orphan-{}-{exit_with_parent}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let flag = if exit_with_parent {
        "--exit-with-parent"
    } else {
        ""
    };
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            r#""$0" --listen 127.0.0.1:0 --static "$1" {flag} >/dev/null 2>&1 & echo $!; sleep {parent_s}"#
        ))
        .arg(env!("CARGO_BIN_EXE_pairux-server"))
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let pid = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (pid, dir)
}

fn kill(pid: u32) {
    let _ = std::process::Command::new("kill")
        .arg(pid.to_string())
        .status();
}

#[test]
fn a_server_started_with_exit_with_parent_stops_when_its_parent_has_gone() {
    let (pid, dir) = orphaned_server(true, 2);
    let since = Instant::now();
    while !stopped(pid) && since.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let still = !stopped(pid);
    kill(pid);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        !still,
        "pairux-server {pid} still running {:?} after its parent exited",
        since.elapsed()
    );
}

#[test]
fn without_the_flag_it_outlives_its_parent() {
    // Also what shows the server starts with these arguments at all.
    let (pid, dir) = orphaned_server(false, 1);
    std::thread::sleep(Duration::from_secs(2));
    let alive = !stopped(pid);
    kill(pid);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        alive,
        "a server started without --exit-with-parent stopped with its parent"
    );
}
