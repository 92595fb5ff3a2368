//! The server as a process: started with `--exit-with-parent` (as `cargo xtask run` and the
//! browser tests' harness start it), it stops once the process that started it has gone, so a
//! killed supervisor leaves no server holding its port.

use std::path::Path;
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

#[test]
fn a_server_started_with_exit_with_parent_stops_when_its_parent_has_gone() {
    let dir = std::env::temp_dir().join(format!("pairux-orphan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A parent that starts the server in the background, says its pid, lives 2 s and exits.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#""$0" --listen 127.0.0.1:0 --static "$1" --exit-with-parent >/dev/null 2>&1 & echo $!; sleep 2"#)
        .arg(env!("CARGO_BIN_EXE_pairux-server"))
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let pid: u32 = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(Path::new(&format!("/proc/{pid}")).exists() || stopped(pid));
    let since = Instant::now();
    while !stopped(pid) && since.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let took = since.elapsed();
    if !stopped(pid) {
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
        panic!("pairux-server {pid} still running {took:?} after its parent exited");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_the_flag_it_outlives_its_parent() {
    let dir = std::env::temp_dir().join(format!("pairux-kept-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#""$0" --listen 127.0.0.1:0 --static "$1" >/dev/null 2>&1 & echo $!; sleep 1"#)
        .arg(env!("CARGO_BIN_EXE_pairux-server"))
        .arg(&dir)
        .output()
        .unwrap();
    let pid: u32 = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let alive = !stopped(pid);
    let _ = std::process::Command::new("kill")
        .arg(pid.to_string())
        .status();
    assert!(
        alive,
        "a server started without --exit-with-parent stopped with its parent"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
