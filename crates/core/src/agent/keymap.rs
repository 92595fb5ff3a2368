//! Physical keys: `KeyboardEvent.code` (UI Events) to Linux evdev key codes, so the host's
//! keyboard layout decides the character, as it would for a keyboard plugged into it.
//! (X11 key codes are evdev + 8.) The table is the standard USB-HID-to-evdev correspondence.

/// The evdev code of a DOM `code`, if it is a key this agent types.
pub fn evdev(code: &str) -> Option<u16> {
    let letters = "QWERTYUIOP";
    if let Some(c) = code.strip_prefix("Key") {
        let c = single(c)?;
        // evdev numbers letters by keyboard row.
        let rows: [(&str, u16); 3] = [(letters, 16), ("ASDFGHJKL", 30), ("ZXCVBNM", 44)];
        return rows
            .iter()
            .find_map(|(row, first)| row.find(c).map(|i| first + i as u16));
    }
    if let Some(d) = code.strip_prefix("Digit") {
        let d = single(d)?.to_digit(10)? as u16;
        return Some(if d == 0 { 11 } else { d + 1 });
    }
    if let Some(n) = code.strip_prefix('F').and_then(|n| n.parse::<u16>().ok()) {
        return match n {
            1..=10 => Some(58 + n),
            11 => Some(87),
            12 => Some(88),
            13..=24 => Some(170 + n),
            _ => None,
        };
    }
    if let Some(d) = code.strip_prefix("Numpad") {
        if let Some(d) = single(d).and_then(|c| c.to_digit(10)) {
            return Some([82, 79, 80, 81, 75, 76, 77, 71, 72, 73][d as usize]);
        }
    }
    Some(match code {
        "Escape" => 1,
        "Minus" => 12,
        "Equal" => 13,
        "Backspace" => 14,
        "Tab" => 15,
        "BracketLeft" => 26,
        "BracketRight" => 27,
        "Enter" => 28,
        "ControlLeft" => 29,
        "Semicolon" => 39,
        "Quote" => 40,
        "Backquote" => 41,
        "ShiftLeft" => 42,
        "Backslash" => 43,
        "Comma" => 51,
        "Period" => 52,
        "Slash" => 53,
        "ShiftRight" => 54,
        "NumpadMultiply" => 55,
        "AltLeft" => 56,
        "Space" => 57,
        "CapsLock" => 58,
        "NumLock" => 69,
        "ScrollLock" => 70,
        "NumpadSubtract" => 74,
        "NumpadAdd" => 78,
        "NumpadDecimal" => 83,
        "IntlBackslash" => 86,
        "IntlRo" => 89,
        "NumpadEnter" => 96,
        "ControlRight" => 97,
        "NumpadDivide" => 98,
        "PrintScreen" => 99,
        "AltRight" => 100,
        "Home" => 102,
        "ArrowUp" => 103,
        "PageUp" => 104,
        "ArrowLeft" => 105,
        "ArrowRight" => 106,
        "End" => 107,
        "ArrowDown" => 108,
        "PageDown" => 109,
        "Insert" => 110,
        "Delete" => 111,
        "NumpadEqual" => 117,
        "Pause" => 119,
        "NumpadComma" => 121,
        "IntlYen" => 124,
        "MetaLeft" => 125,
        "MetaRight" => 126,
        "ContextMenu" => 127,
        _ => return None,
    })
}

fn single(s: &str) -> Option<char> {
    let mut chars = s.chars();
    let c = chars.next()?;
    chars.next().is_none().then_some(c)
}

/// Modifier bit (control::Modifiers) of a modifier key's evdev code.
pub fn modifier_bit(evdev: u16) -> Option<u8> {
    use crate::control::Modifiers as M;
    match evdev {
        42 | 54 => Some(M::SHIFT),
        29 | 97 => Some(M::CTRL),
        56 | 100 => Some(M::ALT),
        125 | 126 => Some(M::META),
        _ => None,
    }
}

/// The left-hand key for a modifier bit.
pub fn modifier_key(bit: u8) -> u16 {
    use crate::control::Modifiers as M;
    match bit {
        M::SHIFT => 42,
        M::CTRL => 29,
        M::ALT => 56,
        _ => 125,
    }
}

/// Escape, which with Ctrl+Shift is the host's emergency revoke and is never typed for a
/// controller.
pub const ESCAPE: u16 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_codes() {
        // Spot checks against linux/input-event-codes.h.
        for (code, ev) in [
            ("KeyQ", 16),
            ("KeyP", 25),
            ("KeyA", 30),
            ("KeyL", 38),
            ("KeyZ", 44),
            ("KeyM", 50),
            ("Digit1", 2),
            ("Digit9", 10),
            ("Digit0", 11),
            ("F1", 59),
            ("F10", 68),
            ("F11", 87),
            ("F12", 88),
            ("F13", 183),
            ("F24", 194),
            ("Numpad0", 82),
            ("Numpad7", 71),
            ("Numpad3", 81),
            ("Enter", 28),
            ("Space", 57),
            ("ArrowLeft", 105),
            ("MetaLeft", 125),
        ] {
            assert_eq!(evdev(code), Some(ev), "{code}");
        }
        for bad in [
            "", "Key", "KeyAA", "Keyé", "Digit", "F0", "F25", "Fn", "Numpad", "Hyper",
        ] {
            assert_eq!(evdev(bad), None, "{bad}");
        }
    }

    #[test]
    fn modifiers_round_trip() {
        use crate::control::Modifiers as M;
        for bit in [M::SHIFT, M::CTRL, M::ALT, M::META] {
            assert_eq!(modifier_bit(modifier_key(bit)), Some(bit));
        }
        assert_eq!(modifier_bit(30), None);
    }
}
