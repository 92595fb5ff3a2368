//! The Janus client machine against scripted Janus 1.1.2 conversations (frames as in
//! reference/janus.md), and its totality on arbitrary input.

use pairux_core::access::SfuGrant;
use pairux_core::janus::client::{ANSWER_TIMEOUT_MS, KEEPALIVE_MS};
use pairux_core::janus::{JanusClient, JanusEvent, JanusPhase, JanusRole, Output, Problem};
use pairux_core::session::{CandidateInit, Description, SdpKind};
use proptest::prelude::*;
use serde_json::{json, Value};

fn grant() -> SfuGrant {
    SfuGrant {
        janus_url: "ws://198.51.100.1:8188".into(),
        room: 4242,
        pin: "pin".into(),
        token: "tok".into(),
    }
}

/// Drains the client: frames sent (parsed) and events.
fn drain(c: &mut JanusClient) -> (Vec<Value>, Vec<JanusEvent>) {
    let (mut sent, mut events) = (Vec::new(), Vec::new());
    while let Some(o) = c.poll_output() {
        match o {
            Output::Send(text) => sent.push(serde_json::from_str(&text).unwrap()),
            Output::Event(e) => events.push(e),
        }
    }
    (sent, events)
}

fn tx(frame: &Value) -> String {
    frame["transaction"].as_str().unwrap().to_owned()
}

/// Runs create + attach; returns the join frame.
fn through_attach(c: &mut JanusClient) -> Value {
    c.handle_open(0);
    let (sent, _) = drain(c);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["janus"], "create");
    assert_eq!(sent[0]["token"], "tok");
    c.handle_text(
        1,
        &json!({"janus":"success","transaction":tx(&sent[0]),"data":{"id":111}}).to_string(),
    );
    let (sent, _) = drain(c);
    assert_eq!(sent[0]["janus"], "attach");
    assert_eq!(sent[0]["session_id"], 111);
    assert_eq!(sent[0]["plugin"], "janus.plugin.videoroom");
    c.handle_text(
        2,
        &json!({"janus":"success","session_id":111,"transaction":tx(&sent[0]),"data":{"id":222}})
            .to_string(),
    );
    let (mut sent, _) = drain(c);
    sent.pop().unwrap()
}

fn plugin_event(transaction: Option<&str>, data: Value, jsep: Option<Value>) -> String {
    let mut f = json!({"janus":"event","session_id":111,"sender":222,
        "plugindata":{"plugin":"janus.plugin.videoroom","data":data}});
    if let Some(t) = transaction {
        f["transaction"] = t.into();
    }
    if let Some(j) = jsep {
        f["jsep"] = j;
    }
    f.to_string()
}

