//! The injector: a thread that owns the OS input connection (enigo) and applies
//! [`Inject`] operations in order, so the async side never blocks on the display server.
//!
//! The display server can be slower than a holder's input (each step is a round trip, text
//! remaps keys), so operations can wait in the queue. Two things keep that queue from acting
//! for anyone after control ends, or from growing without end:
//! - a cut ([`Injector::cut`], the agent's `Action::Cut`): everything queued before it that
//!   presses, moves, scrolls or types is dropped, and a text being typed stops at its next
//!   character; releases still apply;
//! - at most [`MAX_QUEUED`] operations wait: past that, new moves, scrolls and texts are
//!   dropped — never a key or button, pressed or let go, which the agent counts as held.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use enigo::{Axis, Coordinate, Direction, Enigo, Keyboard, Mouse, Settings};
use pairux_core::agent::Inject;
use pairux_core::control::Button;

/// Most operations waiting to be applied (a second of pointer moves at 120 Hz from two
/// holders, and more): past it, only keys and buttons are queued.
pub const MAX_QUEUED: usize = 256;

/// What the thread and the async side share.
#[derive(Default)]
struct Shared {
    /// Bumped by each cut; an operation queued under an older one is stale.
    generation: AtomicU64,
    /// Operations queued and not applied yet.
    queued: AtomicUsize,
    /// Operations dropped: stale after a cut, or over [`MAX_QUEUED`].
    dropped: AtomicU64,
}

/// The injector thread and the way to it.
pub struct Injector {
    tx: mpsc::Sender<(u64, Inject)>,
    shared: Arc<Shared>,
    thread: std::thread::JoinHandle<()>,
}

