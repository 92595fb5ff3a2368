//! DOM input events turned into plain values, so components never touch event objects.

use pairux_core::control::{Button, Modifiers};
use web_sys::{CompositionEvent, Event, KeyboardEvent, MouseEvent, WheelEvent};

/// A pointer event's position (client px), button and the modifier keys held.
#[derive(Debug, Clone, Copy)]
pub struct PointerSample {
    pub x: f64,
    pub y: f64,
    pub button: Option<Button>,
    pub mods: Modifiers,
}

/// A key event.
#[derive(Debug, Clone)]
pub struct KeySample {
    pub key: String,
    pub code: String,
    pub mods: Modifiers,
    pub repeat: bool,
    /// Part of an IME composition: the composed text arrives on `compositionend`.
    pub composing: bool,
    pub ctrl: bool,
    pub shift: bool,
}

impl KeySample {
    /// A key an input method takes: one it composes with (`isComposing`, `Process`), or a
    /// dead key, which starts a composition.
    pub fn for_ime(&self) -> bool {
        self.composing || self.key == "Process" || self.key == "Dead"
    }
}

pub fn pointer(ev: &MouseEvent) -> PointerSample {
    let (x, y) = super::dom::client_xy(ev);
    PointerSample {
        x,
        y,
        button: Button::from_dom(ev.button()),
        mods: Modifiers::new(ev.shift_key(), ev.ctrl_key(), ev.alt_key(), ev.meta_key()),
    }
}

/// Wheel deltas in pixels (line/page modes scaled the way browsers scroll).
pub fn wheel(ev: &WheelEvent) -> (PointerSample, f64, f64) {
    let scale = match ev.delta_mode() {
        WheelEvent::DOM_DELTA_LINE => 16.0,
        WheelEvent::DOM_DELTA_PAGE => 800.0,
        _ => 1.0,
    };
    (pointer(ev), ev.delta_x() * scale, ev.delta_y() * scale)
}

pub fn key(ev: &KeyboardEvent) -> KeySample {
    KeySample {
        key: ev.key(),
        code: ev.code(),
        mods: Modifiers::new(ev.shift_key(), ev.ctrl_key(), ev.alt_key(), ev.meta_key()),
        repeat: ev.repeat(),
        composing: ev.is_composing(),
        ctrl: ev.ctrl_key(),
        shift: ev.shift_key(),
    }
}

pub fn composed_text(ev: &CompositionEvent) -> Option<String> {
    ev.data().filter(|d| !d.is_empty())
}

/// Keeps the browser from acting on an event (scrolling, shortcuts, context menu).
pub fn prevent(ev: &Event) {
    ev.prevent_default();
}
