//! The Session Focus's decision logic against simulated nodes, sessions and clocks: placement
//! by region and corrected stress, the overload limit, rampup, drain, failover, a focus
//! restored from the database, the Auto upgrade, closing and reopening, two focus processes
//! racing on a shared store, and random event sequences checked against invariants.

use std::collections::BTreeMap;

use pairux_core::focus::brain::{Focus, FocusConfig, NodeHealth, NodeSpec};
use pairux_core::focus::{Decision, Reason};
use pairux_core::session::{StartMode, Topology};
use pairux_core::SessionId;
use proptest::prelude::*;

const T0: u64 = 1_700_000_000_000;

fn sid(n: u32) -> SessionId {
    let mut bytes = [0; 16];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    SessionId::from_bytes(bytes)
}

fn spec(id: &str, region: &str, capacity: u32) -> NodeSpec {
    NodeSpec {
        id: id.into(),
        region: region.into(),
        capacity,
    }
}

/// A focus with these nodes, all probed Up at `T0`.
fn focus_up(nodes: &[(&str, &str, u32)]) -> Focus {
    let mut f = Focus::new(FocusConfig::default());
    for &(id, region, cap) in nodes {
        f.add_node(spec(id, region, cap));
        assert!(f.probe(T0, id, true).is_empty());
    }
    f
}

fn node_of(f: &Focus, s: u32) -> Option<String> {
    f.decision(&sid(s)).and_then(|d| d.node.clone())
}

fn open_sfu(f: &mut Focus, now: u64, s: u32, region: &str) -> Decision {
    f.open(now, sid(s), StartMode::Sfu, Some(region.into()))
        .expect("a new session gets a decision")
}

#[test]
fn default_config_is_the_documented_one() {
    let c = FocusConfig::default();
    assert_eq!(
        (
            c.threshold,
            c.stress_limit,
            c.misses_down,
            c.rampup_ms,
            c.closed_keep_ms
        ),
        (10, 0.8, 2, 20_000, 86_400_000)
    );
}

#[test]
fn sfu_sessions_go_to_their_region_then_to_the_least_stressed_node() {
    let mut f = focus_up(&[
        ("eu-1", "eu", 100),
        ("eu-2", "eu", 100),
        ("us-1", "us", 100),
    ]);
    let d = open_sfu(&mut f, T0, 1, "eu");
    assert_eq!(
        (d.seq, d.topology, d.node.as_deref(), d.reason, d.at),
        (1, Topology::Sfu, Some("eu-1"), Reason::Start, T0)
    );
    // Equal stress: the smaller id; then the less stressed one of the region.
    assert_eq!(open_sfu(&mut f, T0, 2, "eu").node.as_deref(), Some("eu-2"));
    assert_eq!(open_sfu(&mut f, T0, 3, "eu").node.as_deref(), Some("eu-1"));
    assert_eq!(open_sfu(&mut f, T0, 4, "us").node.as_deref(), Some("us-1"));
    assert_eq!(open_sfu(&mut f, T0, 5, "us").node.as_deref(), Some("us-1"));
    // A region without nodes, and no region: the least stressed anywhere (eu-1, eu-2, us-1
    // carry 2, 1, 2 → eu-2; then all carry 2 → eu-1).
    assert_eq!(open_sfu(&mut f, T0, 6, "ap").node.as_deref(), Some("eu-2"));
    let d = f.open(T0, sid(7), StartMode::Sfu, None).unwrap();
    assert_eq!(d.node.as_deref(), Some("eu-1"));
    // Weights follow presence: a big session makes its node the most stressed.
    assert_eq!(f.participants(T0, &sid(1), 40), None);
    assert_eq!(f.assigned("eu-1"), Some(42));
    assert_eq!(open_sfu(&mut f, T0, 8, "eu").node.as_deref(), Some("eu-2"));
    assert_eq!(
        f.sessions_on("eu-1"),
        vec![sid(1), sid(3), sid(7)],
        "sessions_on lists a node's sessions in id order"
    );
}

#[test]
fn stress_is_the_larger_of_report_plus_rampup_and_our_own_sum() {
    let mut f = focus_up(&[("a", "eu", 50)]);
    assert_eq!(f.stress(T0, "a"), Some(0.0));
    assert_eq!(f.stress(T0, "nope"), None);
    open_sfu(&mut f, T0, 1, "eu");
    f.participants(T0, &sid(1), 5);
    // Janus has not seen them yet: 0 reported + 5 added just now.
    f.report_load(T0 + 1, "a", 0);
    assert_eq!(f.stress(T0 + 1, "a"), Some(0.1));
    // Janus knows 20 participants (some not ours): 20 + 5 recent.
    f.report_load(T0 + 2, "a", 20);
    assert_eq!(f.stress(T0 + 2, "a"), Some(0.5));
    // After the rampup window the report stands alone (it has caught up by then) …
    assert_eq!(f.stress(T0 + 20_000, "a"), Some(0.4));
    // … but never below what we assigned ourselves.
    f.report_load(T0 + 20_000, "a", 1);
    assert_eq!(f.stress(T0 + 20_000, "a"), Some(0.1));
    assert!(f.tick(T0 + 20_000).is_empty());
    assert_eq!(f.stress(T0 + 20_000, "a"), Some(0.1));
}

#[test]
fn overloaded_nodes_are_avoided_and_when_all_are_overloaded_the_least_stressed_takes_it() {
    let mut f = focus_up(&[("eu-1", "eu", 10), ("us-1", "us", 10)]);
    f.report_load(T0, "eu-1", 8); // stress 0.8: at the limit counts as overloaded
    assert_eq!(open_sfu(&mut f, T0, 1, "eu").node.as_deref(), Some("us-1"));
    f.report_load(T0, "eu-1", 7); // 0.7: below, back in region
    assert_eq!(open_sfu(&mut f, T0, 2, "eu").node.as_deref(), Some("eu-1"));
    // Everything over the limit: still placed, on the least stressed node, whatever the
    // region (us-1: 9 reported + session 1 = 1.0; eu-1: 8 + session 2 = 0.9).
    f.report_load(T0, "us-1", 9);
    f.report_load(T0, "eu-1", 8);
    assert_eq!(f.stress(T0, "us-1"), Some(1.0));
    assert_eq!(f.stress(T0, "eu-1"), Some(0.9));
    assert_eq!(open_sfu(&mut f, T0, 3, "us").node.as_deref(), Some("eu-1"));
    // Both at 1.0 now: the smaller id.
    assert_eq!(open_sfu(&mut f, T0, 4, "us").node.as_deref(), Some("eu-1"));
    assert_eq!(open_sfu(&mut f, T0, 5, "us").node.as_deref(), Some("us-1"));
}

