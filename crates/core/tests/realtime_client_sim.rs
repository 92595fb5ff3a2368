//! Simulations of the realtime client against the fake server, with injected time: the
//! timing behaviours realtime-js has (heartbeat timeout → reconnect back-off → rejoin, push
//! timeout, push buffer, rejoin schedule) and presence/roster across reconnects.

mod realtime_client_support;

use pairux_core::identity::Signer;
use pairux_core::realtime::{PresenceConfig, Vsn};
use pairux_core::realtime_client::{
    BroadcastBody, ChannelId, ChannelOptions, ChannelState, ClientEvent, ConnectionState,
    PushResult,
};
use pairux_core::roster::{Participant, Rejection, Roster, RosterEvent};
use pairux_core::Role;
use realtime_client_support::Sim;
use serde_json::{json, Value};

const TOPIC: &str = "realtime:pairux:s1";

fn presence_opts(key: &str) -> ChannelOptions {
    ChannelOptions {
        presence: PresenceConfig {
            key: key.to_owned(),
            enabled: true,
        },
        ..ChannelOptions::default()
    }
}

/// A client joined to `pairux:s1` at t = 40 (open at 20, join reply at 40).
fn joined(vsn: Vsn, opts: ChannelOptions) -> (Sim, ChannelId) {
    let mut sim = Sim::new(vsn);
    sim.client.connect(0);
    let ch = sim.client.channel("pairux:s1", opts);
    sim.client.join(0, ch);
    sim.run_until(100);
    assert!(channel_states(&sim, ch).contains(&ChannelState::Joined));
    (sim, ch)
}

fn channel_states(sim: &Sim, ch: ChannelId) -> Vec<ChannelState> {
    sim.events
        .iter()
        .filter_map(|(_, e)| match e {
            ClientEvent::Channel { ch: c, state } if *c == ch => Some(state.clone()),
            _ => None,
        })
        .collect()
}

fn connection_states(sim: &Sim) -> Vec<(u64, ConnectionState)> {
    sim.events
        .iter()
        .filter_map(|(at, e)| match e {
            ClientEvent::Connection(state) => Some((*at, state.clone())),
            _ => None,
        })
        .collect()
}

fn push_results(sim: &Sim) -> Vec<(u64, PushResult)> {
    sim.events
        .iter()
        .filter_map(|(at, e)| match e {
            ClientEvent::PushDone { result, .. } => Some((*at, result.clone())),
            _ => None,
        })
        .collect()
}

/// These simulations are about presence mechanics, not trust: every meta is believed, signed
/// by a key derived from its presence key.
fn trust_all(p: &Participant) -> Result<Participant, Rejection> {
    let mut seed = [0u8; 32];
    for (slot, b) in seed.iter_mut().zip(p.id.bytes()) {
        *slot = b;
    }
    Ok(Participant {
        signer: Some(Signer::from_seed(seed).public()),
        ..p.clone()
    })
}

fn roster_of(sim: &Sim) -> (Roster, Vec<RosterEvent>) {
    let mut roster = Roster::new();
    let mut changes = Vec::new();
    for (_, event) in &sim.events {
        if let ClientEvent::Presence { sync, .. } = event {
            changes.extend(roster.apply(sync, &trust_all));
        }
    }
    (roster, changes)
}

