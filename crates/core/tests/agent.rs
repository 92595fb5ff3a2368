//! The agent's decisions, driven as the binary drives them: sockets, frames, time and
//! randomness passed in, actions read back.

use pairux_core::agent::*;
use pairux_core::control::{Button, InputEvent, InputKind, Modifiers};
use proptest::prelude::*;

const ORIGIN: &str = "http://localhost:8080";
const SCREEN: Display = Display {
    x: 0,
    y: 0,
    w: 1280,
    h: 720,
};

fn agent(displays: Vec<Display>) -> Agent {
    Agent::new(
        AgentConfig {
            origins: vec![ORIGIN.into()],
            version: "test".into(),
            port: DEFAULT_PORT,
        },
        &[1, 2, 3, 4, 5, 6, 7],
        displays,
    )
}

fn rnd(n: u8) -> [u8; TEXT_RANDOM_LEN] {
    [n; TEXT_RANDOM_LEN]
}

fn sent(actions: &[Action], conn: ConnId) -> Vec<AgentMsg> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(c, text) if *c == conn => Some(AgentMsg::decode(text).unwrap()),
            _ => None,
        })
        .collect()
}

fn injected(actions: &[Action]) -> Vec<Inject> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Inject(i) => Some(i.clone()),
            _ => None,
        })
        .collect()
}

fn closed(actions: &[Action], conn: ConnId) -> bool {
    actions.contains(&Action::Close(conn))
}

/// Opens `conn` and pairs it with the client, as the page does; returns the agent's actions.
fn pair(a: &mut Agent, conn: ConnId, code: &str) -> Vec<Action> {
    let target = PairingTarget::parse(code).unwrap();
    talk(
        a,
        0,
        conn,
        ORIGIN,
        AgentClient::new(
            ORIGIN,
            DEFAULT_PORT,
            Credential::Code(target.code),
            &[7; 16],
        ),
    )
    .0
}

/// A page at `origin` proving `credential` on a new socket `conn` at `now`, as the page does:
/// the agent's actions, and the page's client after it read the agent's answer.
fn talk(
    a: &mut Agent,
    now: u64,
    conn: ConnId,
    origin: &str,
    mut client: AgentClient,
) -> (Vec<Action>, AgentClient) {
    let hello = a.open(conn, Some(origin), &[conn as u8; 16]);
    let mut out = Vec::new();
    for action in hello {
        if let Action::Send(_, text) = action {
            for ev in client.on_frame(&text) {
                if let ClientEvent::Send(frame) = ev {
                    out.extend(a.text(now, conn, &frame, &rnd(conn as u8)));
                }
            }
        }
    }
    for action in &out {
        if let Action::Send(c, text) = action {
            if *c == conn {
                client.on_frame(text);
            }
        }
    }
    (out, client)
}

/// The page of a tab that paired before, back with `token`.
fn resume_client(origin: &str, token: &str) -> AgentClient {
    AgentClient::new(
        origin,
        DEFAULT_PORT,
        Credential::Resume(token.into()),
        &[9; 16],
    )
}

fn frame(msg: PageMsg) -> String {
    msg.encode()
}

fn input(from: &str, seq: u64, kind: InputKind) -> String {
    frame(PageMsg::Input {
        from: from.into(),
        e: InputEvent { seq, ts: 0, kind },
    })
}

/// `from`'s input event, forwarded by the paired page (socket 1).
fn act(a: &mut Agent, from: &str, seq: u64, kind: InputKind) -> Vec<Action> {
    a.text(0, 1, &input(from, seq, kind), &rnd(0))
}

/// Any other frame from the paired page (socket 1).
fn say(a: &mut Agent, msg: PageMsg) -> Vec<Action> {
    a.text(0, 1, &frame(msg), &rnd(0))
}

fn key_up(code: &str, key: &str, m: u8) -> InputKind {
    InputKind::KeyUp {
        key: key.into(),
        code: code.into(),
        m: Modifiers(m),
    }
}

fn key_down(code: &str, key: &str, m: u8) -> InputKind {
    InputKind::KeyDown {
        key: key.into(),
        code: code.into(),
        m: Modifiers(m),
        rep: false,
    }
}

/// An injected key press (`down`) or release, by evdev code.
fn key(evdev: u16, down: bool) -> Inject {
    Inject::Key { evdev, down }
}

/// A paired agent sharing a 1280×720 screen, with `p1` holding control.
fn driving() -> Agent {
    let mut a = agent(vec![SCREEN]);
    let code = a.code();
    pair(&mut a, 1, &code);
    say(
        &mut a,
        PageMsg::Surface {
            kind: SurfaceKind::Monitor,
            w: 1280,
            h: 720,
        },
    );
    say(
        &mut a,
        PageMsg::Holders {
            ids: vec!["p1".into()],
        },
    );
    a
}

#[test]
fn pages_from_other_origins_are_refused_before_they_speak() {
    let mut a = agent(vec![SCREEN]);
    for origin in [
        None,
        Some("https://evil.example"),
        Some("http://localhost:8081"),
        Some("null"),
    ] {
        let out = a.open(7, origin, &[0; 16]);
        assert_eq!(
            sent(&out, 7),
            vec![AgentMsg::Refused {
                reason: Refusal::Origin
            }]
        );
        assert!(closed(&out, 7));
    }
    assert_eq!(a.stats().refused_origin, 4);
    assert!(!a.is_paired());
}

#[test]
fn the_right_code_pairs_once_and_is_then_retired() {
    let mut a = agent(vec![SCREEN]);
    let code = a.code();
    let out = pair(&mut a, 1, &code);
    let msgs = sent(&out, 1);
    assert!(matches!(msgs[0], AgentMsg::Paired { .. }), "{msgs:?}");
    assert_eq!(
        msgs[1],
        AgentMsg::Status {
            drives: false,
            why: Some(PointersOnly::NoSurface)
        }
    );
    let new_code = out.iter().find_map(|a| match a {
        Action::NewCode(c) => Some(c.clone()),
        _ => None,
    });
    assert_eq!(new_code.as_deref(), Some(a.code().as_str()));
    assert_ne!(a.code(), code);

    // One page at a time.
    let out = a.open(2, Some(ORIGIN), &[2; 16]);
    assert_eq!(
        sent(&out, 2),
        vec![AgentMsg::Refused {
            reason: Refusal::Busy
        }]
    );

    // The first page leaves; the old code no longer pairs, the new one does.
    a.close(0, 1);
    let out = pair(&mut a, 3, &code);
    assert_eq!(
        sent(&out, 3),
        vec![AgentMsg::Refused {
            reason: Refusal::BadCode
        }]
    );
    let fresh = a.code();
    let out = pair(&mut a, 4, &fresh);
    assert!(matches!(sent(&out, 4)[0], AgentMsg::Paired { .. }));
}

