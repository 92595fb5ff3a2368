//! X11 specifics beyond injection: the display list (RandR monitors) and the emergency hotkey
//! (Ctrl+Shift+Esc grabbed on the root window, so it works whichever app has focus).

use pairux_core::agent::Display;
use x11rb::connection::Connection;
use x11rb::protocol::randr::ConnectionExt as _;
use x11rb::protocol::xproto::{ConnectionExt as _, GrabMode, ModMask};
use x11rb::protocol::Event;

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