#[test]
fn a_burst_in_one_instant_spreads_instead_of_piling_onto_the_lagging_node() {
    // jicofo#943: Janus last said `a` carries 10 and `b` 20; 20 sessions of 1 arrive in the
    // same millisecond before either report moves. Without counting what was just added, all
    // 20 would go to `a` (10 + 0 < 20 throughout, our own sum on `a` only reaching 20 at the
    // end); with it, `a` fills up to `b`'s level and then they alternate.
    let mut f = focus_up(&[("a", "eu", 100), ("b", "eu", 100)]);
    f.report_load(T0, "a", 10);
    f.report_load(T0, "b", 20);
    for s in 0..20 {
        open_sfu(&mut f, T0 + 5, s, "eu");
    }
    assert_eq!(f.sessions_on("a").len(), 15);
    assert_eq!(f.sessions_on("b").len(), 5);
    assert_eq!(f.stress(T0 + 5, "a"), f.stress(T0 + 5, "b"));
    // Growth of a placed session counts as added too: 10 more on `b` in the same instant.
    assert_eq!(node_of(&f, 11).as_deref(), Some("b"));
    f.participants(T0 + 6, &sid(11), 11);
    assert_eq!(f.stress(T0 + 6, "b"), Some(0.35));
    assert_eq!(
        open_sfu(&mut f, T0 + 6, 100, "eu").node.as_deref(),
        Some("a")
    );
}

#[test]
fn a_drained_node_takes_nothing_new_and_its_sessions_move_until_undrained() {
    let mut f = focus_up(&[("a", "eu", 100), ("b", "eu", 100), ("c", "us", 100)]);
    for s in 0..4 {
        open_sfu(&mut f, T0, s, "eu");
    }
    assert_eq!(f.sessions_on("a"), vec![sid(0), sid(2)]);
    let moved = f.drain(T0 + 1, "a", true);
    assert!(f.is_draining("a"));
    assert_eq!(moved.len(), 2);
    for d in &moved {
        assert_eq!(
            (d.seq, d.topology, d.reason, d.at),
            (2, Topology::Sfu, Reason::Drain, T0 + 1)
        );
        assert_eq!(d.node.as_deref(), Some("b"), "its region first");
        assert_eq!(f.decision(&d.session), Some(d));
    }
    assert!(f.sessions_on("a").is_empty());
    assert_eq!(
        open_sfu(&mut f, T0 + 2, 10, "eu").node.as_deref(),
        Some("b")
    );
    // Draining again changes nothing; undraining moves nothing back.
    assert!(f.drain(T0 + 3, "a", true).is_empty());
    assert!(f.drain(T0 + 4, "a", false).is_empty());
    assert!(!f.is_draining("a"));
    assert_eq!(
        open_sfu(&mut f, T0 + 5, 11, "eu").node.as_deref(),
        Some("a")
    );
}

#[test]
fn sessions_stay_on_a_draining_node_when_nothing_else_can_take_them() {
    let mut f = focus_up(&[("a", "eu", 100), ("b", "eu", 100)]);
    for s in 0..2 {
        open_sfu(&mut f, T0, s, "eu");
    }
    assert_eq!(f.drain(T0, "a", true).len(), 1); // session 0 → b
    assert!(
        f.drain(T0, "b", true).is_empty(),
        "nowhere to go: both stay"
    );
    assert_eq!(f.sessions_on("b"), vec![sid(0), sid(1)]);
    let waiting = open_sfu(&mut f, T0, 2, "eu");
    assert_eq!((waiting.topology, waiting.node), (Topology::Sfu, None));
    assert!(f.tick(T0 + 1_000).is_empty());
    // `a` is back: the sessions on draining `b` move (Drain), the waiting one is placed.
    let out = f.drain(T0 + 2_000, "a", false);
    let mut got: Vec<_> = out
        .iter()
        .map(|d| (d.session, d.seq, d.node.clone().unwrap(), d.reason))
        .collect();
    got.sort_by_key(|g| *g.0.as_bytes());
    assert_eq!(
        got,
        vec![
            (sid(0), 3, "a".to_owned(), Reason::Drain),
            (sid(1), 2, "a".to_owned(), Reason::Drain),
            (sid(2), 2, "a".to_owned(), Reason::Requested),
        ]
    );
}

