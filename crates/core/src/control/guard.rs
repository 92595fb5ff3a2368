//! The host's acts that hand someone power over the session — the host role, a way back in
//! after a removal — asked twice while a controller drives this computer.
//!
//! With the whole screen shared and the PairUX agent paired, a controller's click lands
//! wherever it points, the host's own PairUX tab included, and the browser cannot tell it from
//! the host's (injected input is trusted input). Such a click on "Make <me> host" would hand
//! the controller the session. So while anyone drives, such an act only opens a question, and
//! control is paused (the agent lets go of everything and applies nothing) until the question
//! is answered or gives up: the controller cannot say yes. An answer counts only when the
//! press that made it (pointer or key down) came [`ARM_MS`] or more after the question opened,
//! so a press already made when the pause began — its release can come later — cannot answer
//! it either. Whether an act is asked is judged by its press too: one made while control drove
//! this computer, or up to [`GRACE_MS`] after it stopped, is asked — a controller who presses
//! on "Make me host" and then gives control back has the agent let go of the button for it,
//! and that click comes when nobody drives any more. A click made with the keyboard acts on
//! whatever has focus, which a controller may have put there long before (Tab, or a press
//! dragged off): once anyone has driven this computer, such a click is always asked. Two
//! different acts clicked while one is asked do neither: one of them may be a controller's
//! click racing the host's, and the question could name either.
//!
//! Grant, Remove and End stay one click (product.md's contract): a controller who already
//! drives gains nothing new by granting another, and one who can close the tab can end the
//! session anyway.

/// How long a question waits before an answer counts.
pub const ARM_MS: u64 = 800;
/// A question nobody answered is dropped after this long, and control resumes.
pub const EXPIRE_MS: u64 = 30_000;
/// A press this long after control stopped driving this computer may still be a controller's
/// (on its way from the agent when control stopped).
pub const GRACE_MS: u64 = 2_000;

/// An act asked twice while a controller drives (by participant id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Guarded {
    /// Offer the host role to this controller.
    HandOver(String),
    /// Let in this person, who asked to join.
    Admit(String),
}

/// The open question, as the host's page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub act: Guarded,
    /// Whether an answer counts yet (after [`ARM_MS`]).
    pub armed: bool,
}

/// What a guarded click did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Asked {
    /// Nobody could have made it but the host: do this now.
    Do(Guarded),
    /// A question is open (this one, or the same act clicked again).
    Asking,
    /// Another act was asked already: neither is done, and the question is closed.
    Clashed,
}

/// What an answer did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answered {
    /// Yes, in time: do this now.
    Do(Guarded),
    /// No, or a question that gave up: nothing is done.
    Dropped,
    /// Too soon after the question opened: it stays open.
    TooSoon,
    /// No question was open.
    Nothing,
}

#[derive(Debug, Default)]
pub struct ActionGuard {
    /// The question and when it opened.
    open: Option<(Question, u64)>,
    /// Whether control drives this computer now.
    driving: bool,
    /// When it last stopped.
    drove_until: Option<u64>,
}

