//! The guest app's head start: a guest's session starts signaling before the page is drawn.
//!
//! A viewer's first frame waits on its main thread: the join, the host's offer and our answer
//! each need it, and building and laying out the page takes it for ~100–200 ms on a loaded
//! machine. So a guest's page joins first and is drawn once its answer is out (while ICE, DTLS
//! and the host's first encoded frame take their time elsewhere), or as soon as there is
//! nothing to answer soon (no host here, the connection in trouble), and never later than
//! [`LATEST_MS`] after the start.

use std::cell::RefCell;

use crate::platform::timer::Timer;

/// The latest a guest's page is drawn after its head start began.
pub const LATEST_MS: u64 = 700;

struct Pending {
    draw: Box<dyn FnOnce()>,
    _latest: Timer,
}

thread_local! {
    static PENDING: RefCell<Option<Pending>> = const { RefCell::new(None) };
}

/// Holds `draw` until [`ready`] (or [`LATEST_MS`]).
pub fn draw_when_ready(draw: impl FnOnce() + 'static) {
    let pending = Pending {
        draw: Box::new(draw),
        _latest: Timer::after(LATEST_MS, ready),
    };
    PENDING.with(|p| *p.borrow_mut() = Some(pending));
}

/// The page may be drawn now: in a task of its own, so that whoever calls this (e.g. right
/// after sending an answer) finishes first, and messages already queued go before it. Does
/// nothing once drawn, and nothing in a page that was never held.
pub fn ready() {
    let Some(pending) = PENDING.with(|p| p.borrow_mut().take()) else {
        return;
    };
    let Pending { draw, _latest } = pending;
    drop(_latest);
    Timer::detached(0, draw);
}
