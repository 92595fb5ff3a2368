//! Cursors. Host side: the relay paces each holder's pointer to everyone at most once per display
//! frame, the latest position always (never a stale one), and keeps nothing for someone who lost
//! control; after a change of hands the holders go through the SFU again ([`StateEchoes`]).
//! Guest side: which relayed cursors are shown ([`ShownCursors`]).

use crate::vecmap::VecMap;

/// One 60 Hz frame.
pub const RELAY_INTERVAL_MS: u64 = 16;

#[derive(Debug, Default)]
pub struct CursorRelay {
    last_sent: VecMap<String, u64>,
    pending: VecMap<String, (f64, f64)>,
}

impl CursorRelay {
    pub fn new() -> Self {
        Self::default()
    }

    /// A holder's pointer is at (x, y). Returns the position to relay now, if any; otherwise
    /// it is kept and comes out of [`Self::handle_timeout`].
    pub fn on_move(&mut self, now: u64, id: &str, x: f64, y: f64) -> Option<(f64, f64)> {
        let due = self
            .last_sent
            .get(id)
            .is_none_or(|at| now >= at + RELAY_INTERVAL_MS);
        if due {
            self.last_sent.insert(id.to_owned(), now);
            self.pending.remove(id);
            Some((x, y))
        } else {
            self.pending.insert(id.to_owned(), (x, y));
            None
        }
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        self.pending
            .keys()
            .filter_map(|id| self.last_sent.get(id))
            .map(|at| at + RELAY_INTERVAL_MS)
            .min()
    }

    /// Positions whose frame has come.
    pub fn handle_timeout(&mut self, now: u64) -> Vec<(String, f64, f64)> {
        let due: Vec<String> = self
            .pending
            .keys()
            .filter(|id| {
                self.last_sent
                    .get(*id)
                    .is_none_or(|at| now >= at + RELAY_INTERVAL_MS)
            })
            .cloned()
            .collect();
        due.into_iter()
            .filter_map(|id| {
                let (x, y) = self.pending.remove(&id)?;
                self.last_sent.insert(id.clone(), now);
                Some((id, x, y))
            })
            .collect()
    }

    pub fn forget(&mut self, id: &str) {
        self.last_sent.remove(id);
        self.pending.remove(id);
    }

    /// Control changed hands: a position still waiting for its frame from someone who no
    /// longer holds control is never sent (it would draw their cursor again after the state
    /// that removed it).
    pub fn keep_only(&mut self, holders: &[String]) {
        let held = |id: &String| holders.contains(id);
        self.last_sent.retain(|id, _| held(id));
        self.pending.retain(|id, _| held(id));
    }
}

/// Host side: after control changes hands, who holds it goes through the SFU again at each of
/// [`Self::AFTER_MS`] after the change. There it travels unordered and is never retransmitted,
/// so one copy may be lost or overtaken by an older one, and a viewer would keep the cursor of
/// someone who let go until the next change. Each copy is the state of its moment.
#[derive(Debug, Default)]
pub struct StateEchoes {
    /// When control last changed hands, and how many echoes of it went since.
    change: Option<(u64, usize)>,
}

impl StateEchoes {
    pub const AFTER_MS: [u64; 3] = [300, 1_000, 3_000];

    /// Control changed hands at `now` (the state went everywhere at once): echoes start over.
    pub fn changed(&mut self, now: u64) {
        self.change = Some((now, 0));
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        let (at, sent) = self.change?;
        Self::AFTER_MS.get(sent).map(|after| at + after)
    }

    /// Whether an echo is due at `now` (one, however many came due meanwhile).
    pub fn handle_timeout(&mut self, now: u64) -> bool {
        let Some((at, sent)) = self.change else {
            return false;
        };
        let due = Self::AFTER_MS
            .iter()
            .skip(sent)
            .take_while(|after| at + **after <= now)
            .count();
        if due == 0 {
            return false;
        }
        let sent = sent + due;
        self.change = (sent < Self::AFTER_MS.len()).then_some((at, sent));
        true
    }
}