#[test]
fn two_missed_probes_fail_a_node_over_once_and_waiting_sessions_follow_a_node_back() {
    let mut f = focus_up(&[("a", "eu", 100), ("b", "eu", 100), ("c", "us", 100)]);
    f.drain(T0, "b", true);
    f.drain(T0, "c", true);
    for s in 0..3 {
        open_sfu(&mut f, T0, s, "eu");
    }
    f.drain(T0, "b", false);
    f.drain(T0, "c", false);
    assert_eq!(f.sessions_on("a").len(), 3);
    // A miss, a success, a miss: not two in a row.
    assert!(f.probe(T0 + 1, "a", false).is_empty());
    assert!(f.probe(T0 + 2, "a", true).is_empty());
    assert!(f.probe(T0 + 3, "a", false).is_empty());
    assert_eq!(f.health("a"), Some(NodeHealth::Up));
    let moved = f.probe(T0 + 4, "a", false);
    assert_eq!(f.health("a"), Some(NodeHealth::Down));
    let mut sessions: Vec<_> = moved.iter().map(|d| *d.session.as_bytes()).collect();
    sessions.sort_unstable();
    sessions.dedup();
    assert_eq!(sessions.len(), 3, "each session moved exactly once");
    for d in &moved {
        assert_eq!((d.seq, d.reason, d.at), (2, Reason::Failover, T0 + 4));
        assert_eq!(d.node.as_deref(), Some("b"), "its region first");
    }
    assert!(
        f.probe(T0 + 5, "a", false).is_empty(),
        "Down stays Down quietly"
    );
    // b fails: its sessions go to c (another region is better than none) …
    f.probe(T0 + 6, "b", false);
    let moved = f.probe(T0 + 7, "b", false);
    assert_eq!(moved.len(), 3);
    assert!(moved.iter().all(|d| d.node.as_deref() == Some("c")));
    // … and when c fails too, nothing can take them: node None, still SFU.
    f.probe(T0 + 8, "c", false);
    let waiting = f.probe(T0 + 9, "c", false);
    assert_eq!(waiting.len(), 3);
    for d in &waiting {
        assert_eq!(
            (d.seq, d.topology, d.node.as_deref(), d.reason),
            (4, Topology::Sfu, None, Reason::Failover)
        );
    }
    assert!(f.tick(T0 + 10_000).is_empty());
    assert_eq!(f.want_sfu(T0 + 10_001, sid(0), None), None);
    // b answers again: each waiting session placed once.
    let placed = f.probe(T0 + 11_000, "b", true);
    assert_eq!(placed.len(), 3);
    for d in &placed {
        assert_eq!(
            (d.seq, d.node.as_deref(), d.reason),
            (5, Some("b"), Reason::Failover)
        );
    }
    assert!(
        f.probe(T0 + 11_001, "a", true).is_empty(),
        "nobody moves back"
    );
    assert!(f.tick(T0 + 12_000).is_empty());
}

#[test]
fn a_focus_restored_from_the_database_moves_nobody_until_probes_say_down() {
    let mut before = focus_up(&[("a", "eu", 100), ("b", "eu", 100)]);
    for s in 0..4 {
        open_sfu(&mut before, T0, s, "eu");
    }
    before.open(T0, sid(9), StartMode::Auto, None);
    before.participants(T0, &sid(9), 3);
    let stored: Vec<(Decision, StartMode)> = [0, 1, 2, 3, 9]
        .map(|s| {
            (
                before.decision(&sid(s)).unwrap().clone(),
                before.mode(&sid(s)).unwrap(),
            )
        })
        .into();

    // Restart: nodes registered but not probed yet.
    let mut f = Focus::new(FocusConfig::default());
    f.add_node(spec("a", "eu", 100));
    f.add_node(spec("b", "eu", 100));
    for (d, mode) in &stored {
        f.adopt(d.clone(), *mode, Some("eu".into()));
    }
    assert_eq!(f.health("a"), Some(NodeHealth::Unknown));
    assert_eq!(f.sessions_on("a"), vec![sid(0), sid(2)]);
    assert_eq!(f.sessions_on("b"), vec![sid(1), sid(3)]);
    assert_eq!(f.mode(&sid(9)), Some(StartMode::Auto));
    assert!(f.tick(T0 + 1_000).is_empty());
    assert_eq!(f.participants(T0 + 1_001, &sid(0), 7), None);
    assert!(f.probe(T0 + 1_002, "b", false).is_empty());
    // A new SFU session waits: Unknown nodes take nothing new.
    let d = open_sfu(&mut f, T0 + 1_003, 20, "eu");
    assert_eq!(d.node, None);
    // An older or identical stored decision changes nothing.
    let old = stored[0].0.clone();
    let mut older = old.clone();
    older.seq = 0;
    older.node = Some("b".into());
    f.adopt(older, StartMode::Sfu, None);
    f.adopt(old, StartMode::Sfu, None);
    assert_eq!(node_of(&f, 0).as_deref(), Some("a"));
    assert_eq!(f.decision(&sid(0)).unwrap().seq, 1);

    // a answers: the waiting session is placed, nobody else moves.
    let out = f.probe(T0 + 2_000, "a", true);
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].session, out[0].node.as_deref(), out[0].reason),
        (sid(20), Some("a"), Reason::Requested)
    );
    // b misses its second probe: its sessions move to a.
    let out = f.probe(T0 + 3_000, "b", false);
    let mut moved: Vec<_> = out.iter().map(|d| (d.session, d.seq)).collect();
    moved.sort_by_key(|m| *m.0.as_bytes());
    assert_eq!(moved, vec![(sid(1), 2), (sid(3), 2)]);
    assert!(out
        .iter()
        .all(|d| d.node.as_deref() == Some("a") && d.reason == Reason::Failover));
}

#[test]
fn adopting_onto_a_node_registered_later_or_known_down_is_handled() {
    let mut f = Focus::new(FocusConfig::default());
    let d = Decision {
        session: sid(1),
        seq: 4,
        topology: Topology::Sfu,
        node: Some("late".into()),
        reason: Reason::Failover,
        at: T0,
    };
    f.adopt(d.clone(), StartMode::Sfu, None);
    f.add_node(spec("late", "eu", 10));
    assert_eq!(f.sessions_on("late"), vec![sid(1)]);
    assert_eq!(f.assigned("late"), Some(1));
    // Another process put a session on a node this one saw fail: the next tick moves it.
    f.add_node(spec("ok", "eu", 10));
    f.probe(T0, "ok", true);
    f.probe(T0, "late", false);
    let out = f.probe(T0, "late", false);
    assert_eq!(out.len(), 1);
    assert_eq!(node_of(&f, 1).as_deref(), Some("ok"));
    let mut back = out[0].clone();
    back.seq += 1;
    back.node = Some("late".into());
    f.adopt(back, StartMode::Sfu, None);
    let out = f.tick(T0 + 1);
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].seq, out[0].node.as_deref(), out[0].reason),
        (7, Some("ok"), Reason::Failover)
    );
}

#[test]
fn a_session_forgotten_while_the_focus_runs_starts_after_every_seq_it_was_given() {
    let mut f = Focus::new(FocusConfig {
        threshold: 3,
        first_seq: T0,
        closed_keep_ms: 1_000,
        ..FocusConfig::default()
    });
    f.add_node(spec("a", "eu", 10));
    f.probe(T0, "a", true);
    f.open(T0, sid(1), StartMode::Auto, None).unwrap();
    let held = f.participants(T0 + 1, &sid(1), 3).unwrap();
    assert_eq!(held.seq, T0 + 1);
    f.close(T0 + 2, &sid(1));
    // Its closed seq is forgotten; asked about a day later, it starts after the one held.
    let later = T0 + 86_400_000;
    f.tick(later);
    let again = f.want_sfu(later, sid(1), None).expect("a first decision");
    assert!(again.seq > held.seq, "{} after {}", again.seq, held.seq);
}