#[test]
fn wrong_codes_retire_the_code() {
    let mut a = agent(vec![SCREEN]);
    let code = a.code();
    let wrong = if code.starts_with('Z') {
        "YYYYY-YYYYY"
    } else {
        "ZZZZZ-ZZZZZ"
    };
    for n in 1..MAX_WRONG_CODES {
        let out = pair(&mut a, u64::from(n), wrong);
        assert_eq!(
            sent(&out, u64::from(n)),
            vec![AgentMsg::Refused {
                reason: Refusal::BadCode
            }]
        );
    }
    let out = pair(&mut a, 99, wrong);
    assert_eq!(
        sent(&out, 99),
        vec![AgentMsg::Refused {
            reason: Refusal::CodeRetired
        }]
    );
    assert!(out.iter().any(|a| matches!(a, Action::NewCode(_))));
    // The code a guesser may have been closing in on is gone.
    let out = pair(&mut a, 100, &code);
    assert_eq!(
        sent(&out, 100),
        vec![AgentMsg::Refused {
            reason: Refusal::BadCode
        }]
    );
    assert_eq!(a.stats().refused_code, u64::from(MAX_WRONG_CODES) + 1);
}

#[test]
fn a_resume_token_works_once() {
    let mut a = agent(vec![SCREEN]);
    let code = a.code();
    let out = pair(&mut a, 1, &code);
    let Some(AgentMsg::Paired { resume, .. }) = sent(&out, 1).into_iter().next() else {
        panic!("not paired");
    };
    a.close(0, 1);
    let resume_with = |a: &mut Agent, conn: ConnId, token: &str| {
        talk(a, 0, conn, ORIGIN, resume_client(ORIGIN, token))
    };
    let (out, page) = resume_with(&mut a, 2, &resume);
    assert!(matches!(sent(&out, 2)[0], AgentMsg::Paired { .. }));
    assert!(matches!(page.state(), AgentState::Connected { .. }));
    a.close(0, 2);
    let (out, page) = resume_with(&mut a, 3, &resume);
    assert_eq!(page.state(), AgentState::Absent);
    assert_eq!(
        sent(&out, 3),
        vec![AgentMsg::Refused {
            reason: Refusal::BadCode
        }]
    );
}

#[test]
fn a_resume_token_is_for_its_origin_and_a_short_while_and_guessing_retires_no_code() {
    const OTHER: &str = "http://127.0.0.1:8080";
    let mut a = Agent::new(
        AgentConfig {
            origins: vec![ORIGIN.into(), OTHER.into()],
            version: "test".into(),
            port: DEFAULT_PORT,
        },
        &[1, 2, 3, 4, 5, 6, 7],
        vec![SCREEN],
    );
    let code = a.code();
    let out = pair(&mut a, 1, &code);
    let Some(AgentMsg::Paired { resume, .. }) = sent(&out, 1).into_iter().next() else {
        panic!("not paired");
    };
    a.close(1_000, 1);
    let code = a.code();
    let resume_at = |a: &mut Agent, now: u64, conn: ConnId, origin: &str, token: &str| {
        sent(
            &talk(a, now, conn, origin, resume_client(origin, token)).0,
            conn,
        )
    };
    let refused = vec![AgentMsg::Refused {
        reason: Refusal::BadCode,
    }];
    // Another allowed origin (another app on localhost) cannot use it.
    assert_eq!(resume_at(&mut a, 2_000, 2, OTHER, &resume), refused);
    // Wrong tokens, as many as you like: the code a person may be typing stays.
    for conn in 3..10 {
        assert_eq!(resume_at(&mut a, 2_000, conn, ORIGIN, "guess"), refused);
    }
    assert_eq!(a.code(), code);
    // A minute after the tab went, it takes the code again.
    assert_eq!(
        resume_at(&mut a, 1_000 + RESUME_TTL_MS + 1, 10, ORIGIN, &resume),
        refused
    );
    // Within it, the tab that reloads is back.
    let mut b = agent(vec![SCREEN]);
    let code = b.code();
    let out = pair(&mut b, 1, &code);
    let Some(AgentMsg::Paired { resume, .. }) = sent(&out, 1).into_iter().next() else {
        panic!("not paired");
    };
    b.close(1_000, 1);
    assert!(matches!(
        resume_at(&mut b, 1_000 + RESUME_TTL_MS, 2, ORIGIN, &resume)[0],
        AgentMsg::Paired { .. }
    ));
}

#[test]
fn only_holders_drive_and_coordinates_map_to_the_display() {
    let mut a = driving();
    let out = act(
        &mut a,
        "p1",
        1,
        InputKind::Down {
            x: 0.5,
            y: 0.25,
            b: Button::Left,
            m: None,
        },
    );
    assert_eq!(
        injected(&out),
        vec![
            Inject::MoveTo { x: 640, y: 180 },
            Inject::Button {
                b: Button::Left,
                down: true
            }
        ]
    );
    let out = act(&mut a, "p1", 2, InputKind::Move { x: 1.0, y: 1.0 });
    assert_eq!(injected(&out), vec![Inject::MoveTo { x: 1279, y: 719 }]);
    // Out of range is clamped to the screen.
    let out = act(&mut a, "p1", 3, InputKind::Move { x: -3.0, y: 9.0 });
    assert_eq!(injected(&out), vec![Inject::MoveTo { x: 0, y: 719 }]);
    // Someone who is not a holder.
    let out = act(
        &mut a,
        "viewer",
        1,
        InputKind::Down {
            x: 0.1,
            y: 0.1,
            b: Button::Right,
            m: None,
        },
    );
    assert!(injected(&out).is_empty());
    assert_eq!(a.stats().not_holder, 1);
}