#[test]
fn a_publisher_joins_publishes_once_with_e2ee_and_gets_its_answer() {
    let mut c = JanusClient::new(
        grant(),
        JanusRole::Publisher {
            display: "host".into(),
        },
    );
    // A candidate gathered before the handle exists is sent once it does.
    c.local_candidate(
        0,
        Some(CandidateInit {
            candidate: "candidate:0".into(),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
        }),
    );
    c.handle_open(0);
    let (sent, _) = drain(&mut c);
    c.handle_text(
        1,
        &json!({"janus":"success","transaction":tx(&sent[0]),"data":{"id":111}}).to_string(),
    );
    let (sent, _) = drain(&mut c);
    c.handle_text(
        2,
        &json!({"janus":"success","transaction":tx(&sent[0]),"data":{"id":222}}).to_string(),
    );
    let (sent, _) = drain(&mut c);
    assert_eq!(sent[0]["janus"], "trickle");
    assert_eq!(sent[0]["candidate"]["candidate"], "candidate:0");
    let join = &sent[1];
    assert_eq!(
        join["body"],
        json!({"request":"join","ptype":"publisher","room":4242,"pin":"pin","display":"host"})
    );
    c.handle_text(
        3,
        &json!({"janus":"ack","transaction":tx(join)}).to_string(),
    );
    c.handle_text(
        4,
        &plugin_event(
            Some(&tx(join)),
            json!({"videoroom":"joined","room":4242,"id":5551,"private_id":9,"publishers":[]}),
            None,
        ),
    );
    let (_, events) = drain(&mut c);
    assert_eq!(
        events,
        vec![
            JanusEvent::Joined { feed: 5551 },
            JanusEvent::CreateOffer { ice_restart: false }
        ]
    );
    assert_eq!(c.feed(), Some(5551));
    c.local_description(
        5,
        Description {
            kind: SdpKind::Offer,
            sdp: "v=0 offer".into(),
        },
    );
    let (sent, _) = drain(&mut c);
    assert_eq!(sent[0]["body"], json!({"request":"publish"}));
    assert_eq!(
        sent[0]["jsep"],
        json!({"type":"offer","sdp":"v=0 offer","e2ee":true})
    );
    c.handle_text(
        6,
        &json!({"janus":"ack","transaction":tx(&sent[0])}).to_string(),
    );
    c.handle_text(
        7,
        &plugin_event(
            Some(&tx(&sent[0])),
            json!({"videoroom":"event","room":4242,"configured":"ok","video_codec":"vp8"}),
            Some(json!({"type":"answer","sdp":"v=0 answer","e2ee":true})),
        ),
    );
    let (_, events) = drain(&mut c);
    assert_eq!(
        events,
        vec![JanusEvent::RemoteDescription(Description {
            kind: SdpKind::Answer,
            sdp: "v=0 answer".into()
        })]
    );
    c.handle_text(8, r#"{"janus":"webrtcup","session_id":111,"sender":222}"#);
    assert_eq!(c.phase(), JanusPhase::Up);
    assert_eq!(drain(&mut c).1, vec![JanusEvent::MediaUp]);
    // ICE restart: a new offer, sent as `configure`.
    c.restart_ice(9);
    let (_, events) = drain(&mut c);
    assert_eq!(events, vec![JanusEvent::CreateOffer { ice_restart: true }]);
    c.local_description(
        10,
        Description {
            kind: SdpKind::Offer,
            sdp: "v=0 again".into(),
        },
    );
    let (sent, _) = drain(&mut c);
    assert_eq!(sent[0]["body"], json!({"request":"configure"}));
}

#[test]
fn a_subscriber_answers_janus_offer_with_start_and_restarts_by_asking() {
    let mut c = JanusClient::new(
        grant(),
        JanusRole::Subscriber {
            feed: 5551,
            display: None,
        },
    );
    let join = through_attach(&mut c);
    assert_eq!(
        join["body"],
        json!({"request":"join","ptype":"subscriber","room":4242,"pin":"pin","streams":[{"feed":5551}]})
    );
    c.handle_text(
        3,
        &plugin_event(
            Some(&tx(&join)),
            json!({"videoroom":"attached","room":4242,"streams":[]}),
            Some(json!({"type":"offer","sdp":"v=0 sub"})),
        ),
    );
    let (_, events) = drain(&mut c);
    assert_eq!(
        events,
        vec![JanusEvent::RemoteDescription(Description {
            kind: SdpKind::Offer,
            sdp: "v=0 sub".into()
        })]
    );
    c.local_description(
        4,
        Description {
            kind: SdpKind::Answer,
            sdp: "v=0 ans".into(),
        },
    );
    let (sent, _) = drain(&mut c);
    assert_eq!(sent[0]["body"], json!({"request":"start"}));
    assert_eq!(sent[0]["jsep"]["type"], "answer");
    c.handle_text(
        5,
        &plugin_event(
            Some(&tx(&sent[0])),
            json!({"videoroom":"event","started":"ok"}),
            None,
        ),
    );
    c.handle_text(
        6,
        r#"{"janus":"trickle","sender":222,"candidate":{"completed":true}}"#,
    );
    let (_, events) = drain(&mut c);
    assert_eq!(events, vec![JanusEvent::RemoteCandidate(None)]);
    c.handle_text(7, r#"{"janus":"webrtcup","sender":222}"#);
    assert_eq!(c.phase(), JanusPhase::Up);
    assert_eq!(drain(&mut c).1, vec![JanusEvent::MediaUp]);
    c.handle_text(
        8,
        r#"{"janus":"hangup","sender":222,"reason":"ICE failed"}"#,
    );
    let (_, events) = drain(&mut c);
    assert_eq!(events, vec![JanusEvent::MediaDown]);
    c.restart_ice(9);
    let (sent, _) = drain(&mut c);
    assert_eq!(
        sent[0]["body"],
        json!({"request":"configure","restart":true})
    );
    // Events for another handle are not ours.
    c.handle_text(
        10,
        r#"{"janus":"event","sender":999,"plugindata":{"plugin":"x","data":{"videoroom":"updated"}},"jsep":{"type":"offer","sdp":"evil"}}"#,
    );
    let (_, events) = drain(&mut c);
    assert!(events.is_empty());
    assert_eq!(c.unreadable, 1);
}

#[test]
fn errors_become_problems_a_person_can_read() {
    // A refused token at the very first request.
    let mut c = JanusClient::new(
        grant(),
        JanusRole::Subscriber {
            feed: 1,
            display: None,
        },
    );
    c.handle_open(0);
    let (sent, _) = drain(&mut c);
    c.handle_text(
        1,
        &json!({"janus":"error","transaction":tx(&sent[0]),"error":{"code":403,"reason":"Unauthorized request (wrong or missing secret/token)"}}).to_string(),
    );
    let (_, events) = drain(&mut c);
    assert_eq!(events, vec![JanusEvent::Failed(Problem::Refused)]);
    assert_eq!(c.phase(), JanusPhase::Failed);

    // A room that is gone (the node restarted).
    let mut c = JanusClient::new(
        grant(),
        JanusRole::Subscriber {
            feed: 1,
            display: None,
        },
    );
    let join = through_attach(&mut c);
    c.handle_text(
        3,
        &plugin_event(
            Some(&tx(&join)),
            json!({"videoroom":"event","error_code":426,"error":"No such room (4242)"}),
            None,
        ),
    );
    let (_, events) = drain(&mut c);
    assert_eq!(events, vec![JanusEvent::Failed(Problem::RoomGone)]);

    // The socket closing.
    let mut c = JanusClient::new(
        grant(),
        JanusRole::Subscriber {
            feed: 1,
            display: None,
        },
    );
    through_attach(&mut c);
    c.handle_close();
    let (_, events) = drain(&mut c);
    assert_eq!(events, vec![JanusEvent::Failed(Problem::Unreachable)]);
    assert!(Problem::Unreachable.user_message().contains("reconnecting"));
}

#[test]
fn keepalive_every_25_s_and_an_unanswered_request_fails() {
    let mut c = JanusClient::new(
        grant(),
        JanusRole::Subscriber {
            feed: 1,
            display: None,
        },
    );
    let join = through_attach(&mut c);
    c.handle_text(
        3,
        &json!({"janus":"ack","transaction":tx(&join)}).to_string(),
    );
    c.handle_text(
        4,
        &plugin_event(
            Some(&tx(&join)),
            json!({"videoroom":"attached"}),
            Some(json!({"type":"offer","sdp":"o"})),
        ),
    );
    drain(&mut c);
    // Session created at t=1: the first keepalive is due at 1 + 25 s.
    assert_eq!(c.poll_timeout(), Some(1 + KEEPALIVE_MS));
    c.handle_timeout(1 + KEEPALIVE_MS);
    let (sent, _) = drain(&mut c);
    assert_eq!(sent[0]["janus"], "keepalive");
    assert_eq!(sent[0]["session_id"], 111);
    c.handle_text(
        KEEPALIVE_MS + 2,
        &json!({"janus":"ack","session_id":111,"transaction":tx(&sent[0])}).to_string(),
    );
    assert_eq!(c.poll_timeout(), Some(1 + 2 * KEEPALIVE_MS));
    // A keepalive nobody answers: the node is not answering.
    c.handle_timeout(1 + 2 * KEEPALIVE_MS);
    drain(&mut c);
    c.handle_timeout(1 + 2 * KEEPALIVE_MS + ANSWER_TIMEOUT_MS);
    let (_, events) = drain(&mut c);
    assert_eq!(events, vec![JanusEvent::Failed(Problem::NoAnswer)]);
}

proptest! {
    #[test]
    fn no_frame_panics_the_client(frames in proptest::collection::vec(any::<String>(), 0..20),
                                   ids in proptest::collection::vec(any::<u64>(), 0..5)) {
        let mut c = JanusClient::new(grant(), JanusRole::Publisher { display: "h".into() });
        c.handle_open(0);
        for (i, f) in frames.iter().enumerate() {
            c.handle_text(i as u64, f);
            let id = ids.get(i % ids.len().max(1)).copied().unwrap_or(1);
            c.handle_text(i as u64, &json!({"janus":"success","transaction":format!("p{}", i + 1),"data":{"id":id}}).to_string());
            c.handle_text(i as u64, &json!({"janus":"event","sender":id,"plugindata":{"data":{"videoroom":f}}, "jsep": {"type":"answer","sdp":f}}).to_string());
            c.handle_timeout(i as u64 * 10_000);
            while c.poll_output().is_some() {}
        }
    }
}

#[test]
fn a_voice_publisher_names_its_one_stream_and_ignores_janus_listing_other_publishers() {
    let mut c = JanusClient::new(
        grant(),
        JanusRole::VoicePublisher {
            display: "g1/voice".into(),
        },
    );
    let join = through_attach(&mut c);
    assert_eq!(
        join["body"],
        json!({"request":"join","ptype":"publisher","room":4242,"pin":"pin","display":"g1/voice"})
    );
    c.handle_text(
        3,
        &plugin_event(
            Some(&tx(&join)),
            json!({"videoroom":"joined","room":4242,"id":7001,"private_id":3,
                   "publishers":[{"id":5551,"display":"host","streams":[{"type":"video","mid":"0"}]}]}),
            None,
        ),
    );
    let (_, events) = drain(&mut c);
    assert_eq!(
        events,
        vec![
            JanusEvent::Joined { feed: 7001 },
            JanusEvent::CreateOffer { ice_restart: false }
        ]
    );
    c.local_description(
        4,
        Description {
            kind: SdpKind::Offer,
            sdp: "v=0 audio".into(),
        },
    );
    let (sent, _) = drain(&mut c);
    assert_eq!(
        sent[0]["body"],
        json!({"request":"publish","descriptions":[{"mid":"0","description":"voice"}]})
    );
    assert_eq!(
        sent[0]["jsep"],
        json!({"type":"offer","sdp":"v=0 audio","e2ee":true})
    );
    c.handle_text(
        5,
        &plugin_event(
            Some(&tx(&sent[0])),
            json!({"videoroom":"event","room":4242,"configured":"ok","audio_codec":"opus"}),
            Some(json!({"type":"answer","sdp":"v=0 answer"})),
        ),
    );
    let (_, events) = drain(&mut c);
    assert_eq!(
        events,
        vec![JanusEvent::RemoteDescription(Description {
            kind: SdpKind::Answer,
            sdp: "v=0 answer".into()
        })]
    );
    // Janus announcing a publisher (its own, or anyone's) makes nothing happen here: only
    // signed announcements lead to subscriptions.
    c.handle_text(
        6,
        &plugin_event(
            None,
            json!({"videoroom":"event","room":4242,
                   "publishers":[{"id":6666,"display":"injected","streams":[{"type":"audio","mid":"0"}]}]}),
            None,
        ),
    );
    c.handle_text(
        7,
        &plugin_event(
            None,
            json!({"videoroom":"event","room":4242,"unpublished":6666}),
            None,
        ),
    );
    let (sent, events) = drain(&mut c);
    assert!(sent.is_empty() && events.is_empty(), "{sent:?} {events:?}");
    assert_ne!(c.phase(), JanusPhase::Failed);
    // An ICE restart re-offers with `configure`.
    c.restart_ice(8);
    let (_, events) = drain(&mut c);
    assert_eq!(events, vec![JanusEvent::CreateOffer { ice_restart: true }]);
    c.local_description(
        9,
        Description {
            kind: SdpKind::Offer,
            sdp: "v=0 again".into(),
        },
    );
    let (sent, _) = drain(&mut c);
    assert_eq!(sent[0]["body"], json!({"request":"configure"}));
}

#[test]
fn a_voice_janus_does_not_say_its_announcer_published_is_not_published() {
    let attached = |streams: serde_json::Value| {
        let mut c = JanusClient::new(
            grant(),
            JanusRole::Subscriber {
                feed: 77,
                display: Some("alice/voice".into()),
            },
        );
        let join = through_attach(&mut c);
        c.handle_text(
            3,
            &plugin_event(
                Some(&tx(&join)),
                json!({"videoroom":"attached","room":4242,"streams":streams}),
                Some(json!({"type":"offer","sdp":"v=0 sub"})),
            ),
        );
        drain(&mut c).1
    };
    let stream = |feed: u64, display: Option<&str>| {
        let mut s = json!({"type":"audio","mid":"0","feed_id":feed,"feed_mid":"0"});
        if let Some(d) = display {
            s["feed_display"] = json!(d);
        }
        s
    };
    let offered = vec![JanusEvent::RemoteDescription(Description {
        kind: SdpKind::Offer,
        sdp: "v=0 sub".into(),
    })];
    let refused = vec![JanusEvent::Failed(Problem::NotPublished)];
    assert_eq!(attached(json!([stream(77, Some("alice/voice"))])), offered);
    // Someone else's feed (a real speaker's, or the host's screen) announced as alice's.
    assert_eq!(
        attached(json!([stream(77, Some("mallory/voice"))])),
        refused
    );
    assert_eq!(attached(json!([stream(77, Some("alice"))])), refused);
    assert_eq!(attached(json!([stream(77, None)])), refused);
    // Janus names no stream of that feed, or a stream of another.
    assert_eq!(attached(json!([])), refused);
    assert_eq!(attached(json!([stream(78, Some("alice/voice"))])), refused);
    assert_eq!(attached(json!(null)), refused);
    assert_eq!(
        attached(json!([
            stream(77, Some("alice/voice")),
            stream(77, Some("bob/voice"))
        ])),
        refused
    );
}