#[test]
fn heartbeat_timeout_closes_then_reconnects_on_the_backoff_and_rejoins() {
    let (mut sim, ch) = joined(Vsn::V2, presence_opts("p1"));
    sim.server.answer_heartbeats = false;
    sim.server.accept = false;
    // Open at 20: heartbeat at 25 020, unanswered until 50 020.
    sim.run_until(50_019);
    assert!(sim.server.client_closes.is_empty());
    sim.run_until(50_020);
    assert_eq!(
        sim.server.client_closes,
        [(50_020, 1000, "heartbeat timeout".to_owned())]
    );
    let beats: Vec<u64> = sim
        .server
        .received("heartbeat")
        .iter()
        .map(|r| r.at)
        .collect();
    assert_eq!(beats, [25_020]);
    assert_eq!(
        channel_states(&sim, ch).last(),
        Some(&ChannelState::Errored {
            reason: "heartbeat timeout".into(),
            retry_at: None
        })
    );
    // Refused tries 1 s, 2 s, 5 s, 10 s after each loss, then 10 s again.
    sim.run_until(80_000);
    let tries: Vec<u64> = sim.server.connects.iter().skip(1).map(|c| c.0).collect();
    assert_eq!(tries, [51_020, 53_040, 58_060, 68_080, 78_100]);
    let failed = sim
        .events
        .iter()
        .filter(|(_, e)| *e == ClientEvent::ConnectFailed)
        .count();
    assert_eq!(failed, 5);
    assert_eq!(
        sim.client.connection_state(),
        ConnectionState::Reconnecting {
            retry_at: 88_120,
            attempt: 6
        }
    );
    let attempts: Vec<u32> = connection_states(&sim)
        .into_iter()
        .filter_map(|(_, s)| match s {
            ConnectionState::Reconnecting { attempt, .. } => Some(attempt),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, [1, 2, 3, 4, 5, 6]);
    // The server is back: the sixth try opens and the channel rejoins at once.
    sim.server.accept = true;
    sim.server.answer_heartbeats = true;
    sim.run_until(88_200);
    assert_eq!(sim.server.connects.last().unwrap().0, 88_120);
    let joins: Vec<u64> = sim
        .server
        .received("phx_join")
        .iter()
        .map(|r| r.at)
        .collect();
    assert_eq!(joins, [20, 88_140]);
    assert_eq!(channel_states(&sim, ch).last(), Some(&ChannelState::Joined));
    // After an open, the back-off starts over.
    sim.server.drop_connection(sim.now, 1006);
    sim.run_for(2_000);
    assert_eq!(sim.server.connects.last().unwrap().0, 88_200 + 20 + 1_000);
}

#[test]
fn push_times_out_after_ten_seconds_without_reply() {
    let opts = ChannelOptions {
        broadcast: pairux_core::realtime::BroadcastConfig {
            ack: true,
            self_broadcast: false,
        },
        ..ChannelOptions::default()
    };
    let (mut sim, ch) = joined(Vsn::V2, opts);
    sim.server.mute.push("broadcast");
    sim.client.broadcast(sim.now, ch, "signal", json!({"n": 1}));
    sim.run_until(10_099);
    assert!(push_results(&sim).is_empty());
    sim.run_until(10_100);
    assert_eq!(push_results(&sim), [(10_100, PushResult::Timeout)]);
    // With replies, an ack comes back as ok.
    sim.server.mute.clear();
    sim.client.broadcast(sim.now, ch, "signal", json!({"n": 2}));
    sim.run_for(100);
    assert_eq!(push_results(&sim)[1], (10_120, PushResult::Ok(json!({}))));
}

#[test]
fn pushes_are_buffered_until_joined_capped_at_100_and_flushed_in_order() {
    let mut sim = Sim::new(Vsn::V2);
    let ch = sim.client.channel("pairux:s1", ChannelOptions::default());
    sim.client.join(0, ch);
    let ids: Vec<_> = (0..101)
        .map(|n| sim.client.broadcast(0, ch, "cursor", json!({ "n": n })))
        .collect();
    sim.pump();
    assert_eq!(sim.client.stats().dropped_pushes, 1);
    assert!(sim.events.iter().any(|(_, e)| matches!(
        e,
        ClientEvent::PushDone { id, result: PushResult::Dropped, .. } if *id == ids[0]
    )));
    sim.client.connect(0);
    sim.run_until(100);
    let sent = sim.server.received("broadcast");
    assert_eq!(sent.len(), 100);
    assert!(sent.iter().all(|r| r.binary && r.at == 40));
    let order: Vec<i64> = sent
        .iter()
        .map(|r| r.payload["payload"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(order, (1..101).collect::<Vec<i64>>());
    // Flushed pushes get fresh refs after the join's, under the current join ref.
    let join_ref = sim.server.join_ref(TOPIC).unwrap();
    assert!(sent
        .iter()
        .all(|r| r.join_ref.as_deref() == Some(join_ref.as_str())));
    let ok = push_results(&sim)
        .iter()
        .filter(|(_, r)| *r == PushResult::Ok(Value::Null))
        .count();
    assert_eq!(ok, 100, "broadcasts without ack are done once written");
}

#[test]
fn a_buffered_push_times_out_when_the_channel_never_joins() {
    let mut sim = Sim::new(Vsn::V2);
    sim.server.accept = false;
    sim.client.connect(0);
    let ch = sim.client.channel("pairux:s1", presence_opts("p1"));
    sim.client.join(0, ch);
    sim.client
        .track(500, ch, json!({"role": "viewer", "joined_at": 1}));
    sim.run_until(10_500);
    assert_eq!(push_results(&sim), [(10_500, PushResult::Timeout)]);
    // The refused socket errored the joining channel (phoenix `triggerChanError`), so its
    // join timeout was cancelled; it waits for an open socket.
    assert_eq!(
        channel_states(&sim, ch),
        [
            ChannelState::Joining,
            ChannelState::Errored {
                reason: "connect failed (1006)".into(),
                retry_at: None
            }
        ]
    );
    assert!(sim.server.received.is_empty());
}

#[test]
fn presence_diffs_before_the_state_are_applied_after_it() {
    let mut sim = Sim::new(Vsn::V2);
    sim.server.mute.push("phx_join");
    sim.client.connect(0);
    let ch = sim.client.channel("pairux:s1", presence_opts("me"));
    sim.client.join(0, ch);
    sim.run_until(100);
    let j = sim.server.received("phx_join")[0].join_ref.clone().unwrap();
    let reply = format!(
        r#"["{j}","{j}","{TOPIC}","phx_reply",{{"status":"ok","response":{{"postgres_changes":[]}}}}]"#
    );
    let diff = format!(
        r#"[null,null,"{TOPIC}","presence_diff",{{"joins":{{"b":{{"metas":[{{"phx_ref":"r2","role":"viewer","joined_at":2}}]}}}},"leaves":{{}}}}]"#
    );
    let state = format!(
        r#"["{j}",null,"{TOPIC}","presence_state",{{"a":{{"metas":[{{"phx_ref":"r1","role":"host","joined_at":1}}]}}}}]"#
    );
    for frame in [&reply, &diff] {
        sim.server.push_text(sim.now, frame);
    }
    sim.run_for(100);
    assert!(!sim
        .events
        .iter()
        .any(|(_, e)| matches!(e, ClientEvent::Presence { .. })));
    sim.server.push_text(sim.now, &state);
    sim.run_for(100);
    let syncs: Vec<_> = sim
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            ClientEvent::Presence { ch: c, sync } if *c == ch => Some(sync.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(syncs.len(), 1);
    let joined: Vec<&str> = syncs[0].joins.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(joined, ["a", "b"]);
    let (roster, _) = roster_of(&sim);
    let ids: Vec<&str> = roster
        .participants()
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(ids, ["a", "b"]);
}

#[test]
fn messages_of_an_earlier_join_are_dropped() {
    let (mut sim, ch) = joined(Vsn::V2, presence_opts("me"));
    let old = sim.server.join_ref(TOPIC).unwrap();
    // The channel crashes and rejoins after 1 s.
    sim.server.push_text(
        sim.now,
        &format!(r#"["{old}","{old}","{TOPIC}","phx_error",{{}}]"#),
    );
    sim.run_for(2_000);
    let new = sim.server.join_ref(TOPIC).unwrap();
    assert_ne!(old, new);
    let before = sim.client.stats().stale_messages;
    let events_before = sim.events.len();
    // Late frames of the old join: its close, a presence state, a reply.
    sim.server.push_text(
        sim.now,
        &format!(r#"["{old}","{old}","{TOPIC}","phx_close",{{}}]"#),
    );
    sim.server.push_text(
        sim.now,
        &format!(r#"["{old}",null,"{TOPIC}","presence_state",{{}}]"#),
    );
    sim.server.push_text(
        sim.now,
        &format!(r#"["{old}","3","{TOPIC}","phx_reply",{{"status":"ok","response":{{}}}}]"#),
    );
    // A close whose ref names the old join, even without join_ref (vsn-1 style servers).
    sim.server.push_text(
        sim.now,
        &format!(r#"[null,"{old}","{TOPIC}","phx_close",{{}}]"#),
    );
    sim.run_for(100);
    assert_eq!(sim.client.stats().stale_messages, before + 4);
    assert_eq!(sim.events.len(), events_before);
    assert_eq!(channel_states(&sim, ch).last(), Some(&ChannelState::Joined));
}

#[test]
fn phx_error_and_join_errors_rejoin_on_the_channel_backoff() {
    let (mut sim, ch) = joined(Vsn::V2, ChannelOptions::default());
    sim.server.join_error = Some("Unauthorized: You do not have permissions".into());
    let j = sim.server.join_ref(TOPIC).unwrap();
    sim.server.push_text(
        1_000,
        &format!(r#"["{j}","{j}","{TOPIC}","phx_error",{{}}]"#),
    );
    sim.run_until(40_000);
    // phx_error reaches the client at 1 020; each failed join answers 20 ms later.
    let joins: Vec<u64> = sim
        .server
        .received("phx_join")
        .iter()
        .map(|r| r.at)
        .collect();
    assert_eq!(joins, [20, 2_020, 4_040, 9_060, 19_080, 29_100, 39_120]);
    let retries: Vec<Option<u64>> = channel_states(&sim, ch)
        .into_iter()
        .filter_map(|s| match s {
            ChannelState::Errored { retry_at, .. } => Some(retry_at),
            _ => None,
        })
        .collect();
    assert_eq!(retries[..3], [Some(2_020), Some(4_040), Some(9_060)]);
    // The server recovers: the next try joins, and the back-off starts over.
    sim.server.join_error = None;
    sim.run_until(49_200);
    assert_eq!(channel_states(&sim, ch).last(), Some(&ChannelState::Joined));
}

#[test]
fn a_join_timeout_sends_leave_and_rejoins() {
    let mut sim = Sim::new(Vsn::V2);
    sim.server.mute.push("phx_join");
    sim.client.connect(0);
    let ch = sim.client.channel("pairux:s1", ChannelOptions::default());
    sim.client.join(0, ch);
    sim.run_until(10_000);
    let join = sim.server.received("phx_join")[0].clone();
    let leaves = sim.server.received("phx_leave");
    assert_eq!(leaves.len(), 1);
    assert_eq!(leaves[0].at, 10_000, "the join timeout runs from join()");
    assert_eq!(leaves[0].join_ref, join.join_ref);
    assert_eq!(
        channel_states(&sim, ch).last(),
        Some(&ChannelState::Errored {
            reason: "timeout".into(),
            retry_at: Some(11_000)
        })
    );
    sim.run_until(11_000);
    assert_eq!(sim.server.received("phx_join").len(), 2);
}

#[test]
fn a_refused_token_is_reported_and_a_new_token_is_used() {
    let mut sim = Sim::new(Vsn::V2);
    sim.server.join_error = Some("InvalidJWTToken: Token has expired 12 seconds ago".into());
    sim.client.connect(0);
    let ch = sim.client.channel("pairux:s1", ChannelOptions::default());
    sim.client.join(0, ch);
    sim.run_until(100);
    assert!(sim.events.iter().any(|(_, e)| *e
        == ClientEvent::TokenRefused {
            ch,
            reason: "InvalidJWTToken: Token has expired 12 seconds ago".into()
        }));
    // The driver fetched a fresh token; the scheduled rejoin carries it.
    sim.server.join_error = None;
    sim.client.set_access_token(sim.now, "fresh.jwt".into());
    sim.run_until(1_100);
    let join = sim
        .server
        .received("phx_join")
        .last()
        .copied()
        .cloned()
        .unwrap();
    assert_eq!(join.payload["access_token"], json!("fresh.jwt"));
    assert_eq!(channel_states(&sim, ch).last(), Some(&ChannelState::Joined));
    // A newer token goes to the joined channel at once; the same one again does nothing.
    sim.client.set_access_token(sim.now, "fresher.jwt".into());
    sim.client.set_access_token(sim.now, "fresher.jwt".into());
    sim.run_for(100);
    let refreshes = sim.server.received("access_token");
    assert_eq!(refreshes.len(), 1);
    assert_eq!(refreshes[0].payload, json!({"access_token": "fresher.jwt"}));
    assert_eq!(refreshes[0].join_ref, join.join_ref);
    // A token that goes bad mid-session: system error, then the channel closes for good.
    let j = join.join_ref.unwrap();
    let system = format!(
        r#"["{j}",null,"{TOPIC}","system",{{"extension":"system","status":"error","message":"Token has expired 3 seconds ago","channel":"pairux:s1"}}]"#
    );
    sim.server.push_text(sim.now, &system);
    sim.server.push_text(
        sim.now,
        &format!(r#"["{j}","{j}","{TOPIC}","phx_close",{{}}]"#),
    );
    let from = sim.now;
    sim.run_for(30_000);
    let tail = sim.events_since(from);
    assert!(tail.contains(&ClientEvent::TokenRefused {
        ch,
        reason: "Token has expired 3 seconds ago".into()
    }));
    assert!(tail.contains(&ClientEvent::System {
        ch,
        status: "error".into(),
        message: "Token has expired 3 seconds ago".into()
    }));
    assert_eq!(channel_states(&sim, ch).last(), Some(&ChannelState::Closed));
    assert_eq!(
        sim.server.received("phx_join").len(),
        2,
        "no rejoin after a close"
    );
}

/// Join, track, broadcast to ourselves, leave — the same story on both protocol versions.
fn full_story(vsn: Vsn) {
    let opts = ChannelOptions {
        broadcast: pairux_core::realtime::BroadcastConfig {
            ack: true,
            self_broadcast: true,
        },
        ..presence_opts("me")
    };
    let (mut sim, ch) = joined(vsn, opts);
    let meta = json!({"role": "host", "joined_at": 7, "profile": "sealed"});
    sim.client.track(sim.now, ch, meta);
    sim.client
        .broadcast(sim.now, ch, "signal", json!({"to": "x", "sdp": "v=0"}));
    let binary = sim
        .client
        .broadcast_binary(sim.now, ch, "frame", vec![0, 1, 255]);
    sim.run_for(100);
    let (roster, _) = roster_of(&sim);
    assert_eq!(roster.get("me").map(|p| p.role), Some(Role::Host));
    let broadcasts: Vec<(String, BroadcastBody)> = sim
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            ClientEvent::Broadcast { event, payload, .. } => Some((event.clone(), payload.clone())),
            _ => None,
        })
        .collect();
    let json_echo = (
        "signal".to_owned(),
        BroadcastBody::Json(json!({"to": "x", "sdp": "v=0"})),
    );
    let results = push_results(&sim);
    match vsn {
        Vsn::V2 => {
            let bytes = ("frame".to_owned(), BroadcastBody::Binary(vec![0, 1, 255]));
            assert_eq!(broadcasts, [json_echo, bytes]);
            assert_eq!(results.len(), 3);
            assert!(results.iter().all(|(_, r)| *r == PushResult::Ok(json!({}))));
        }
        Vsn::V1 => {
            assert_eq!(broadcasts, [json_echo]);
            let failed = sim.events.iter().find_map(|(_, e)| match e {
                ClientEvent::PushDone { id, result, .. } if *id == binary => Some(result.clone()),
                _ => None,
            });
            assert_eq!(
                failed,
                Some(PushResult::Error(
                    json!({"reason": "binary broadcasts need protocol 2.0.0"})
                ))
            );
        }
    }
    sim.client.leave(sim.now, ch);
    sim.run_for(100);
    let states = channel_states(&sim, ch);
    assert_eq!(
        states[states.len() - 2..],
        [ChannelState::Leaving, ChannelState::Closed]
    );
    assert_eq!(sim.server.received("phx_leave").len(), 1);
    assert_eq!(
        sim.client.stats(),
        Default::default(),
        "nothing was dropped"
    );
}

#[test]
fn vsn2_full_story() {
    full_story(Vsn::V2);
}

#[test]
fn vsn1_full_story() {
    full_story(Vsn::V1);
}

#[test]
fn a_server_restart_gives_back_the_same_roster_without_duplicates() {
    let (mut sim, ch) = joined(Vsn::V2, presence_opts("me"));
    let other = sim.server.other_joins(
        sim.now,
        TOPIC,
        "host-1",
        json!({"role": "host", "joined_at": 1}),
    );
    sim.client
        .track(sim.now, ch, json!({"role": "viewer", "joined_at": 5}));
    sim.run_for(100);
    assert_eq!(roster_of(&sim).0.len(), 2);
    // The server dies; our meta goes with our socket, the host's survives on its own.
    sim.server.drop_connection(sim.now, 1006);
    let lost_at = sim.now + 20;
    sim.run_for(500);
    assert!(matches!(
        connection_states(&sim).last(),
        Some((_, ConnectionState::Reconnecting { attempt: 1, .. }))
    ));
    sim.run_for(2_000);
    assert_eq!(sim.server.connects.last().unwrap().0, lost_at + 1_000);
    // Rejoined: the new state has only the host. The driver tracks again after each join.
    let (roster, _) = roster_of(&sim);
    let ids: Vec<&str> = roster
        .participants()
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(ids, ["host-1"]);
    sim.client
        .track(sim.now, ch, json!({"role": "viewer", "joined_at": 5}));
    sim.run_for(100);
    let (roster, changes) = roster_of(&sim);
    let ids: Vec<&str> = roster
        .participants()
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(ids, ["host-1", "me"]);
    let host_joins = changes
        .iter()
        .filter(|c| matches!(c, RosterEvent::Joined(p) if p.id == "host-1"))
        .count();
    assert_eq!(host_joins, 1, "the host never left nor joined twice");
    sim.server.other_leaves(sim.now, TOPIC, "host-1", &other);
    sim.run_for(100);
    assert_eq!(roster_of(&sim).0.len(), 1);
}

#[test]
fn disconnect_is_clean_and_connect_rejoins() {
    let (mut sim, ch) = joined(Vsn::V2, ChannelOptions::default());
    sim.client.disconnect(sim.now);
    sim.run_for(60_000);
    assert_eq!(sim.server.client_closes, [(100, 1000, String::new())]);
    assert_eq!(
        sim.server.connects.len(),
        1,
        "no reconnect after disconnect"
    );
    assert_eq!(sim.client.connection_state(), ConnectionState::Closed);
    assert_eq!(sim.client.poll_timeout(), None);
    sim.client.connect(sim.now);
    sim.run_for(100);
    assert_eq!(channel_states(&sim, ch).last(), Some(&ChannelState::Joined));
}

#[test]
fn heartbeats_and_pushes_share_one_increasing_ref_counter() {
    let (mut sim, ch) = joined(Vsn::V1, presence_opts("me"));
    for n in 0..3 {
        sim.client
            .track(sim.now, ch, json!({"role": "viewer", "joined_at": n}));
        sim.run_for(30_000);
    }
    sim.server.drop_connection(sim.now, 1006);
    sim.run_for(30_000);
    let refs: Vec<u64> = sim
        .server
        .received
        .iter()
        .map(|r| r.msg_ref.as_deref().unwrap().parse().unwrap())
        .collect();
    assert!(refs.len() > 8);
    assert!(refs.windows(2).all(|w| w[0] < w[1]), "refs {refs:?}");
    assert!(sim
        .server
        .received("heartbeat")
        .iter()
        .all(|r| r.join_ref.is_none()));
}

#[test]
fn junk_is_counted_and_changes_nothing() {
    let (mut sim, ch) = joined(Vsn::V2, presence_opts("me"));
    for junk in [
        "",
        "{",
        "[1,2,3]",
        r#"{"topic":"x"}"#,
        r#"[null,null,"realtime:pairux:s1","presence_state",[1]]"#,
        r#"[null,null,"realtime:pairux:s1","broadcast",{"payload":1}]"#,
        r#"[null,"9","realtime:pairux:s1","phx_reply",{"status":"maybe"}]"#,
    ] {
        sim.server.push_text(sim.now, junk);
    }
    sim.server.push_text(
        sim.now,
        r#"[null,null,"realtime:elsewhere","broadcast",{"event":"e","payload":{}}]"#,
    );
    sim.server.push_text(
        sim.now,
        r#"[null,null,"realtime:pairux:s1","postgres_changes",{}]"#,
    );
    sim.run_for(100);
    sim.client.handle_binary(sim.now, &[4, 200]);
    sim.client.handle_binary(sim.now, &[3, 0, 0, 0, 0, 0, 1]);
    let stats = sim.client.stats();
    assert_eq!(stats.malformed_frames, 9);
    assert_eq!(stats.unroutable_messages, 2);
    assert_eq!(channel_states(&sim, ch).last(), Some(&ChannelState::Joined));
    // Socket events in the wrong state are ignored.
    sim.client.handle_open(sim.now);
    assert_eq!(sim.client.stats().ignored_socket_events, 1);
}