#[test]
fn a_second_display_is_found_by_size_or_not_at_all() {
    let left = Display {
        x: 0,
        y: 0,
        w: 1920,
        h: 1080,
    };
    let right = Display {
        x: 1920,
        y: 0,
        w: 2560,
        h: 1440,
    };
    let mut a = agent(vec![left, right]);
    let code = a.code();
    pair(&mut a, 1, &code);
    say(
        &mut a,
        PageMsg::Holders {
            ids: vec!["p1".into()],
        },
    );
    let surface = |a: &mut Agent, w, h| {
        say(
            a,
            PageMsg::Surface {
                kind: SurfaceKind::Monitor,
                w,
                h,
            },
        )
    };
    surface(&mut a, 2560, 1440);
    assert_eq!(a.target(), Ok(right));
    let out = act(&mut a, "p1", 1, InputKind::Move { x: 0.0, y: 0.0 });
    assert_eq!(injected(&out), vec![Inject::MoveTo { x: 1920, y: 0 }]);
    // Both are 16:9: a scaled capture cannot say which.
    let out = surface(&mut a, 1280, 720);
    assert_eq!(
        sent(&out, 1),
        vec![AgentMsg::Status {
            drives: false,
            why: Some(PointersOnly::WhichDisplay)
        }]
    );
    let out = act(&mut a, "p1", 2, InputKind::Move { x: 0.0, y: 0.0 });
    assert!(injected(&out).is_empty());
    // 1920×1080 is the left one's size, and also the right one capped at 1920×1080.
    surface(&mut a, 1920, 1080);
    assert_eq!(a.target(), Err(PointersOnly::WhichDisplay));
    // A 4:3 capture: neither is 4:3.
    surface(&mut a, 1024, 768);
    assert_eq!(a.target(), Err(PointersOnly::WhichDisplay));
    // Two alike: never the first by chance.
    let twin = Display { x: 1920, ..left };
    let mut b = agent(vec![left, twin]);
    let code = b.code();
    pair(&mut b, 1, &code);
    surface(&mut b, 1920, 1080);
    assert_eq!(b.target(), Err(PointersOnly::WhichDisplay));
    // A laptop screen beside a 16:9 monitor: a 16:10 capture has one home.
    let laptop = Display {
        x: 0,
        y: 0,
        w: 1440,
        h: 900,
    };
    let mut c = agent(vec![laptop, right]);
    let code = c.code();
    pair(&mut c, 1, &code);
    surface(&mut c, 1440, 900);
    assert_eq!(c.target(), Ok(laptop));
    surface(&mut c, 1920, 1080);
    assert_eq!(c.target(), Ok(right));
}

#[test]
fn a_shared_window_is_pointers_only_and_lets_go() {
    let mut a = driving();
    act(&mut a, "p1", 1, key_down("KeyA", "a", 0));
    let out = say(
        &mut a,
        PageMsg::Surface {
            kind: SurfaceKind::Window,
            w: 800,
            h: 600,
        },
    );
    assert_eq!(injected(&out), vec![key(30, false)]);
    assert_eq!(
        sent(&out, 1),
        vec![AgentMsg::Status {
            drives: false,
            why: Some(PointersOnly::NotAScreen)
        }]
    );
    let out = act(&mut a, "p1", 2, InputKind::Move { x: 0.5, y: 0.5 });
    assert!(injected(&out).is_empty());
    assert_eq!(a.stats().not_driving, 1);
}

#[test]
fn nothing_stays_held_when_a_holder_goes_the_page_goes_or_the_host_panics() {
    let press = |a: &mut Agent| {
        act(a, "p1", 1, key_down("ShiftLeft", "Shift", 1));
        act(a, "p1", 2, key_down("KeyA", "A", 1));
        act(
            a,
            "p1",
            3,
            InputKind::Down {
                x: 0.5,
                y: 0.5,
                b: Button::Left,
                m: None,
            },
        );
    };
    let released = vec![
        key(30, false),
        key(42, false),
        Inject::Button {
            b: Button::Left,
            down: false,
        },
    ];

    let mut a = driving();
    press(&mut a);
    let out = say(&mut a, PageMsg::Holders { ids: vec![] });
    assert_eq!(injected(&out), released, "revoked");

    let mut a = driving();
    press(&mut a);
    assert_eq!(injected(&a.close(0, 1)), released, "page gone");

    let mut a = driving();
    press(&mut a);
    let out = a.emergency();
    assert_eq!(injected(&out), released, "emergency");
    assert_eq!(sent(&out, 1), vec![AgentMsg::Emergency]);
    // After the hotkey, nobody drives until the page names holders again.
    let out = act(&mut a, "p1", 4, InputKind::Move { x: 0.5, y: 0.5 });
    assert!(injected(&out).is_empty());
}

#[test]
fn another_holder_keeps_what_it_holds() {
    let mut a = driving();
    say(
        &mut a,
        PageMsg::Holders {
            ids: vec!["p1".into(), "p2".into()],
        },
    );
    act(&mut a, "p1", 1, key_down("KeyA", "a", 0));
    act(&mut a, "p2", 1, key_down("KeyB", "b", 0));
    let out = say(
        &mut a,
        PageMsg::Holders {
            ids: vec!["p2".into()],
        },
    );
    // p1's A is let go; p2's B, whose press the cut may have dropped from the injector's
    // queue, is pressed again behind it.
    assert_eq!(out.first(), Some(&Action::Cut));
    assert_eq!(injected(&out), vec![key(30, false), key(48, true)]);
}

#[test]
fn modifiers_follow_the_event_and_the_emergency_chord_is_never_typed() {
    let mut a = driving();
    // Ctrl held according to the event although its own key-down never came.
    let out = act(&mut a, "p1", 1, key_down("KeyC", "c", Modifiers::CTRL));
    assert_eq!(injected(&out), vec![key(29, true), key(46, true)]);
    act(&mut a, "p1", 2, key_up("KeyC", "c", 2));
    // The ctrl key-up was lost: the next key says no modifier, so it is let go first.
    let out = act(&mut a, "p1", 3, key_down("KeyV", "v", 0));
    assert_eq!(injected(&out), vec![key(29, false), key(47, true)]);
    let out = act(
        &mut a,
        "p1",
        4,
        key_down("Escape", "Escape", Modifiers::CTRL | Modifiers::SHIFT),
    );
    assert!(!injected(&out).contains(&key(1, true)));
    assert_eq!(a.stats().reserved, 1);
    // A plain Escape is typed.
    let out = act(&mut a, "p1", 5, key_down("Escape", "Escape", 0));
    assert!(injected(&out).contains(&key(1, true)));
    // The chord built from separate key-downs: Ctrl or Shift while Escape is held (the X
    // server would repeat Escape under them) is refused.
    let out = act(&mut a, "p1", 6, key_down("ControlLeft", "Control", 0));
    assert!(injected(&out).is_empty());
    let out = act(&mut a, "p1", 7, key_down("ShiftRight", "Shift", 0));
    assert!(injected(&out).is_empty());
    assert_eq!(a.stats().reserved, 3);
    let esc_up = key_up("Escape", "Escape", 0);
    act(&mut a, "p1", 8, esc_up);
    // Ctrl and Shift held as keys, then Escape with no flags: refused all the same.
    act(&mut a, "p1", 9, key_down("ControlLeft", "Control", 0));
    act(&mut a, "p1", 10, key_down("ShiftLeft", "Shift", 0));
    let out = act(&mut a, "p1", 11, key_down("Escape", "Escape", 0));
    assert!(!injected(&out).contains(&key(1, true)));
    assert_eq!(a.stats().reserved, 4);
}

