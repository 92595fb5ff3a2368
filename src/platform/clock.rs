//! Clocks: a monotonic one for deadlines, the wall clock for times shared with peers.

/// Milliseconds since the page started (`performance.now()`), never going backwards.
pub fn monotonic_ms() -> u64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now().max(0.0) as u64)
        .unwrap_or_else(wall_ms)
}

/// Milliseconds since the Unix epoch (`Date.now()`).
pub fn wall_ms() -> u64 {
    js_sys::Date::now().max(0.0) as u64
}

/// Milliseconds since the Unix epoch with sub-millisecond precision
/// (`performance.timeOrigin + performance.now()`), comparable across pages of one machine.
pub fn precise_wall_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.time_origin() + p.now())
        .unwrap_or_else(js_sys::Date::now)
}
