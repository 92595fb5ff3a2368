//! The Realtime glue in a real browser against a real pairux-server: two links join one
//! channel, see each other's presence and exchange a broadcast.
//!
//! `cargo xtask test` starts the server at 127.0.0.1:18765 inside the test's network namespace.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use pairux_core::config::ClientConfig;
use pairux_core::realtime_client::BroadcastBody;
use pairux_core::roster::Roster;
use pairux_web::platform::fetch;
use pairux_web::realtime::{Membership, RealtimeLink, RealtimeSignals};
use pairux_web::state::ConnectionStatus;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const SERVER: &str = match option_env!("PAIRUX_WASM_TEST_SERVER") {
    Some(url) => url,
    None => "http://127.0.0.1:18765",
};

async fn sleep(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// Polls `done` every 20 ms for up to `ms`.
async fn eventually(ms: u32, what: &str, done: impl Fn() -> bool) {
    for _ in 0..ms / 20 {
        if done() {
            return;
        }
        sleep(20).await;
    }
    panic!("timed out waiting for {what}");
}

async fn config() -> ClientConfig {
    // The server may still be starting.
    for _ in 0..100 {
        if let Ok(config) = fetch::json::<ClientConfig>(&format!("{SERVER}/config.json")).await {
            return config;
        }
        sleep(100).await;
    }
    panic!("no pairux-server at {SERVER}");
}

fn signals() -> RealtimeSignals {
    RealtimeSignals::default()
}

fn membership(topic: &str, id: &str, role: &str) -> Membership {
    Membership {
        topic: topic.to_owned(),
        participant_id: id.to_owned(),
        presence: serde_json::json!({
            "role": role, "joined_at": 1_700_000_000_000u64, "profile": { "name": id }
        }),
        verify: std::rc::Rc::new(|p: &pairux_core::roster::Participant| Ok(p.clone())),
        settle: std::rc::Rc::new(|_: &Roster| false),
    }
}

#[wasm_bindgen_test]
async fn two_links_see_each_other_and_exchange_a_broadcast() {
    let owner = Owner::new();
    owner.set();
    let config = config().await;
    let topic = format!("realtime:pairux:wasm-test-{}", js_sys::Date::now());
    let (sa, sb) = (signals(), signals());
    let a = RealtimeLink::start(&config, membership(&topic, "alice", "host"), sa);
    let b = RealtimeLink::start(&config, membership(&topic, "bob", "viewer"), sb);

    let received = Rc::new(RefCell::new(Vec::new()));
    let sink = received.clone();
    b.on_broadcast(move |event, body| sink.borrow_mut().push((event, body)));

    eventually(10_000, "both connected", || {
        sa.status.get_untracked() == ConnectionStatus::Connected
            && sb.status.get_untracked() == ConnectionStatus::Connected
    })
    .await;
    eventually(10_000, "both rosters to list both", || {
        sa.roster.with_untracked(|r| r.len() == 2) && sb.roster.with_untracked(|r| r.len() == 2)
    })
    .await;
    let host_first = sb.roster.with_untracked(|r| {
        r.participants()
            .iter()
            .map(|p| p.id.clone())
            .collect::<Vec<_>>()
    });
    assert_eq!(host_first, ["alice", "bob"]);

    a.broadcast("hello", serde_json::json!({ "n": 1, "text": "héllo" }));
    eventually(5_000, "the broadcast", || !received.borrow().is_empty()).await;
    assert_eq!(
        received.borrow()[0],
        (
            "hello".to_owned(),
            BroadcastBody::Json(serde_json::json!({ "n": 1, "text": "héllo" }))
        )
    );

    // Leaving shows up on the other side.
    drop(a);
    eventually(5_000, "alice to leave", || {
        sb.roster.with_untracked(|r| r.len() == 1)
    })
    .await;
    drop(b);
}