/// A click or a wheel event says which modifiers the controller held (its page may have seen
/// no key-down of them: focus was elsewhere as they were pressed), and the OS sees those.
#[test]
fn clicks_and_wheels_carry_their_modifiers() {
    let (shift, ctrl) = (Modifiers::SHIFT, Modifiers::CTRL);
    let down = |b, m: Option<u8>| InputKind::Down {
        x: 0.5,
        y: 0.5,
        b,
        m: m.map(Modifiers),
    };
    let up = |b, m: Option<u8>| InputKind::Up {
        x: 0.5,
        y: 0.5,
        b,
        m: m.map(Modifiers),
    };
    let at = Inject::MoveTo { x: 640, y: 360 };
    let button = |down| Inject::Button {
        b: Button::Left,
        down,
    };
    let mut a = driving();
    // A shift-click: Shift goes down before the button and up after it.
    let out = act(&mut a, "p1", 1, down(Button::Left, Some(shift)));
    assert_eq!(
        injected(&out),
        vec![at.clone(), key(42, true), button(true)]
    );
    let out = act(&mut a, "p1", 2, up(Button::Left, Some(shift)));
    assert_eq!(
        injected(&out),
        vec![at.clone(), button(false), key(42, false)]
    );
    // A page of an older version says nothing of modifiers: nothing is pressed or let go.
    act(&mut a, "p1", 3, key_down("ControlLeft", "Control", ctrl));
    let out = act(&mut a, "p1", 4, down(Button::Left, None));
    assert_eq!(injected(&out), vec![at.clone(), button(true)]);
    let out = act(&mut a, "p1", 5, up(Button::Left, None));
    assert_eq!(injected(&out), vec![at.clone(), button(false)]);
    // Ctrl held by its key: a ctrl-click keeps it, and its key-up lets it go.
    let out = act(&mut a, "p1", 6, down(Button::Left, Some(ctrl)));
    assert_eq!(injected(&out), vec![at.clone(), button(true)]);
    let out = act(&mut a, "p1", 7, up(Button::Left, Some(ctrl)));
    assert_eq!(injected(&out), vec![at.clone(), button(false)]);
    // Its key-up lost: a click that says no Ctrl lets it go first.
    let out = act(&mut a, "p1", 8, down(Button::Left, Some(0)));
    assert_eq!(
        injected(&out),
        vec![at.clone(), key(29, false), button(true)]
    );
    act(&mut a, "p1", 9, up(Button::Left, Some(0)));
    // Shift pressed for a click, then its own key-down heard (the page has focus now): the
    // click's release leaves it to its key-up.
    act(&mut a, "p1", 10, down(Button::Left, Some(shift)));
    let out = act(&mut a, "p1", 11, key_down("ShiftLeft", "Shift", shift));
    assert!(injected(&out).is_empty(), "{out:?}");
    let out = act(&mut a, "p1", 12, up(Button::Left, Some(shift)));
    assert_eq!(injected(&out), vec![at.clone(), button(false)]);
    let out = act(&mut a, "p1", 13, key_up("ShiftLeft", "Shift", 0));
    assert_eq!(injected(&out), vec![key(42, false)]);
    // Ctrl+wheel: Ctrl for the scroll only.
    let out = act(
        &mut a,
        "p1",
        14,
        InputKind::Wheel {
            x: 0.5,
            y: 0.5,
            dx: 0.0,
            dy: 100.0,
            m: Some(Modifiers(ctrl)),
        },
    );
    assert_eq!(
        injected(&out),
        vec![
            at.clone(),
            key(29, true),
            Inject::Scroll { dx: 0, dy: 1 },
            key(29, false)
        ]
    );
    // Shift with a wheel is left as the host has it (the controller's browser turned it into
    // sideways deltas already): not pressed, and not let go when the keyboard holds it.
    let wheel = |m| InputKind::Wheel {
        x: 0.5,
        y: 0.5,
        dx: 100.0,
        dy: 0.0,
        m: Some(Modifiers(m)),
    };
    let out = act(&mut a, "p1", 20, wheel(shift));
    assert_eq!(
        injected(&out),
        vec![at.clone(), Inject::Scroll { dx: 1, dy: 0 }]
    );
    act(&mut a, "p1", 21, key_down("ShiftLeft", "Shift", shift));
    let out = act(&mut a, "p1", 22, wheel(0));
    assert_eq!(
        injected(&out),
        vec![at.clone(), Inject::Scroll { dx: 1, dy: 0 }]
    );
    act(&mut a, "p1", 23, key_up("ShiftLeft", "Shift", 0));
    // Bits that are no modifier press nothing.
    let out = act(&mut a, "p1", 25, down(Button::Left, Some(0xf0)));
    assert_eq!(injected(&out), vec![at.clone(), button(true)]);
    act(&mut a, "p1", 26, up(Button::Left, None));
    assert_eq!(a.stats().reserved, 0);
}

/// Modifiers a click would press never complete a chord a key-down could not make: Escape
/// held by one holder and a Ctrl+Shift click of another's is a click without them.
#[test]
fn a_clicks_modifiers_never_make_a_reserved_chord() {
    let mut a = driving();
    say(
        &mut a,
        PageMsg::Holders {
            ids: vec!["p1".into(), "p2".into()],
        },
    );
    act(&mut a, "p1", 1, key_down("Escape", "Escape", 0));
    let click = |m| InputKind::Down {
        x: 0.5,
        y: 0.5,
        b: Button::Left,
        m: Some(Modifiers(m)),
    };
    let out = act(&mut a, "p2", 1, click(Modifiers::CTRL | Modifiers::SHIFT));
    let keys: Vec<_> = injected(&out)
        .into_iter()
        .filter(|i| matches!(i, Inject::Key { .. }))
        .collect();
    assert!(keys.is_empty(), "{out:?}");
    assert!(injected(&out).contains(&Inject::Button {
        b: Button::Left,
        down: true
    }));
    assert_eq!(a.stats().reserved, 1);
    // Ctrl+Alt while F1 is held: a text console.
    let mut b = driving();
    act(&mut b, "p1", 1, key_down("F1", "F1", 0));
    let out = act(&mut b, "p1", 2, click(Modifiers::CTRL | Modifiers::ALT));
    assert!(!injected(&out).contains(&key(29, true)), "{out:?}");
    assert!(!injected(&out).contains(&key(56, true)), "{out:?}");
}