impl ActionGuard {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether control drives this computer from `now` on (the agent applies someone's
    /// input: it drives, someone holds control, and no question pauses it).
    pub fn driving(&mut self, now: u64, on: bool) {
        if self.driving && !on {
            self.drove_until = Some(now);
        }
        self.driving = on;
    }

    /// Whether a press at `at` may have been a controller's.
    fn driven_at(&self, at: u64) -> bool {
        self.driving
            || self
                .drove_until
                .is_some_and(|until| at <= until.saturating_add(GRACE_MS))
    }

    /// The host clicked `act` at `now`, by a press at `pressed_at` (the same clock);
    /// `keyboard`: a click made with a key, on whatever had focus.
    pub fn ask(&mut self, now: u64, pressed_at: u64, keyboard: bool, act: Guarded) -> Asked {
        if let Some((question, _)) = &self.open {
            if question.act == act {
                return Asked::Asking;
            }
            self.open = None;
            return Asked::Clashed;
        }
        let ever_driven = self.driving || self.drove_until.is_some();
        let maybe_theirs = self.driven_at(pressed_at) || (keyboard && ever_driven);
        if !maybe_theirs {
            return Asked::Do(act);
        }
        self.open = Some((Question { act, armed: false }, now));
        Asked::Asking
    }

    /// The host answered, by a press at `pressed_at` (the same clock as `ask`'s `now`).
    pub fn answer(&mut self, pressed_at: u64, yes: bool) -> Answered {
        let Some((question, opened)) = self.open.take() else {
            return Answered::Nothing;
        };
        match yes {
            true if pressed_at < opened.saturating_add(ARM_MS) => {
                self.open = Some((question, opened));
                Answered::TooSoon
            }
            true => Answered::Do(question.act),
            false => Answered::Dropped,
        }
    }

    pub fn question(&self) -> Option<&Question> {
        self.open.as_ref().map(|(q, _)| q)
    }

    /// Control is paused: a question is open.
    pub fn paused(&self) -> bool {
        self.open.is_some()
    }

    /// When [`ActionGuard::handle_timeout`] is next due: the question arms, or gives up.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.open.as_ref().map(|(q, opened)| match q.armed {
            false => opened.saturating_add(ARM_MS),
            true => opened.saturating_add(EXPIRE_MS),
        })
    }

    /// Arms or drops the question when due. `true`: it changed.
    pub fn handle_timeout(&mut self, now: u64) -> bool {
        let Some((question, opened)) = &mut self.open else {
            return false;
        };
        if now >= opened.saturating_add(EXPIRE_MS) {
            self.open = None;
            return true;
        }
        if !question.armed && now >= opened.saturating_add(ARM_MS) {
            question.armed = true;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hand(id: &str) -> Guarded {
        Guarded::HandOver(id.into())
    }

    fn driven() -> ActionGuard {
        let mut g = ActionGuard::new();
        g.driving(0, true);
        g
    }

    #[test]
    fn nobody_driving_means_one_click() {
        let mut g = ActionGuard::new();
        assert_eq!(g.ask(5, 5, false, hand("c")), Asked::Do(hand("c")));
        assert_eq!(g.ask(6, 6, true, hand("c")), Asked::Do(hand("c")));
        assert!(!g.paused());
        assert_eq!(g.poll_timeout(), None);
    }

    #[test]
    fn while_driven_it_asks_and_pauses_until_answered_after_arming() {
        let mut g = driven();
        assert_eq!(g.ask(1_000, 1_000, false, hand("c")), Asked::Asking);
        assert!(g.paused());
        assert_eq!(g.question().map(|q| q.armed), Some(false));
        // A press already made (the host's double click, or a controller's press whose
        // release comes later) does not answer.
        assert_eq!(g.answer(1_000 + ARM_MS - 1, true), Answered::TooSoon);
        assert!(g.paused());
        assert_eq!(g.poll_timeout(), Some(1_000 + ARM_MS));
        assert!(!g.handle_timeout(1_000 + ARM_MS - 1));
        assert!(g.handle_timeout(1_000 + ARM_MS));
        assert_eq!(g.question().map(|q| q.armed), Some(true));
        assert_eq!(g.answer(999, true), Answered::TooSoon);
        assert_eq!(g.answer(1_000 + ARM_MS, true), Answered::Do(hand("c")));
        assert!(!g.paused());
        assert_eq!(g.answer(5_000, true), Answered::Nothing);
    }

    #[test]
    fn the_answer_counts_by_its_press_not_when_it_is_handled() {
        // The page was busy: the arming timer has not run, but the press came after ARM_MS.
        let mut g = driven();
        g.ask(0, 0, false, Guarded::Admit("v".into()));
        assert_eq!(
            g.answer(ARM_MS, true),
            Answered::Do(Guarded::Admit("v".into()))
        );
    }

    #[test]
    fn a_press_made_while_driven_is_asked_after_control_stopped() {
        // A controller presses on "Make me host" at 1 000 and gives control back at 1 200:
        // the agent lets go of the button for it, and the click is handled at 1 300.
        let mut g = driven();
        g.driving(1_200, false);
        assert_eq!(g.ask(1_300, 1_000, false, hand("c")), Asked::Asking);
        assert!(g.paused());
        // Or its press reached the page late, just after.
        let mut g = driven();
        g.driving(1_200, false);
        assert_eq!(
            g.ask(1_300, 1_200 + GRACE_MS, false, hand("c")),
            Asked::Asking
        );
        // The host's own press, well after control stopped: one click.
        let mut g = driven();
        g.driving(1_200, false);
        let later = 1_201 + GRACE_MS;
        assert_eq!(g.ask(later, later, false, hand("c")), Asked::Do(hand("c")));
        // With the keyboard, on what had focus — perhaps put there by the controller: asked.
        let mut g = driven();
        g.driving(1_200, false);
        assert_eq!(g.ask(later, later, true, hand("c")), Asked::Asking);
    }

    #[test]
    fn no_is_at_once_and_a_question_gives_up() {
        let mut g = driven();
        g.ask(0, 0, false, hand("c"));
        assert_eq!(g.answer(1, false), Answered::Dropped);
        assert!(!g.paused());
        g.ask(100, 100, false, hand("c"));
        assert!(g.handle_timeout(100 + ARM_MS));
        assert_eq!(g.poll_timeout(), Some(100 + EXPIRE_MS));
        assert!(g.handle_timeout(100 + EXPIRE_MS));
        assert!(!g.paused());
        assert_eq!(g.answer(100 + EXPIRE_MS, true), Answered::Nothing);
    }

    #[test]
    fn the_same_act_again_keeps_the_question_another_closes_it_and_does_neither() {
        let mut g = driven();
        g.ask(0, 0, false, hand("c"));
        g.handle_timeout(ARM_MS);
        // A double click: the question stays, armed.
        assert_eq!(g.ask(900, 900, false, hand("c")), Asked::Asking);
        assert_eq!(
            g.question(),
            Some(&Question {
                act: hand("c"),
                armed: true
            })
        );
        // Another act: perhaps a controller's click racing the host's. Neither is done.
        assert_eq!(
            g.ask(2_000, 2_000, false, Guarded::Admit("v".into())),
            Asked::Clashed
        );
        assert!(!g.paused());
        assert_eq!(g.answer(2_100, true), Answered::Nothing);
    }
}
