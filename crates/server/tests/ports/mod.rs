//! Ports for the servers a test starts (a binary's tests run in parallel, each with its own
//! pairux-server, Janus nodes and coturn): blocks of consecutive ports, each free for TCP and
//! UDP on 127.0.0.1 when handed out, never handed out twice in one test process, and below the
//! kernel's ephemeral range (`ip_local_port_range`, 32768-60999 on Linux by default).
//!
//! Janus node `i` listens on `base + i`. Single ports from `bind(0)` come from the ephemeral
//! range, so `base + 1` was never checked and any outgoing connection on the machine could
//! take it first: two focus tests failed that way in one run ("Error creating vhost for
//! Websockets server" in janus-1's log, the server's "janus-1 did not start within 25s").

use std::collections::HashSet;
use std::sync::Mutex;

use rand::Rng as _;

/// Handed out so far by this process.
static TAKEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// Where blocks are chosen: above the well-known services tests might meet, below the
/// ephemeral range.
const LOW: u16 = 21_000;
const HIGH: u16 = 32_000;

/// The first of `len` consecutive ports nobody uses right now, reserved for this process.
pub fn free_block(len: u16) -> u16 {
    assert!((1..1000).contains(&len), "a block of {len} ports");
    let mut taken = TAKEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let taken = taken.get_or_insert_with(HashSet::new);
    let mut rng = rand::thread_rng();
    for _ in 0..10_000 {
        let base = rng.gen_range(LOW..HIGH - len);
        let ports = base..base + len;
        if ports.clone().all(|p| !taken.contains(&p) && free(p)) {
            taken.extend(ports);
            return base;
        }
    }
    panic!("no {len} free consecutive ports between {LOW} and {HIGH}");
}

fn free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
        && std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok()
}