#[test]
fn the_display_servers_own_chords_are_never_made() {
    let mut a = driving();
    // Ctrl+Alt+F1 (a text console), Ctrl+Alt+Backspace (kills X where enabled),
    // Ctrl+Alt+Delete: by the event's flags, or by modifier keys held down first.
    let ctrl_alt = Modifiers::CTRL | Modifiers::ALT;
    for (seq, code, key) in [
        (1, "F1", "F1"),
        (2, "F12", "F12"),
        (3, "Backspace", "Backspace"),
        (4, "Delete", "Delete"),
    ] {
        let out = act(&mut a, "p1", seq, key_down(code, key, ctrl_alt));
        assert!(
            !injected(&out).iter().any(
                |i| matches!(i, Inject::Key { evdev, down: true } if ![29, 56].contains(evdev))
            ),
            "{code}: {out:?}"
        );
    }
    act(&mut a, "p1", 5, key_down("ControlLeft", "Control", 0));
    act(&mut a, "p1", 6, key_down("AltLeft", "Alt", 0));
    let out = act(&mut a, "p1", 7, key_down("F2", "F2", 0));
    assert!(!injected(&out).contains(&key(60, true)));
    assert_eq!(a.stats().reserved, 5);
    // Alone, or with Ctrl only, they are keys like any other.
    let mut b = driving();
    let out = act(&mut b, "p1", 1, key_down("F2", "F2", 0));
    assert!(injected(&out).contains(&key(60, true)));
    let out = act(
        &mut b,
        "p1",
        2,
        key_down("Backspace", "Backspace", Modifiers::CTRL),
    );
    assert!(injected(&out).contains(&key(14, true)));
}

#[test]
fn text_wheel_and_double_click() {
    let mut a = driving();
    let out = act(
        &mut a,
        "p1",
        1,
        InputKind::Text {
            text: "héllo\u{7}".into(),
        },
    );
    assert_eq!(injected(&out), vec![Inject::Text("héllo".into())]);
    // A key with no physical equivalent types what it produced.
    let out = act(&mut a, "p1", 2, key_down("Lang1", "ä", 0));
    assert_eq!(injected(&out), vec![Inject::Text("ä".into())]);
    // Trackpad deltas add up to notches.
    let wheel = |dy| InputKind::Wheel {
        x: 0.5,
        y: 0.5,
        dx: 0.0,
        dy,
        m: None,
    };
    assert!(injected(&act(&mut a, "p1", 3, wheel(60.0))).is_empty());
    let out = act(&mut a, "p1", 4, wheel(60.0));
    assert_eq!(
        injected(&out),
        vec![
            Inject::MoveTo { x: 640, y: 360 },
            Inject::Scroll { dx: 0, dy: 1 }
        ]
    );
    let out = act(&mut a, "p1", 5, wheel(-300.0));
    assert!(injected(&out).contains(&Inject::Scroll { dx: 0, dy: -2 }));
    let out = act(
        &mut a,
        "p1",
        6,
        InputKind::Dbl {
            x: 0.5,
            y: 0.5,
            b: Button::Left,
            m: None,
        },
    );
    assert!(injected(&out).is_empty());
}

#[test]
fn input_is_rate_limited() {
    let mut a = driving();
    let mut applied = 0;
    for seq in 0..1000 {
        let out = a.text(
            0,
            1,
            &input("p1", seq, InputKind::Move { x: 0.5, y: 0.5 }),
            &rnd(0),
        );
        applied += injected(&out).len();
    }
    assert!(applied < 300, "{applied}");
    assert!(a.stats().over_rate > 700);
    // A second later the bucket has refilled.
    let out = a.text(
        1000,
        1,
        &input("p1", 2000, InputKind::Move { x: 0.5, y: 0.5 }),
        &rnd(0),
    );
    assert_eq!(injected(&out).len(), 1);
}

#[test]
fn a_flood_never_costs_a_release_nor_another_holder_its_input() {
    let mut a = driving();
    say(
        &mut a,
        PageMsg::Holders {
            ids: vec!["p1".into(), "p2".into()],
        },
    );
    let at = |a: &mut Agent, now: u64, from: &str, seq: u64, kind: InputKind| {
        injected(&a.text(now, 1, &input(from, seq, kind), &rnd(0)))
    };
    let down = |b| InputKind::Down {
        x: 0.5,
        y: 0.5,
        b,
        m: None,
    };
    let up = |b| InputKind::Up {
        x: 0.5,
        y: 0.5,
        b,
        m: None,
    };
    assert!(at(&mut a, 0, "p1", 1, key_down("KeyA", "a", 0)).contains(&key(30, true)));
    assert!(!at(&mut a, 0, "p1", 2, down(Button::Left)).is_empty());
    // p1 spends its whole budget in the same millisecond.
    for seq in 3..1000 {
        at(&mut a, 0, "p1", seq, InputKind::Move { x: 0.5, y: 0.5 });
    }
    assert!(a.stats().over_rate > 700);
    assert!(at(&mut a, 0, "p1", 1000, InputKind::Move { x: 0.1, y: 0.1 }).is_empty());
    // Its releases still land; a key-up of nothing held is input like any other.
    let up_key = key_up("KeyA", "a", 0);
    assert!(at(&mut a, 0, "p1", 1001, up_key.clone()).contains(&key(30, false)));
    assert!(
        at(&mut a, 0, "p1", 1002, up(Button::Left)).contains(&Inject::Button {
            b: Button::Left,
            down: false
        })
    );
    assert!(at(&mut a, 0, "p1", 1003, up_key).is_empty());
    // The other holder's input is its own budget's business.
    assert_eq!(
        at(&mut a, 0, "p2", 1, InputKind::Move { x: 0.0, y: 0.0 }),
        vec![Inject::MoveTo { x: 0, y: 0 }]
    );
}

#[test]
fn a_stopping_agent_lets_go_of_everything_and_closes_its_sockets() {
    let mut a = driving();
    act(&mut a, "p1", 1, key_down("KeyA", "a", 0));
    act(
        &mut a,
        "p1",
        2,
        InputKind::Down {
            x: 0.5,
            y: 0.5,
            b: Button::Left,
            m: None,
        },
    );
    let out = a.shutdown();
    let released = injected(&out);
    assert!(released.contains(&key(30, false)));
    assert!(released.contains(&Inject::Button {
        b: Button::Left,
        down: false
    }));
    assert!(closed(&out, 1));
    assert!(!a.is_paired());
    // Nothing is held any more, and nobody drives.
    assert!(injected(&a.shutdown()).is_empty());
    assert!(injected(&act(&mut a, "p1", 3, InputKind::Move { x: 0.5, y: 0.5 })).is_empty());
}

