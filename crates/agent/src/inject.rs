//! The injector: a thread that owns the OS input connection (enigo) and applies
//! [`Inject`] operations in order, so the async side never blocks on the display server.

use std::sync::mpsc;

use enigo::{Axis, Coordinate, Direction, Enigo, Keyboard, Mouse, Settings};
use pairux_core::agent::Inject;
use pairux_core::control::Button;

/// The injector thread and the way to it.
pub struct Injector {
    tx: mpsc::Sender<Inject>,
    thread: std::thread::JoinHandle<()>,
}

impl Injector {
    /// Queues an operation (applied in order).
    pub fn send(&self, op: Inject) {
        let _ = self.tx.send(op);
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
    let (tx, rx) = mpsc::channel::<Inject>();
    let thread = std::thread::Builder::new()
        .name("inject".into())
        .spawn(move || {
            let mut failures = 0u64;
            for op in rx {
                if let Err(err) = apply(&mut enigo, &op) {
                    failures += 1;
                    if failures.is_power_of_two() {
                        tracing::warn!("injection failed ({failures} so far): {err}");
                    }
                }
            }
        })
        .ok()?;
    Some(Injector { tx, thread })
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