#[test]
fn a_session_adopted_onto_a_node_this_focus_does_not_have_moves_at_the_next_tick() {
    // A restart with fewer nodes (or another process's registry): the stored decision names
    // a node nobody here can grant, so its people would be refused for good.
    let mut f = focus_up(&[("eu-1", "eu", 10)]);
    let d = Decision {
        session: sid(1),
        seq: 3,
        topology: Topology::Sfu,
        node: Some("gone".into()),
        reason: Reason::Start,
        at: T0,
    };
    f.adopt(d, StartMode::Sfu, Some("eu".into()));
    let out = f.tick(T0 + 1);
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].seq, out[0].node.as_deref(), out[0].reason),
        (4, Some("eu-1"), Reason::Failover)
    );
    assert_eq!(f.sessions_on("eu-1"), vec![sid(1)]);
    assert!(f.tick(T0 + 2).is_empty());
}

#[test]
fn an_auto_session_upgrades_once_at_the_threshold_and_never_goes_back() {
    let mut f = focus_up(&[("a", "eu", 100)]);
    let d = f.open(T0, sid(1), StartMode::Auto, None).unwrap();
    assert_eq!(
        (d.seq, d.topology, d.node.as_deref(), d.reason),
        (1, Topology::P2p, None, Reason::Start)
    );
    let mut upgrades = Vec::new();
    for (i, count) in [2, 5, 9, 10, 9, 10, 11, 9, 8, 12, 3, 30, 1, 0, 10]
        .into_iter()
        .enumerate()
    {
        upgrades.extend(f.participants(T0 + i as u64, &sid(1), count));
    }
    assert_eq!(upgrades.len(), 1, "{upgrades:?}");
    let up = &upgrades[0];
    assert_eq!(
        (up.seq, up.topology, up.node.as_deref(), up.reason, up.at),
        (2, Topology::Sfu, Some("a"), Reason::Threshold, T0 + 3)
    );
    assert_eq!(f.decision(&sid(1)), Some(up));
    // Open again (any mode) and ask for SFU: nothing new.
    assert_eq!(f.open(T0, sid(1), StartMode::P2p, None), None);
    assert_eq!(f.want_sfu(T0, sid(1), None), None);
    assert_eq!(f.mode(&sid(1)), Some(StartMode::Auto));
}

#[test]
fn p2p_sessions_never_move_and_sfu_sessions_start_on_a_node() {
    let mut f = focus_up(&[("a", "eu", 100)]);
    f.open(T0, sid(1), StartMode::P2p, None).unwrap();
    for count in [5, 25, 40, 0] {
        assert_eq!(f.participants(T0, &sid(1), count), None);
    }
    assert!(f.tick(T0 + 1).is_empty());
    assert_eq!(f.want_sfu(T0, sid(1), None), None);
    assert_eq!(f.decision(&sid(1)).unwrap().topology, Topology::P2p);
    assert_eq!(f.decision(&sid(1)).unwrap().seq, 1);

    let d = open_sfu(&mut f, T0, 2, "eu");
    assert_eq!((d.topology, d.node.as_deref()), (Topology::Sfu, Some("a")));
    // A participant asking for a room of an unknown session opens it in SFU mode.
    let d = f.want_sfu(T0, sid(3), Some("eu".into())).unwrap();
    assert_eq!(
        (d.seq, d.topology, d.node.as_deref(), d.reason),
        (1, Topology::Sfu, Some("a"), Reason::Requested)
    );
    assert_eq!(f.mode(&sid(3)), Some(StartMode::Sfu));
}

#[test]
fn an_auto_session_over_the_threshold_without_nodes_stays_p2p_until_one_comes_up() {
    let mut f = Focus::new(FocusConfig::default());
    f.add_node(spec("a", "eu", 100));
    f.open(T0, sid(1), StartMode::Auto, None);
    assert_eq!(f.participants(T0, &sid(1), 12), None);
    assert!(f.tick(T0 + 1_000).is_empty());
    assert_eq!(f.decision(&sid(1)).unwrap().topology, Topology::P2p);
    let out = f.probe(T0 + 2_000, "a", true);
    assert_eq!(out.len(), 1);
    assert_eq!(
        (
            out[0].seq,
            out[0].topology,
            out[0].node.as_deref(),
            out[0].reason
        ),
        (2, Topology::Sfu, Some("a"), Reason::Threshold)
    );
    assert_eq!(f.assigned("a"), Some(12));
    // An Sfu-mode session that waited is retried by want_sfu as well.
    f.probe(T0 + 3_000, "a", false);
    f.probe(T0 + 3_001, "a", false);
    let d = open_sfu(&mut f, T0 + 3_002, 2, "eu");
    assert_eq!(d.node, None);
    assert_eq!(
        f.want_sfu(T0 + 3_003, sid(2), None),
        None,
        "still nothing up"
    );
    f.add_node(spec("b", "eu", 100));
    let placed = f.probe(T0 + 4_000, "b", true);
    assert_eq!(placed.len(), 2, "{placed:?}");
    assert_eq!(node_of(&f, 1).as_deref(), Some("b"));
    assert_eq!(node_of(&f, 2).as_deref(), Some("b"));
    assert_eq!(f.want_sfu(T0 + 4_001, sid(2), None), None);
}