#[test]
fn an_unpaired_socket_can_only_pair() {
    let mut a = agent(vec![SCREEN]);
    a.open(1, Some(ORIGIN), &[0; 16]);
    let out = say(
        &mut a,
        PageMsg::Holders {
            ids: vec!["p1".into()],
        },
    );
    assert!(closed(&out, 1));
    a.open(2, Some(ORIGIN), &[0; 16]);
    let out = a.text(
        0,
        2,
        &input("p1", 1, InputKind::Move { x: 0.1, y: 0.1 }),
        &rnd(0),
    );
    assert!(closed(&out, 2) && injected(&out).is_empty());
    a.open(3, Some(ORIGIN), &[0; 16]);
    let out = a.text(0, 3, "{not json", &rnd(0));
    assert!(closed(&out, 3));
    a.open(4, Some(ORIGIN), &[0; 16]);
    let out = a.text(
        0,
        4,
        r#"{"v":9,"t":"pair","proof":"x","nonce":"y"}"#,
        &rnd(0),
    );
    assert_eq!(
        sent(&out, 4),
        vec![AgentMsg::Refused {
            reason: Refusal::Version
        }]
    );
}

#[test]
fn the_client_reports_what_the_agent_says() {
    let mut a = agent(vec![SCREEN]);
    let code = a.code();
    let (_, page) = talk(
        &mut a,
        0,
        1,
        ORIGIN,
        AgentClient::new(
            ORIGIN,
            DEFAULT_PORT,
            Credential::Code(PairingTarget::parse(&code).unwrap().code),
            &[3; 16],
        ),
    );
    assert_eq!(page.state().testid_text(), "absent");
    assert!(matches!(page.state(), AgentState::Connected { .. }));
    let mut client = page;
    client.on_frame(
        &AgentMsg::Status {
            drives: true,
            why: None,
        }
        .encode(),
    );
    assert_eq!(client.state().testid_text(), "connected");
    assert_eq!(client.state().sentence(), "Control drives this computer.");
    assert_eq!(
        client.on_frame(&AgentMsg::Emergency.encode()),
        vec![ClientEvent::Emergency]
    );
    assert!(client.on_frame("garbage").is_empty());
    assert_eq!(client.closed().testid_text(), "absent");
}

/// Something else took the agent's port (the agent was down): it learns neither the tab's
/// token nor the code, its answers are not believed, and nothing it says drives the page.
#[test]
fn a_page_believes_only_an_agent_that_proves_the_secret() {
    let hello = AgentMsg::Hello {
        agent: "impostor".into(),
        nonce: "chosen".into(),
    }
    .encode();
    for credential in [
        Credential::Resume("the-tabs-token".into()),
        Credential::Code(PairingCode::parse("ABCDE-FGHJK").unwrap()),
    ] {
        let mut page = AgentClient::new(ORIGIN, DEFAULT_PORT, credential, &[5; 16]);
        let ev = page.on_frame(&hello);
        let [ClientEvent::Send(frame)] = &ev[..] else {
            panic!("{ev:?}");
        };
        assert!(!frame.contains("the-tabs-token") && !frame.contains("ABCDE"));
        // Before any answer, nothing is heard.
        let status = AgentMsg::Status {
            drives: true,
            why: None,
        }
        .encode();
        assert!(page.on_frame(&status).is_empty());
        assert!(page.on_frame(&AgentMsg::Emergency.encode()).is_empty());
        let ev = page.on_frame(
            &AgentMsg::Paired {
                resume: "x".into(),
                proof: "AAAA".into(),
            }
            .encode(),
        );
        assert_eq!(
            ev,
            vec![
                ClientEvent::NotTheAgent(NOT_THE_AGENT_SENTENCE),
                ClientEvent::State(AgentState::Absent)
            ]
        );
        assert!(page.on_frame(&status).is_empty());
        assert!(page.on_frame(&AgentMsg::Emergency.encode()).is_empty());
        assert_eq!(page.state().testid_text(), "absent");
    }

    // A real agent's answer, replayed to another page (another nonce), proves nothing.
    let mut a = agent(vec![SCREEN]);
    let code = a.code();
    let target = PairingTarget::parse(&code).unwrap();
    let (out, page) = talk(
        &mut a,
        0,
        1,
        ORIGIN,
        AgentClient::new(
            ORIGIN,
            DEFAULT_PORT,
            Credential::Code(target.code.clone()),
            &[1; 16],
        ),
    );
    assert!(matches!(page.state(), AgentState::Connected { .. }));
    let answer = out
        .iter()
        .find_map(|x| match x {
            Action::Send(1, text) if text.contains("paired") => Some(text.clone()),
            _ => None,
        })
        .unwrap();
    let mut other = AgentClient::new(
        ORIGIN,
        DEFAULT_PORT,
        Credential::Code(target.code),
        &[2; 16],
    );
    other.on_frame(
        &AgentMsg::Hello {
            agent: "test".into(),
            nonce: URL_SAFE_NO_PAD_NONCE.into(),
        }
        .encode(),
    );
    assert!(matches!(
        other.on_frame(&answer)[0],
        ClientEvent::NotTheAgent(_)
    ));
}

/// What answers on the port the page reached relays the exchange to an agent listening on
/// another one: the agent's answer names its own port, so the page does not believe it.
#[test]
fn an_exchange_relayed_to_the_agent_on_another_port_is_not_believed() {
    for (agent_port, believed) in [(DEFAULT_PORT + 1, false), (DEFAULT_PORT, true)] {
        let mut a = Agent::new(
            AgentConfig {
                origins: vec![ORIGIN.into()],
                version: "test".into(),
                port: agent_port,
            },
            &[1, 2, 3, 4, 5, 6, 7],
            vec![SCREEN],
        );
        let code = PairingTarget::parse(&a.code()).unwrap().code;
        let page = AgentClient::new(ORIGIN, DEFAULT_PORT, Credential::Code(code), &[4; 16]);
        let (out, page) = talk(&mut a, 0, 1, ORIGIN, page);
        assert!(matches!(sent(&out, 1)[0], AgentMsg::Paired { .. }));
        assert_eq!(
            matches!(page.state(), AgentState::Connected { .. }),
            believed
        );
    }
}

/// The agent opened socket 1 with this nonce (`[1; 16]`, base64url).
const URL_SAFE_NO_PAD_NONCE: &str = "AQEBAQEBAQEBAQEBAQEBAQ";

