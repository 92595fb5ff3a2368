//! The focus's Realtime driver against the real server's per-client channel cap: a watcher of
//! more sessions than one socket may join still sees every session's presence.

mod realtime_support;

use std::time::Duration;

use pairux_server::focus::realtime::{ChannelEvent, RealtimeHandle};
use realtime_support::{server, token};
use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;

/// Waits for `topic`'s presence to reach `count`.
async fn presence_of(events: &mut UnboundedReceiver<ChannelEvent>, topic: &str, count: usize) {
    let wait = async {
        while let Some(event) = events.recv().await {
            if let ChannelEvent::Presence {
                topic: t, count: c, ..
            } = &event
            {
                if t == topic && *c == count {
                    return;
                }
            }
        }
        panic!("the watcher's events ended");
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap_or_else(|_| panic!("no presence of {count} on {topic}"));
}

#[tokio::test]
async fn a_watcher_of_more_sessions_than_one_socket_may_join_sees_them_all() {
    // Each client may be in 5 channels; the watcher puts 4 on a socket.
    let srv = server(&["--realtime-max-channels-per-client", "5"]).await;
    let url = srv.url("/realtime/v1/websocket", None, None);
    let key = token();
    let (watcher, mut events) = RealtimeHandle::start_with(&url, &key, 4);
    let topics: Vec<String> = (0..13)
        .map(|i| format!("realtime:pairux:watch{i}"))
        .collect();
    for t in &topics {
        watcher.watch(t);
    }
    assert_eq!(watcher.sockets(), 4);
    // Someone joins the last session and the first: both are seen.
    let (someone, _theirs) = RealtimeHandle::start(&url, &key);
    for t in [&topics[12], &topics[0]] {
        someone.join_tracked(t, "p1", json!({"id": "p1"}));
        presence_of(&mut events, t, 1).await;
    }
    // Leaving every session of a full socket ends it; the rest stay.
    for t in &topics[..4] {
        watcher.leave(t);
    }
    assert_eq!(watcher.sockets(), 3);
    someone.join_tracked(&topics[8], "p1", json!({"id": "p1"}));
    presence_of(&mut events, &topics[8], 1).await;
}