impl Injector {
    /// Queues an operation (applied in order), unless the queue is full and it is a move, a
    /// scroll or a text (nothing the agent counts as held).
    pub fn send(&self, op: Inject) {
        let s = &self.shared;
        let holds_nothing = matches!(
            op,
            Inject::MoveTo { .. } | Inject::Scroll { .. } | Inject::Text(_)
        );
        if holds_nothing && s.queued.load(Ordering::Acquire) >= MAX_QUEUED {
            self.dropped(1);
            return;
        }
        s.queued.fetch_add(1, Ordering::AcqRel);
        if self
            .tx
            .send((s.generation.load(Ordering::Acquire), op))
            .is_err()
        {
            s.queued.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// What was queued before now and not applied yet is dropped, but for its releases.
    pub fn cut(&self) {
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
    }

    fn dropped(&self, n: u64) {
        let total = self.shared.dropped.fetch_add(n, Ordering::Relaxed) + n;
        if total.is_power_of_two() {
            tracing::warn!("{total} input operations dropped (queued past a cut, or too many)");
        }
    }

    /// Waits until everything queued has been applied, then ends the thread: the last
    /// releases are on the display server before the process exits.
    pub fn finish(self) {
        drop(self.tx);
        let _ = self.thread.join();
    }
}

/// Starts the injector; `None` if this session has no display to inject into.
pub fn spawn() -> Option<Injector> {
    let settings = Settings {
        // XTEST's per-event delay would add latency to every event; ordering is kept anyway.
        linux_delay: 0,
        ..Settings::default()
    };
    let mut enigo = match Enigo::new(&settings) {
        Ok(enigo) => enigo,
        Err(err) => {
            tracing::warn!("no display to inject into: {err}");
            return None;
        }
    };
    spawn_with(move |op| apply(&mut enigo, op).map_err(|err| err.to_string()))
}

/// The injector's thread applying each operation with `apply` (enigo; a recorder in tests).
fn spawn_with(
    mut apply: impl FnMut(&Inject) -> Result<(), String> + Send + 'static,
) -> Option<Injector> {
    let (tx, rx) = mpsc::channel::<(u64, Inject)>();
    let shared = Arc::new(Shared::default());
    let ours = shared.clone();
    let thread = std::thread::Builder::new()
        .name("inject".into())
        .spawn(move || {
            let mut failures = 0u64;
            for (generation, op) in rx {
                ours.queued.fetch_sub(1, Ordering::AcqRel);
                if generation < ours.generation.load(Ordering::Acquire) && !op.is_release() {
                    ours.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let mut run = |op: &Inject| {
                    if let Err(err) = apply(op) {
                        failures += 1;
                        if failures.is_power_of_two() {
                            tracing::warn!("injection failed ({failures} so far): {err}");
                        }
                    }
                };
                // A text goes a character at a time, so a cut stops it between two: a long
                // one takes seconds (each character remaps a key), and what its holder could
                // no longer do must not go on meanwhile.
                if let Inject::Text(text) = &op {
                    for c in text.chars() {
                        if generation < ours.generation.load(Ordering::Acquire) {
                            ours.dropped.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        run(&Inject::Text(c.to_string()));
                    }
                    continue;
                }
                run(&op);
            }
        })
        .ok()?;
    Some(Injector { tx, shared, thread })
}

/// The main display's size, when nothing better (RandR) is known.
pub fn main_display() -> Option<(i32, i32)> {
    Enigo::new(&Settings::default()).ok()?.main_display().ok()
}

fn apply(enigo: &mut Enigo, op: &Inject) -> enigo::InputResult<()> {
    let dir = |down: bool| {
        if down {
            Direction::Press
        } else {
            Direction::Release
        }
    };
    match op {
        Inject::MoveTo { x, y } => enigo.move_mouse(*x, *y, Coordinate::Abs),
        Inject::Button { b, down } => {
            let b = match b {
                Button::Left => enigo::Button::Left,
                Button::Middle => enigo::Button::Middle,
                Button::Right => enigo::Button::Right,
                Button::Back => enigo::Button::Back,
                Button::Forward => enigo::Button::Forward,
            };
            enigo.button(b, dir(*down))
        }
        Inject::Key { evdev, down } => key(enigo, *evdev, dir(*down)),
        Inject::Text(text) => enigo.text(text),
        Inject::Scroll { dx, dy } => {
            if *dy != 0 {
                enigo.scroll(*dy, Axis::Vertical)?;
            }
            if *dx != 0 {
                enigo.scroll(*dx, Axis::Horizontal)?;
            }
            Ok(())
        }
    }
}

/// A physical key: on Linux the display server's key code is evdev + 8 (X11, XWayland).
#[cfg(target_os = "linux")]
fn key(enigo: &mut Enigo, evdev: u16, dir: Direction) -> enigo::InputResult<()> {
    enigo.raw(evdev + 8, dir)
}

/// Other systems number physical keys differently; this version types on Linux only.
#[cfg(not(target_os = "linux"))]
fn key(_: &mut Enigo, _: u16, _: Direction) -> enigo::InputResult<()> {
    Err(enigo::InputError::InvalidInput(
        "physical keys are mapped for Linux only in this version",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Condvar, Mutex};

    /// An injector whose applier records each operation and holds the first one until
    /// [`Held::open`], so that what is sent meanwhile waits in the queue.
    struct Held {
        injector: Injector,
        applied: Arc<Mutex<Vec<Inject>>>,
        gate: Arc<(Mutex<bool>, Condvar)>,
        started: mpsc::Receiver<()>,
    }

    impl Held {
        fn new() -> Held {
            let applied = Arc::new(Mutex::new(Vec::new()));
            let gate = Arc::new((Mutex::new(false), Condvar::new()));
            let (started_tx, started) = mpsc::channel();
            let (log, wait) = (applied.clone(), gate.clone());
            let injector = spawn_with(move |op| {
                let _ = started_tx.send(());
                let (open, cv) = &*wait;
                let mut open = open.lock().unwrap();
                while !*open {
                    open = cv.wait(open).unwrap();
                }
                log.lock().unwrap().push(op.clone());
                Ok(())
            })
            .unwrap();
            Held {
                injector,
                applied,
                gate,
                started,
            }
        }

        /// Sends `first` and waits until the thread is applying it (held there).
        fn holding(first: Inject) -> Held {
            let held = Held::new();
            held.injector.send(first);
            held.started.recv().unwrap();
            held
        }

        /// Lets everything through, waits for the queue to drain, and returns what was applied.
        fn open(self) -> (Vec<Inject>, u64) {
            let (open, cv) = &*self.gate;
            *open.lock().unwrap() = true;
            cv.notify_all();
            let shared = self.injector.shared.clone();
            self.injector.finish();
            let applied = self.applied.lock().unwrap().clone();
            (applied, shared.dropped.load(Ordering::Relaxed))
        }
    }

    fn key(evdev: u16, down: bool) -> Inject {
        Inject::Key { evdev, down }
    }

    fn button(down: bool) -> Inject {
        Inject::Button {
            b: Button::Left,
            down,
        }
    }

    #[test]
    fn a_cut_drops_what_waits_before_it_but_its_releases() {
        let held = Held::holding(button(true));
        for op in [
            Inject::MoveTo { x: 5, y: 5 },
            key(30, true),
            Inject::Text("typed late".into()),
            Inject::Scroll { dx: 0, dy: 3 },
            key(30, false),
            button(false),
        ] {
            held.injector.send(op);
        }
        held.injector.cut();
        // Sent after the cut: a holder who keeps control goes on.
        held.injector.send(key(42, true));
        let (applied, dropped) = held.open();
        assert_eq!(
            applied,
            vec![button(true), key(30, false), button(false), key(42, true)]
        );
        assert_eq!(dropped, 4);
    }

    #[test]
    fn a_cut_stops_a_text_being_typed_at_its_next_character() {
        // Held while typing the first character of a long text.
        let held = Held::holding(Inject::Text("ab c".into()));
        held.injector.cut();
        let (applied, dropped) = held.open();
        assert_eq!(applied, vec![Inject::Text("a".into())]);
        assert_eq!(dropped, 1);
        // Without a cut, every character in order.
        let held = Held::holding(Inject::Text("hé!".into()));
        let (applied, _) = held.open();
        let typed: Vec<_> = ["h", "é", "!"].map(|c| Inject::Text(c.into())).into();
        assert_eq!(applied, typed);
    }

    #[test]
    fn past_max_queued_moves_are_dropped_never_keys_or_buttons() {
        let held = Held::holding(Inject::MoveTo { x: 0, y: 0 });
        let extra = 10;
        for n in 0..MAX_QUEUED + extra {
            let x = i32::try_from(n).unwrap() + 1;
            held.injector.send(Inject::MoveTo { x, y: 0 });
        }
        held.injector.send(Inject::Text("dropped too".into()));
        for op in [key(30, true), button(true), button(false), key(30, false)] {
            held.injector.send(op);
        }
        let (applied, dropped) = held.open();
        assert_eq!(dropped, u64::try_from(extra).unwrap() + 1);
        assert_eq!(applied.len(), 1 + MAX_QUEUED + 4);
        // In order: the moves that fit, then every key and button.
        assert_eq!(
            applied[MAX_QUEUED],
            Inject::MoveTo {
                x: i32::try_from(MAX_QUEUED).unwrap(),
                y: 0
            }
        );
        assert_eq!(
            applied[MAX_QUEUED + 1..],
            [key(30, true), button(true), button(false), key(30, false)]
        );
    }
}