#[test]
fn a_closed_session_leaves_its_node_and_a_reopened_one_continues_its_seq() {
    let mut f = focus_up(&[("a", "eu", 10)]);
    let one = open_sfu(&mut f, T0, 1, "eu");
    assert_eq!((one.seq, one.node.as_deref()), (1, Some("a")));
    assert!(f.participants(T0, &sid(1), 2).is_none());
    // An Auto session upgraded at the threshold: seq 2 on a.
    f.open(T0, sid(2), StartMode::Auto, Some("eu".into()))
        .unwrap();
    let up = f.participants(T0, &sid(2), 10).unwrap();
    assert_eq!((up.seq, up.reason), (2, Reason::Threshold));
    assert_eq!(f.assigned("a"), Some(12));

    // Closing: its weight leaves the node (its rampup addition too, once the window passes).
    let t1 = T0 + 60_000;
    f.close(t1, &sid(2));
    assert_eq!(f.decision(&sid(2)), None);
    assert_eq!(f.mode(&sid(2)), None);
    assert_eq!(f.closed_seq(&sid(2)), Some(2));
    assert_eq!(f.sessions_on("a"), vec![sid(1)]);
    assert_eq!(f.assigned("a"), Some(2));
    assert_eq!(f.stress(t1, "a"), Some(0.2));
    assert_eq!(f.participants(t1, &sid(2), 30), None);
    assert!(f.tick(t1).is_empty());
    // Idempotent; unknown ids change nothing.
    f.close(t1 + 1, &sid(2));
    f.close(t1 + 1, &sid(9));
    assert_eq!(f.closed_seq(&sid(2)), Some(2));
    assert_eq!(f.closed_seq(&sid(9)), None);
    assert_eq!(f.assigned("a"), Some(2));
    assert_eq!(f.sessions().collect::<Vec<_>>(), vec![sid(1)]);

    // A decision from before the close (another process's, late) does not bring it back.
    f.adopt(up.clone(), StartMode::Auto, None);
    assert_eq!(f.decision(&sid(2)), None);

    // Reopened, in another mode: the first decision continues the seq.
    let again = f
        .open(t1 + 2, sid(2), StartMode::Sfu, Some("eu".into()))
        .unwrap();
    assert_eq!(
        (
            again.seq,
            again.topology,
            again.reason,
            again.node.as_deref()
        ),
        (3, Topology::Sfu, Reason::Start, Some("a"))
    );
    assert_eq!(f.mode(&sid(2)), Some(StartMode::Sfu));
    assert_eq!(f.closed_seq(&sid(2)), None);
    // Through want_sfu as well, and again after a second close.
    f.close(t1 + 3, &sid(1));
    let back = f.want_sfu(t1 + 4, sid(1), None).unwrap();
    assert_eq!((back.seq, back.reason), (2, Reason::Requested));
    f.close(t1 + 5, &sid(1));
    let p2p = f.open(t1 + 6, sid(1), StartMode::Auto, None).unwrap();
    assert_eq!((p2p.seq, p2p.topology), (3, Topology::P2p));
}

#[test]
fn a_session_closed_elsewhere_continues_after_the_stored_seq() {
    let mut f = Focus::new(FocusConfig {
        closed_keep_ms: 1_000,
        ..FocusConfig::default()
    });
    f.add_node(spec("a", "eu", 10));
    f.probe(T0, "a", true);
    // Unknown here (a restarted process), closed at seq 7 by another.
    f.closed_elsewhere(T0, &sid(1), 7);
    assert_eq!(f.closed_seq(&sid(1)), Some(7));
    let stale = Decision {
        session: sid(1),
        seq: 7,
        topology: Topology::Sfu,
        node: Some("a".into()),
        reason: Reason::Drain,
        at: T0 - 5,
    };
    f.adopt(stale.clone(), StartMode::Sfu, None);
    assert_eq!(f.decision(&sid(1)), None);
    let reopened = f.open(T0 + 1, sid(1), StartMode::Auto, None).unwrap();
    assert_eq!(reopened.seq, 8);
    // Upgraded here (seq 9), then closed elsewhere at that seq: forgotten, continues at 10.
    assert_eq!(f.participants(T0 + 1, &sid(1), 10).unwrap().seq, 9);
    assert_eq!(f.sessions_on("a"), vec![sid(1)]);
    f.closed_elsewhere(T0 + 2, &sid(1), 9);
    assert!(f.sessions_on("a").is_empty());
    assert_eq!(f.assigned("a"), Some(0));
    // Another process reopened it: its decision (seq 10) is adopted.
    let other = Decision {
        seq: 10,
        at: T0 + 3,
        ..stale
    };
    f.adopt(other.clone(), StartMode::Sfu, None);
    assert_eq!(f.decision(&sid(1)), Some(&other));
    assert_eq!(f.sessions_on("a"), vec![sid(1)]);
    // A close at an older seq than ours is ignored (it was reopened since).
    f.closed_elsewhere(T0 + 4, &sid(1), 9);
    assert_eq!(f.decision(&sid(1)), Some(&other));
    // `forget` goes back to a stored state, even an older one (an uncommitted decision of ours).
    f.forget(&sid(1));
    assert_eq!((f.decision(&sid(1)), f.closed_seq(&sid(1))), (None, None));
    assert!(f.sessions_on("a").is_empty());
    f.adopt(other.clone(), StartMode::Sfu, None);
    assert_eq!(f.decision(&sid(1)), Some(&other));
    // Closed sessions are forgotten after closed_keep_ms.
    f.close(T0 + 5, &sid(1));
    f.closed_elsewhere(T0 + 5, &sid(2), 3);
    assert!(f.tick(T0 + 1_004).is_empty());
    assert_eq!(f.closed_seq(&sid(1)), Some(10));
    assert!(f.tick(T0 + 1_005).is_empty());
    assert_eq!((f.closed_seq(&sid(1)), f.closed_seq(&sid(2))), (None, None));
    assert_eq!(
        f.open(T0 + 1_006, sid(2), StartMode::P2p, None)
            .unwrap()
            .seq,
        1
    );
}