/// An agent of the first version says hello in it: the page says to update, not "pairing…".
#[test]
fn an_agent_of_another_version_is_named() {
    let mut page = resume_client(ORIGIN, "tok");
    let ev = page.on_frame(r#"{"v":1,"t":"hello","agent":"0.1.0","nonce":"n"}"#);
    assert_eq!(
        ev,
        vec![
            ClientEvent::Refused(refusal_sentence(Refusal::Version)),
            ClientEvent::State(AgentState::Absent)
        ]
    );
}

proptest! {
    /// Whatever a paired page sends, nothing panics, Ctrl+Shift+Esc is never held, and once
    /// it goes nothing is held.
    #[test]
    fn any_frames_then_close_leaves_nothing_held(
        frames in prop::collection::vec(
            prop_oneof![
                (0u64..3, any::<u8>(), -1.0f64..2.0, -1.0f64..2.0).prop_map(|(who, k, x, y)| {
                    let from = ["p1", "p2", "x"][who as usize];
                    let kind = match k % 6 {
                        // Modifiers said with clicks and wheels, or not (an older page).
                        0 => InputKind::Down { x, y, b: Button::Left, m: (k / 6 % 3 > 0).then_some(Modifiers(k / 18 % 16)) },
                        1 => InputKind::Up { x, y, b: Button::Left, m: Some(Modifiers(k / 6 % 16)) },
                        2 => key_down(["KeyA", "ShiftLeft", "ControlRight", "Escape"][(k / 6 % 4) as usize], "a", k % 16),
                        3 => InputKind::KeyUp { key: "a".into(), code: "KeyA".into(), m: Modifiers(0) },
                        4 => InputKind::Wheel { x, y, dx: x * 500.0, dy: y * 500.0, m: (k / 6 % 2 == 0).then_some(Modifiers(k / 12 % 16)) },
                        _ => InputKind::Move { x, y },
                    };
                    input(from, u64::from(k), kind)
                }),
                prop::collection::vec(prop::sample::select(vec!["p1", "p2"]), 0..3).prop_map(|ids| {
                    frame(PageMsg::Holders { ids: ids.into_iter().map(String::from).collect() })
                }),
                ".{0,60}",
            ],
            0..60,
        )
    ) {
        let mut a = driving();
        let mut held_keys = std::collections::BTreeSet::new();
        let mut held_buttons = 0i32;
        let track = |out: &[Action], held_keys: &mut std::collections::BTreeSet<u16>, held_buttons: &mut i32| {
            for i in injected(out) {
                match i {
                    Inject::Key { evdev, down: true } => { held_keys.insert(evdev); }
                    Inject::Key { evdev, down: false } => { held_keys.remove(&evdev); }
                    Inject::Button { down: true, .. } => *held_buttons += 1,
                    Inject::Button { down: false, .. } => *held_buttons -= 1,
                    _ => {}
                }
            }
        };
        for (t, f) in frames.iter().enumerate() {
            let out = a.text(t as u64, 1, f, &rnd(0));
            track(&out, &mut held_keys, &mut held_buttons);
            // Never Escape with Ctrl and Shift, whatever came (keys, or a click's modifiers).
            let any = |ks: [u16; 2]| ks.iter().any(|k| held_keys.contains(k));
            prop_assert!(
                !(held_keys.contains(&1) && any([29, 97]) && any([42, 54])),
                "{held_keys:?}"
            );
        }
        let out = a.close(0, 1);
        track(&out, &mut held_keys, &mut held_buttons);
        prop_assert!(held_keys.is_empty(), "{held_keys:?}");
        prop_assert_eq!(held_buttons, 0);
    }
}

/// The display server's chords cannot be built in any order: a key held first and the
/// modifiers after (its repeat makes the chord), or keys held by another holder.
#[test]
fn the_display_servers_chords_are_refused_whatever_comes_last() {
    let mut a = driving();
    let f1_down = key(59, true);
    assert!(injected(&act(&mut a, "p1", 1, key_down("F1", "F1", 0))).contains(&f1_down));
    let ctrl = act(
        &mut a,
        "p1",
        2,
        key_down("ControlLeft", "Control", Modifiers::CTRL),
    );
    assert!(injected(&ctrl).contains(&key(29, true)));
    let alt = act(
        &mut a,
        "p1",
        3,
        key_down("AltLeft", "Alt", Modifiers::CTRL | Modifiers::ALT),
    );
    assert!(injected(&alt).is_empty(), "{alt:?}");
    assert_eq!(a.stats().reserved, 1);

    // Escape held, then a key whose flags say Ctrl+Shift (sync_modifiers would press them).
    let mut b = driving();
    act(&mut b, "p1", 1, key_down("Escape", "Escape", 0));
    let out = act(
        &mut b,
        "p1",
        2,
        key_down("KeyA", "A", Modifiers::CTRL | Modifiers::SHIFT),
    );
    assert!(injected(&out).is_empty(), "{out:?}");

    // Across holders: p2's Ctrl+Alt on top of p1's held Delete.
    let mut c = driving();
    say(
        &mut c,
        PageMsg::Holders {
            ids: vec!["p1".into(), "p2".into()],
        },
    );
    act(&mut c, "p1", 1, key_down("Delete", "Delete", 0));
    act(
        &mut c,
        "p2",
        1,
        key_down("ControlLeft", "Control", Modifiers::CTRL),
    );
    let out = act(
        &mut c,
        "p2",
        2,
        key_down("AltRight", "Alt", Modifiers::CTRL | Modifiers::ALT),
    );
    assert!(injected(&out).is_empty(), "{out:?}");
}

/// Input handed to the injector and not applied yet never lands after control ends: a revoke,
/// the emergency hotkey and an unpairing start with a cut, before their releases.
#[test]
fn control_ending_cuts_what_is_queued_before_letting_go() {
    let mut a = driving();
    act(&mut a, "p1", 1, key_down("KeyA", "a", 0));
    let revoke = say(&mut a, PageMsg::Holders { ids: vec![] });
    assert_eq!(revoke.first(), Some(&Action::Cut));
    assert!(injected(&revoke).contains(&key(30, false)));
    // A holder list that loses no one cuts nothing.
    let mut b = driving();
    let more = say(
        &mut b,
        PageMsg::Holders {
            ids: vec!["p1".into(), "p2".into()],
        },
    );
    assert!(!more.contains(&Action::Cut));
    assert_eq!(b.emergency().first(), Some(&Action::Cut));
    let mut c = driving();
    assert_eq!(c.close(0, 1).first(), Some(&Action::Cut));
    assert!(key(30, false).is_release());
    assert!(!Inject::Text("a".into()).is_release());
}

/// What one event costs the display server is bounded: a text is typed within a per-holder
/// budget of characters, and a wheel event scrolls at most `MAX_NOTCHES` (the rest is
/// dropped, not kept for later).
#[test]
fn typing_and_scrolling_are_budgeted_by_their_cost() {
    use pairux_core::agent::{MAX_NOTCHES, MAX_TEXT_CHARS};
    let mut a = driving();
    let long: String = "x".repeat(MAX_TEXT_CHARS);
    let text = |t: &str| InputKind::Text { text: t.into() };
    assert_eq!(
        injected(&a.text(0, 1, &input("p1", 1, text(&long)), &rnd(0))),
        vec![Inject::Text(long.clone())]
    );
    // The budget is spent: the next text is refused until it refills (100 characters/s).
    assert!(injected(&a.text(10, 1, &input("p1", 2, text("hello")), &rnd(0))).is_empty());
    assert_eq!(a.stats().over_rate, 1);
    assert_eq!(
        injected(&a.text(100, 1, &input("p1", 3, text("hello")), &rnd(0))),
        vec![Inject::Text("hello".into())]
    );

    let wheel = |dy| InputKind::Wheel {
        x: 0.5,
        y: 0.5,
        dx: 0.0,
        dy,
        m: None,
    };
    let out = act(&mut a, "p1", 4, wheel(9_000.0));
    assert!(injected(&out).contains(&Inject::Scroll {
        dx: 0,
        dy: MAX_NOTCHES
    }));
    // Nothing of the 90 notches is left over for the next small turn.
    let out = act(&mut a, "p1", 5, wheel(60.0));
    assert!(injected(&out).is_empty(), "{out:?}");
}

/// A held ordinary key whose controller goes silent (its key-up stuck behind a stalled
/// connection) is let go once no key-down of it — first or repeat — came for
/// `HELD_KEY_SILENCE_MS`; a repeat heard later presses it again. Modifiers wait for their
/// key-up.
#[test]
fn a_held_key_is_let_go_when_its_repeats_stop() {
    use pairux_core::agent::HELD_KEY_SILENCE_MS;
    let mut a = driving();
    let at = |a: &mut Agent, now: u64, seq: u64, kind: InputKind| {
        a.text(now, 1, &input("p1", seq, kind), &rnd(0))
    };
    at(
        &mut a,
        0,
        1,
        key_down("ControlLeft", "Control", Modifiers::CTRL),
    );
    at(
        &mut a,
        0,
        2,
        key_down("Backspace", "Backspace", Modifiers::CTRL),
    );
    assert_eq!(a.poll_timeout(), Some(HELD_KEY_SILENCE_MS));
    // Repeats keep it held.
    at(
        &mut a,
        1_000,
        3,
        InputKind::KeyDown {
            key: "Backspace".into(),
            code: "Backspace".into(),
            m: Modifiers(Modifiers::CTRL),
            rep: true,
        },
    );
    assert!(a.handle_timeout(HELD_KEY_SILENCE_MS).is_empty());
    assert_eq!(a.poll_timeout(), Some(1_000 + HELD_KEY_SILENCE_MS));
    let out = a.handle_timeout(1_000 + HELD_KEY_SILENCE_MS);
    assert_eq!(injected(&out), vec![key(14, false)]);
    assert_eq!(a.stats().keys_let_go, 1);
    // Ctrl stays down (no timer for it), and a repeat heard later presses the key again.
    assert_eq!(a.poll_timeout(), None);
    let out = at(
        &mut a,
        5_000,
        4,
        InputKind::KeyDown {
            key: "Backspace".into(),
            code: "Backspace".into(),
            m: Modifiers(Modifiers::CTRL),
            rep: true,
        },
    );
    assert!(injected(&out).contains(&key(14, true)));
}

/// A modifier the agent pressed itself (`sync_modifiers` presses the left key) goes with the
/// controller's key-up of the other hand's key: right Ctrl held before the picture had focus,
/// then a key with Ctrl, then right Ctrl's key-up.
#[test]
fn a_modifier_key_up_lets_go_of_the_one_the_agent_pressed() {
    let mut a = driving();
    let out = act(&mut a, "p1", 1, key_down("KeyC", "c", Modifiers::CTRL));
    assert_eq!(injected(&out), vec![key(29, true), key(46, true)]);
    act(&mut a, "p1", 2, key_up("KeyC", "c", Modifiers::CTRL));
    let out = act(&mut a, "p1", 3, key_up("ControlRight", "Control", 0));
    assert_eq!(injected(&out), vec![key(29, false)]);
    // Another holder's Ctrl is its own.
    let mut b = driving();
    say(
        &mut b,
        PageMsg::Holders {
            ids: vec!["p1".into(), "p2".into()],
        },
    );
    act(
        &mut b,
        "p1",
        1,
        key_down("ControlLeft", "Control", Modifiers::CTRL),
    );
    let out = act(&mut b, "p2", 1, key_up("ControlRight", "Control", 0));
    assert!(injected(&out).is_empty(), "{out:?}");
}

/// A refused resume is not a wrong code: nobody typed one, so the page says what happened.
#[test]
fn a_refused_resume_says_the_agent_forgot_the_tab_not_that_a_code_was_wrong() {
    let events = |client: AgentClient| {
        let mut a = agent(vec![SCREEN]);
        let mut client = client;
        let mut heard = Vec::new();
        for action in a.open(1, Some(ORIGIN), &[1; 16]) {
            let Action::Send(_, hello) = action else {
                continue;
            };
            for ev in client.on_frame(&hello) {
                let ClientEvent::Send(frame) = ev else {
                    continue;
                };
                for reply in a.text(0, 1, &frame, &rnd(1)) {
                    if let Action::Send(1, text) = reply {
                        heard.extend(client.on_frame(&text));
                    }
                }
            }
        }
        heard
    };
    // Every `agent()` makes the same code from the same random bytes; this is another one.
    let wrong = PairingCode::generate(&[0x5a; CODE_RANDOM_LEN]);
    let refused = |sentence| {
        vec![
            ClientEvent::Refused(sentence),
            ClientEvent::State(AgentState::Absent),
        ]
    };
    assert_eq!(
        events(resume_client(ORIGIN, "a token the agent never gave")),
        refused(RESUME_REFUSED_SENTENCE)
    );
    assert_eq!(
        events(AgentClient::new(
            ORIGIN,
            DEFAULT_PORT,
            Credential::Code(wrong),
            &[7; 16]
        )),
        refused(refusal_sentence(Refusal::BadCode))
    );
}
