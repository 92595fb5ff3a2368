//! One-shot timers; dropping a [`Timer`] cancels it.

pub struct Timer {
    _pending: gloo_timers::callback::Timeout,
}

impl Timer {
    /// Calls `f` once after `ms` milliseconds unless the timer is dropped first.
    pub fn after(ms: u64, f: impl FnOnce() + 'static) -> Timer {
        let ms = u32::try_from(ms).unwrap_or(u32::MAX);
        Timer {
            _pending: gloo_timers::callback::Timeout::new(ms, f),
        }
    }

    /// Calls `f` once after `ms` milliseconds; nothing cancels it.
    pub fn detached(ms: u64, f: impl FnOnce() + 'static) {
        let ms = u32::try_from(ms).unwrap_or(u32::MAX);
        gloo_timers::callback::Timeout::new(ms, f).forget();
    }
}