/// Guest side: whose relayed cursors are shown. Only those the host's latest `state` names as
/// holders: a position relayed just before control changed hands can arrive after the state
/// that ended it (cursors travel unordered, on another channel than the state), and must not
/// bring a cursor back. Before any state has come, every cursor is shown.
#[derive(Debug, Default)]
pub struct ShownCursors {
    holders: Option<Vec<String>>,
}

impl ShownCursors {
    /// The host's `state` named these holders.
    pub fn on_state(&mut self, holders: &[String]) {
        self.holders = Some(holders.to_vec());
    }

    /// Whether a cursor relayed for `id` is shown.
    pub fn admits(&self, id: &str) -> bool {
        self.holders
            .as_ref()
            .is_none_or(|holders| holders.iter().any(|h| h == id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paces_to_display_rate_and_keeps_the_latest() {
        let mut r = CursorRelay::new();
        assert_eq!(r.on_move(0, "a", 0.1, 0.1), Some((0.1, 0.1)));
        assert_eq!(r.on_move(5, "a", 0.2, 0.2), None);
        assert_eq!(r.on_move(10, "a", 0.3, 0.3), None);
        assert_eq!(r.poll_timeout(), Some(16));
        assert!(r.handle_timeout(15).is_empty());
        assert_eq!(r.handle_timeout(16), vec![("a".to_owned(), 0.3, 0.3)]);
        assert_eq!(r.poll_timeout(), None);
        // Another holder is paced independently.
        assert_eq!(r.on_move(17, "b", 0.9, 0.9), Some((0.9, 0.9)));
        assert_eq!(r.on_move(40, "a", 0.4, 0.4), Some((0.4, 0.4)));
    }

    #[test]
    fn a_position_from_someone_who_lost_control_is_never_sent() {
        let mut r = CursorRelay::new();
        assert!(r.on_move(0, "a", 0.1, 0.1).is_some());
        assert!(r.on_move(0, "b", 0.1, 0.1).is_some());
        assert_eq!(r.on_move(5, "a", 0.2, 0.2), None);
        assert_eq!(r.on_move(5, "b", 0.2, 0.2), None);
        r.keep_only(&["b".to_owned()]);
        assert_eq!(r.handle_timeout(16), vec![("b".to_owned(), 0.2, 0.2)]);
        // Granted again later: its first position goes at once.
        r.keep_only(&["a".to_owned(), "b".to_owned()]);
        assert_eq!(r.on_move(17, "a", 0.5, 0.5), Some((0.5, 0.5)));
    }

    #[test]
    fn a_guest_shows_only_the_latest_holders_cursors() {
        let mut shown = ShownCursors::default();
        assert!(shown.admits("a"), "nothing known yet");
        shown.on_state(&["a".to_owned()]);
        assert!(shown.admits("a") && !shown.admits("b"));
        shown.on_state(&[]);
        assert!(!shown.admits("a"), "a late position after the revoke");
    }

    #[test]
    fn state_echoes_follow_each_change_and_stop() {
        let mut e = StateEchoes::default();
        assert_eq!((e.poll_timeout(), e.handle_timeout(10_000)), (None, false));
        e.changed(1_000);
        assert_eq!(e.poll_timeout(), Some(1_300));
        assert!(!e.handle_timeout(1_299));
        assert!(e.handle_timeout(1_300));
        assert_eq!(e.poll_timeout(), Some(2_000));
        // Late (a throttled timer): one echo for all that came due.
        assert!(e.handle_timeout(5_000));
        assert_eq!(e.poll_timeout(), None);
        assert!(!e.handle_timeout(9_000));
        // A new change starts over.
        e.changed(9_000);
        assert_eq!(e.poll_timeout(), Some(9_300));
    }
}