#[test]
fn bad_input_is_ignored_without_panicking() {
    let mut f = Focus::new(FocusConfig {
        threshold: 0,
        stress_limit: f64::NAN,
        misses_down: 0,
        rampup_ms: u64::MAX,
        closed_keep_ms: u64::MAX,
        first_seq: u64::MAX,
    });
    assert!(f.probe(T0, "nope", false).is_empty());
    assert!(f.drain(T0, "nope", true).is_empty());
    f.report_load(T0, "nope", 5);
    assert_eq!(f.health("nope"), None);
    assert!(!f.is_draining("nope"));
    assert!(f.sessions_on("nope").is_empty());
    assert_eq!(f.participants(T0, &sid(1), 5), None);
    f.close(T0, &sid(1));
    assert_eq!(f.decision(&sid(1)), None);
    assert_eq!(f.closed_seq(&sid(1)), None);
    f.add_node(spec("zero", "eu", 0));
    f.probe(T0, "zero", true);
    f.report_load(T0, "zero", u32::MAX);
    let d = f.open(T0, sid(2), StartMode::Sfu, None).unwrap();
    assert_eq!(d.node.as_deref(), Some("zero"));
    f.participants(T0, &sid(2), 0);
    f.participants(T0, &sid(2), u32::MAX);
    assert!(f.stress(u64::MAX, "zero").unwrap().is_finite());
    f.open(T0, sid(3), StartMode::Auto, None);
    f.participants(T0, &sid(3), 0);
    // misses_down 0 acts as 1 (threshold 0 upgraded session 3 on its first count).
    assert_eq!(f.probe(T0, "zero", false).len(), 2);
    f.close(T0, &sid(2));
    assert!(f.sessions_on("zero").is_empty());
    assert_eq!(f.assigned("zero"), Some(0));
    assert!(f.tick(u64::MAX).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Two focus processes racing on a shared store.

/// The shared store: per session, the committed decisions in order. A commit succeeds only if
/// the stored seq is the decision's seq − 1 (compare-and-set on seq).
#[derive(Default)]
struct Store {
    log: BTreeMap<[u8; 16], Vec<Decision>>,
    modes: BTreeMap<[u8; 16], StartMode>,
}

impl Store {
    fn current(&self, s: &SessionId) -> Option<&Decision> {
        self.log.get(s.as_bytes()).and_then(|l| l.last())
    }

    fn commit(&mut self, d: &Decision, mode: StartMode) -> bool {
        let stored = self.current(&d.session).map_or(0, |c| c.seq);
        if stored + 1 != d.seq {
            return false;
        }
        self.modes.entry(*d.session.as_bytes()).or_insert(mode);
        self.log
            .entry(*d.session.as_bytes())
            .or_default()
            .push(d.clone());
        true
    }
}

/// Commits what a focus decided; a loser adopts the stored winner.
fn commit_all(store: &mut Store, f: &mut Focus, decisions: Vec<Decision>) -> usize {
    let mut lost = 0;
    for d in decisions {
        let mode = f.mode(&d.session).unwrap_or_default();
        if !store.commit(&d, mode) {
            lost += 1;
            let winner = store
                .current(&d.session)
                .expect("a loser lost to something")
                .clone();
            let mode = store.modes[d.session.as_bytes()];
            f.adopt(winner, mode, Some("eu".into()));
        }
    }
    lost
}

#[test]
fn a_focus_that_lost_the_compare_and_set_adopts_the_winner() {
    let mut store = Store::default();
    let (mut a, mut b) = (fresh_focus(), fresh_focus());
    for f in [&mut a, &mut b] {
        for (id, _) in NODES {
            f.probe(T0, id, true);
        }
    }
    // Their load views differ: a thinks n1 is busy, b thinks n2 is.
    a.report_load(T0, "n1", 20);
    b.report_load(T0, "n2", 20);
    let da = a
        .open(T0, sid(1), StartMode::Sfu, Some("eu".into()))
        .unwrap();
    let db = b
        .open(T0, sid(1), StartMode::Sfu, Some("eu".into()))
        .unwrap();
    assert_eq!((da.seq, da.node.as_deref()), (1, Some("n2")));
    assert_eq!((db.seq, db.node.as_deref()), (1, Some("n1")));
    assert_eq!(commit_all(&mut store, &mut a, vec![da.clone()]), 0);
    assert_eq!(commit_all(&mut store, &mut b, vec![db]), 1);
    assert_eq!(b.decision(&sid(1)), Some(&da));
    assert_eq!(b.sessions_on("n2"), vec![sid(1)]);
    assert!(b.sessions_on("n1").is_empty());
    assert_eq!(b.assigned("n1"), Some(0));
    // Both see n2 fail: one Failover commits, the other process adopts it.
    let mut outs = Vec::new();
    for f in [&mut a, &mut b] {
        f.probe(T0 + 1, "n2", false);
        outs.push(f.probe(T0 + 2, "n2", false));
    }
    assert_eq!(commit_all(&mut store, &mut b, outs.pop().unwrap()), 0);
    assert_eq!(commit_all(&mut store, &mut a, outs.pop().unwrap()), 1);
    let log = &store.log[sid(1).as_bytes()];
    assert_eq!(log.len(), 2);
    assert_eq!(a.decision(&sid(1)), log.last());
    assert_eq!(b.decision(&sid(1)), log.last());
}

#[derive(Debug, Clone)]
enum Event {
    Open(u32, StartMode),
    WantSfu(u32),
    Participants(u32, u32),
    Probe(usize, bool),
    Drain(usize, bool),
    /// What only one process saw: its own probe of a node, or a load report it got first
    /// (their views of health and load differ, so they choose differently).
    ProbeOne(bool, usize, bool),
    ReportOne(bool, usize, u32),
    Tick,
    /// Every focus catches up with the store (a notification from the database).
    Sync,
}

const NODES: [(&str, &str); 4] = [("n1", "eu"), ("n2", "eu"), ("n3", "us"), ("n4", "us")];

fn mode_strategy() -> impl Strategy<Value = StartMode> {
    prop_oneof![
        Just(StartMode::P2p),
        Just(StartMode::Sfu),
        Just(StartMode::Auto)
    ]
}

fn event_strategy() -> impl Strategy<Value = Event> {
    prop_oneof![
        1 => (0..12u32, mode_strategy()).prop_map(|(s, m)| Event::Open(s, m)),
        1 => (0..12u32).prop_map(Event::WantSfu),
        1 => (0..12u32, 0..16u32).prop_map(|(s, c)| Event::Participants(s, c)),
        3 => (0..NODES.len(), prop::bool::weighted(0.6)).prop_map(|(n, ok)| Event::Probe(n, ok)),
        1 => (0..NODES.len(), any::<bool>()).prop_map(|(n, on)| Event::Drain(n, on)),
        1 => (any::<bool>(), 0..NODES.len(), any::<bool>())
            .prop_map(|(a, n, ok)| Event::ProbeOne(a, n, ok)),
        2 => (any::<bool>(), 0..NODES.len(), 0..60u32)
            .prop_map(|(a, n, p)| Event::ReportOne(a, n, p)),
        1 => Just(Event::Tick),
        1 => Just(Event::Sync),
    ]
}

fn apply(f: &mut Focus, now: u64, e: &Event) -> Vec<Decision> {
    match *e {
        Event::Open(s, mode) => f
            .open(now, sid(s), mode, Some("eu".into()))
            .into_iter()
            .collect(),
        Event::WantSfu(s) => f
            .want_sfu(now, sid(s), Some("eu".into()))
            .into_iter()
            .collect(),
        Event::Participants(s, c) => f.participants(now, &sid(s), c).into_iter().collect(),
        Event::Probe(n, ok) => f.probe(now, NODES[n].0, ok),
        Event::Drain(n, on) => f.drain(now, NODES[n].0, on),
        Event::Tick => f.tick(now),
        Event::Sync | Event::ProbeOne(..) | Event::ReportOne(..) => Vec::new(),
    }
}

fn sync(store: &Store, f: &mut Focus) {
    for (key, log) in &store.log {
        let d = log.last().unwrap().clone();
        f.adopt(d, store.modes[key], Some("eu".into()));
    }
}

fn fresh_focus() -> Focus {
    let mut f = Focus::new(FocusConfig::default());
    for (id, region) in NODES {
        f.add_node(spec(id, region, 40));
    }
    f
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Both processes see every event (in either order) and commit with compare-and-set; a
    /// loser adopts the winner. The store never holds two decisions with one seq, never a
    /// second first decision or Threshold for a session, and after catching up both processes
    /// agree with it and with each other on every node's sessions.
    #[test]
    fn two_racing_focus_processes_never_assign_a_session_twice(
        events in prop::collection::vec((event_strategy(), any::<bool>()), 1..80),
    ) {
        let mut store = Store::default();
        let (mut a, mut b) = (fresh_focus(), fresh_focus());
        let mut now = T0;
        for (e, a_first) in &events {
            now += 700;
            match *e {
                Event::Sync => {
                    sync(&store, &mut a);
                    sync(&store, &mut b);
                    continue;
                }
                Event::ProbeOne(to_a, n, ok) => {
                    let f = if to_a { &mut a } else { &mut b };
                    let out = f.probe(now, NODES[n].0, ok);
                    commit_all(&mut store, f, out);
                    continue;
                }
                Event::ReportOne(to_a, n, p) => {
                    let f = if to_a { &mut a } else { &mut b };
                    f.report_load(now, NODES[n].0, p);
                    continue;
                }
                _ => {}
            }
            let (first, second) = if *a_first { (&mut a, &mut b) } else { (&mut b, &mut a) };
            let out = apply(first, now, e);
            commit_all(&mut store, first, out);
            let out = apply(second, now, e);
            commit_all(&mut store, second, out);
        }
        for log in store.log.values() {
            for (i, d) in log.iter().enumerate() {
                prop_assert_eq!(d.seq, i as u64 + 1);
            }
            let thresholds = log.iter().filter(|d| d.reason == Reason::Threshold).count();
            prop_assert!(thresholds <= 1, "{:?}", log);
            // A session waiting for a node is placed once per wait.
            for pair in log.windows(2) {
                prop_assert!(
                    !(pair[0].node.is_some() && pair[0].node == pair[1].node),
                    "a decision that changes nothing: {:?}", pair
                );
            }
        }
        sync(&store, &mut a);
        sync(&store, &mut b);
        for (key, log) in &store.log {
            let s = SessionId::from_bytes(*key);
            prop_assert_eq!(a.decision(&s), log.last());
            prop_assert_eq!(b.decision(&s), log.last());
        }
        for (id, _) in NODES {
            prop_assert_eq!(a.sessions_on(id), b.sessions_on(id));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Random event sequences against one focus.

#[derive(Debug, Clone)]
enum Op {
    Open(u32, StartMode, u8),
    WantSfu(u32, u8),
    Participants(u32, u32),
    Probe(usize, bool),
    Report(usize, u32),
    Drain(usize, bool),
    Tick,
    Close(u32),
    /// Something about a node or session nobody registered.
    Unknown(u32),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let node = 0..NODES.len();
    prop_oneof![
        3 => (0..16u32, mode_strategy(), 0..3u8).prop_map(|(s, m, r)| Op::Open(s, m, r)),
        1 => (0..16u32, 0..3u8).prop_map(|(s, r)| Op::WantSfu(s, r)),
        3 => (0..16u32, 0..30u32).prop_map(|(s, c)| Op::Participants(s, c)),
        4 => (node.clone(), prop::bool::weighted(0.6)).prop_map(|(n, ok)| Op::Probe(n, ok)),
        1 => (node.clone(), 0..60u32).prop_map(|(n, p)| Op::Report(n, p)),
        1 => (node, any::<bool>()).prop_map(|(n, on)| Op::Drain(n, on)),
        1 => Just(Op::Tick),
        1 => (0..16u32).prop_map(Op::Close),
        1 => (0..16u32).prop_map(Op::Unknown),
    ]
}

fn region(r: u8) -> Option<String> {
    match r {
        0 => None,
        1 => Some("eu".into()),
        _ => Some("us".into()),
    }
}

/// Node ids that can take sessions right now.
fn candidates(f: &Focus) -> Vec<&'static str> {
    NODES
        .iter()
        .map(|n| n.0)
        .filter(|&n| f.health(n) == Some(NodeHealth::Up) && !f.is_draining(n))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_events_keep_the_invariants(
        ops in prop::collection::vec((op_strategy(), 0..30_000u64), 1..120),
    ) {
        let mut f = Focus::new(FocusConfig::default());
        for (id, r) in NODES {
            f.add_node(spec(id, r, 30));
        }
        let mut now = T0;
        // The test's model: last seq, start mode, and presence count per open session.
        let mut seqs: BTreeMap<u32, u64> = BTreeMap::new();
        let mut modes: BTreeMap<u32, StartMode> = BTreeMap::new();
        let mut counts: BTreeMap<u32, u32> = BTreeMap::new();
        for (op, dt) in &ops {
            now += dt;
            let out: Vec<Decision> = match op {
                Op::Open(s, m, r) => {
                    modes.entry(*s).or_insert(*m);
                    f.open(now, sid(*s), *m, region(*r)).into_iter().collect()
                }
                Op::WantSfu(s, r) => {
                    modes.entry(*s).or_insert(StartMode::Sfu);
                    f.want_sfu(now, sid(*s), region(*r)).into_iter().collect()
                }
                Op::Participants(s, c) => {
                    if modes.contains_key(s) {
                        counts.insert(*s, *c);
                    }
                    f.participants(now, &sid(*s), *c).into_iter().collect()
                }
                Op::Probe(n, ok) => f.probe(now, NODES[*n].0, *ok),
                Op::Report(n, p) => {
                    f.report_load(now, NODES[*n].0, *p);
                    Vec::new()
                }
                Op::Drain(n, on) => f.drain(now, NODES[*n].0, *on),
                Op::Tick => f.tick(now),
                Op::Close(s) => {
                    f.close(now, &sid(*s));
                    // Its seq carries on if it is opened again.
                    modes.remove(s);
                    counts.remove(s);
                    Vec::new()
                }
                Op::Unknown(s) => {
                    let mut out = f.probe(now, "ghost", false);
                    out.extend(f.drain(now, "ghost", true));
                    f.report_load(now, "ghost", *s);
                    out.extend(f.participants(now, &sid(1000 + s), *s));
                    out
                }
            };
            let open = candidates(&f);
            for d in &out {
                let s = u32::from_be_bytes(d.session.as_bytes()[..4].try_into().unwrap());
                let last = seqs.insert(s, d.seq).unwrap_or(0);
                prop_assert_eq!(d.seq, last + 1, "seq strictly increasing by one: {:?}", d);
                prop_assert_eq!(d.at, now);
                prop_assert_eq!(f.decision(&d.session).map(|c| c.seq).unwrap_or(0) >= d.seq, true);
                match (d.topology, &d.node) {
                    (Topology::Sfu, Some(n)) => prop_assert!(
                        open.contains(&n.as_str()),
                        "assigned to {} which is not Up or draining: {:?}", n, d
                    ),
                    (Topology::Sfu, None) => prop_assert!(
                        open.is_empty(),
                        "left waiting while {:?} could take it", open
                    ),
                    (Topology::P2p, node) => {
                        prop_assert_eq!(node, &None);
                        prop_assert_eq!(
                            d.reason, Reason::Start,
                            "nothing moves back to P2P (only an opening decision is P2P)"
                        );
                    }
                }
                if modes.get(&s) == Some(&StartMode::P2p) {
                    prop_assert_eq!(d.topology, Topology::P2p);
                }
            }
            // Steady state after every event.
            let mut on_nodes = 0;
            for (id, _) in NODES {
                let here = f.sessions_on(id);
                on_nodes += here.len();
                let weight: u64 = here
                    .iter()
                    .map(|s| {
                        let n = u32::from_be_bytes(s.as_bytes()[..4].try_into().unwrap());
                        u64::from(counts.get(&n).copied().unwrap_or(1).max(1))
                    })
                    .sum();
                prop_assert_eq!(f.assigned(id), Some(weight));
                for s in &here {
                    prop_assert_eq!(f.decision(s).unwrap().node.as_deref(), Some(id));
                }
                if !open.is_empty() {
                    prop_assert!(
                        open.contains(&id) || here.is_empty(),
                        "{:?} stays on {} ({:?}) while {:?} could take them",
                        here, id, f.health(id), open
                    );
                }
                if f.health(id) == Some(NodeHealth::Down) {
                    prop_assert!(here.is_empty());
                }
            }
            let mut placed = 0;
            for (&s, &mode) in &modes {
                let d = f.decision(&sid(s)).unwrap();
                prop_assert_eq!(f.mode(&sid(s)), Some(mode));
                placed += usize::from(d.node.is_some());
                if !open.is_empty() {
                    prop_assert!(!(d.topology == Topology::Sfu && d.node.is_none()));
                    let over = counts.get(&s).is_some_and(|&c| c >= 10);
                    prop_assert!(
                        !(mode == StartMode::Auto && over && d.topology == Topology::P2p),
                        "an Auto session over the threshold stayed P2P with nodes up"
                    );
                }
            }
            prop_assert_eq!(placed, on_nodes);
        }
    }
}

#[test]
fn additions_adopted_out_of_order_leave_the_rampup_window_on_time() {
    let mut f = focus_up(&[("a", "eu", 100)]);
    f.report_load(T0, "a", 10);
    for (s, at) in [(1, T0 + 10), (2, T0)] {
        f.adopt(
            Decision {
                session: sid(s),
                seq: 1,
                topology: Topology::Sfu,
                node: Some("a".into()),
                reason: Reason::Start,
                at,
            },
            StartMode::Sfu,
            None,
        );
    }
    assert_eq!(f.stress(T0 + 19_999, "a"), Some(0.12));
    assert!(f.tick(T0 + 20_005).is_empty());
    assert_eq!(f.stress(T0 + 20_005, "a"), Some(0.11));
    assert_eq!(f.stress(T0 + 20_010, "a"), Some(0.1));
}

#[test]
fn a_restarted_focus_decides_after_every_seq_a_tab_holds() {
    // Before the restart: a session upgraded (seq 2), which an open tab holds.
    let mut before = Focus::new(FocusConfig {
        threshold: 3,
        first_seq: T0,
        ..FocusConfig::default()
    });
    before.add_node(spec("a", "eu", 10));
    before.probe(T0, "a", true);
    before.open(T0, sid(1), StartMode::Auto, None).unwrap();
    let held = before.participants(T0 + 1, &sid(1), 3).unwrap();
    // Restarted later with nothing stored: its first decision for the session is newer.
    let mut after = Focus::new(FocusConfig {
        threshold: 3,
        first_seq: T0 + 60_000,
        ..FocusConfig::default()
    });
    after.add_node(spec("a", "eu", 10));
    after.probe(T0 + 60_000, "a", true);
    let again = after
        .want_sfu(T0 + 60_000, sid(1), None)
        .expect("a first decision");
    assert!(again.seq > held.seq, "{} after {}", again.seq, held.seq);
}
