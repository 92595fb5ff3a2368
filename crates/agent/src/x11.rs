//! X11 specifics beyond injection: the display list (RandR monitors) and the emergency hotkey
//! (Ctrl+Shift+Esc grabbed on the root window, so it works whichever app has focus).

use pairux_core::agent::Display;
use x11rb::connection::Connection;
use x11rb::protocol::randr::ConnectionExt as _;
use x11rb::protocol::xproto::{
    ConnectionExt as _, GrabMode, KeyButMask, ModMask, BUTTON_RELEASE_EVENT, KEY_RELEASE_EVENT,
};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::protocol::Event;
use x11rb::wrapper::ConnectionExt as _;

const XK_ESCAPE: u32 = 0xff1b;

/// The monitors of the default screen, in root-window pixels.
pub fn displays() -> Option<Vec<Display>> {
    let (conn, screen) = x11rb::connect(None).ok()?;
    let root = &conn.setup().roots[screen];
    let monitors = conn
        .randr_get_monitors(root.root, true)
        .ok()
        .and_then(|c| c.reply().ok())
        .map(|r| r.monitors)
        .unwrap_or_default();
    let list: Vec<Display> = monitors
        .iter()
        .map(|m| Display {
            x: i32::from(m.x),
            y: i32::from(m.y),
            w: u32::from(m.width),
            h: u32::from(m.height),
        })
        .collect();
    if list.is_empty() {
        return Some(vec![Display {
            x: 0,
            y: 0,
            w: u32::from(root.width_in_pixels),
            h: u32::from(root.height_in_pixels),
        }]);
    }
    Some(list)
}

/// Lets go of the keys and buttons an agent before this one left down through XTEST (it was
/// killed, or crashed, before letting go): a release from the XTEST device of every key and
/// button the server reports down. A key or button down on a real device is that device's,
/// so a release from ours changes nothing for it. How many it let go of.
pub fn release_leftovers() -> usize {
    let Ok((conn, screen)) = x11rb::connect(None) else {
        return 0;
    };
    let root = conn.setup().roots[screen].root;
    let mut released = 0;
    let mut release = |kind: u8, detail: u8| {
        if conn
            .xtest_fake_input(kind, detail, x11rb::CURRENT_TIME, root, 0, 0, 0)
            .is_ok()
        {
            released += 1;
        }
    };
    if let Some(keymap) = conn.query_keymap().ok().and_then(|c| c.reply().ok()) {
        for (i, byte) in keymap.keys.iter().enumerate() {
            for bit in 0..8u8 {
                if byte & (1 << bit) != 0 {
                    release(KEY_RELEASE_EVENT, (i * 8) as u8 + bit);
                }
            }
        }
    }
    if let Some(pointer) = conn.query_pointer(root).ok().and_then(|c| c.reply().ok()) {
        let buttons = [
            KeyButMask::BUTTON1,
            KeyButMask::BUTTON2,
            KeyButMask::BUTTON3,
            KeyButMask::BUTTON4,
            KeyButMask::BUTTON5,
        ];
        for (n, mask) in (1u8..).zip(buttons) {
            if pointer.mask.contains(mask) {
                release(BUTTON_RELEASE_EVENT, n);
            }
        }
    }
    let _ = conn.sync();
    released
}

/// Grabs Ctrl+Shift+Esc and calls `pressed` each time it is pressed, on a thread of its own.
pub fn hotkey(pressed: impl Fn() + Send + 'static) -> Result<(), String> {
    let (conn, screen) = x11rb::connect(None).map_err(|e| e.to_string())?;
    let root = conn.setup().roots[screen].root;
    let (min, max) = (conn.setup().min_keycode, conn.setup().max_keycode);
    let map = conn
        .get_keyboard_mapping(min, max - min + 1)
        .map_err(|e| e.to_string())?
        .reply()
        .map_err(|e| e.to_string())?;
    let per = usize::from(map.keysyms_per_keycode.max(1));
    let keycode = map
        .keysyms
        .chunks(per)
        .position(|syms| syms.contains(&XK_ESCAPE))
        .map(|i| min + i as u8)
        .ok_or("no Escape key in the keymap")?;
    let chord = ModMask::CONTROL | ModMask::SHIFT;
    // Caps Lock (LOCK) and Num Lock (M2) must not defeat the chord.
    for extra in [
        ModMask::from(0u16),
        ModMask::LOCK,
        ModMask::M2,
        ModMask::LOCK | ModMask::M2,
    ] {
        conn.grab_key(
            true,
            root,
            chord | extra,
            keycode,
            GrabMode::ASYNC,
            GrabMode::ASYNC,
        )
        .map_err(|e| e.to_string())?
        .check()
        .map_err(|e| format!("Ctrl+Shift+Esc is taken by another program ({e:?})"))?;
    }
    std::thread::Builder::new()
        .name("hotkey".into())
        .spawn(move || {
            while let Ok(event) = conn.wait_for_event() {
                if let Event::KeyPress(_) = event {
                    // The press made our passive grab an active one: the whole keyboard is ours
                    // until the chord is up. End it first (and wait until the server has), so
                    // the keys we are about to release reach the app that has focus.
                    let _ = conn.ungrab_keyboard(x11rb::CURRENT_TIME).map(|c| c.check());
                    pressed();
                }
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(())
}
