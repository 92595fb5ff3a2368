//! Who holds control, host side: requests (with proof, expiring after 30 s), grants (at most
//! three holders), deny, revoke, release, emergency revoke of everyone, and disconnects.

use crate::vecmap::{VecMap, VecSet};

use super::proof::{verify_proof, ChannelBinding};
use crate::link::ControllerSecret;

/// Most participants holding control at once.
pub const MAX_HOLDERS: usize = 3;
/// A request not answered within this is denied.
pub const REQUEST_TTL_MS: u64 = 30_000;

/// A change the glue must announce: to the participant concerned, and (for changes of the
/// holder set) to everyone as the new state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseEvent {
    Requested {
        id: String,
    },
    Granted {
        id: String,
    },
    /// Refused by the host, or expired.
    Denied {
        id: String,
        expired: bool,
    },
    Revoked {
        id: String,
    },
    Released {
        id: String,
    },
    /// The participant withdrew its pending request ("Cancel request").
    Cancelled {
        id: String,
    },
    /// A holder or requester went away.
    Dropped {
        id: String,
    },
}

impl LeaseEvent {
    /// Whether the set of holders changed.
    pub fn changes_holders(&self) -> bool {
        matches!(
            self,
            LeaseEvent::Granted { .. }
                | LeaseEvent::Revoked { .. }
                | LeaseEvent::Released { .. }
                | LeaseEvent::Dropped { .. }
        )
    }
}

/// Why a request or grant was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    #[error("no challenge was issued to this participant")]
    NoChallenge,
    #[error("the proof does not match the controller secret")]
    BadProof,
    #[error("already holds control")]
    AlreadyHolder,
    #[error("no pending request")]
    NoRequest,
    #[error("{MAX_HOLDERS} participants already hold control")]
    Full,
}

#[derive(Debug)]
pub struct ControlLeases {
    secret: ControllerSecret,
    nonces: VecMap<String, String>,
    requests: VecMap<String, u64>,
    holders: VecSet<String>,
    /// Participants whose connection is down now (ICE `disconnected` or `failed`).
    stalled: VecSet<String>,
}

impl ControlLeases {
    /// `secret`: the controller secret of the session's link (the host generated it).
    pub fn new(secret: ControllerSecret) -> Self {
        ControlLeases {
            secret,
            nonces: VecMap::new(),
            requests: VecMap::new(),
            holders: VecSet::new(),
            stalled: VecSet::new(),
        }
    }

    /// `id`'s connection went down (`false`) or came back (`true`); whether that changes who
    /// [`drives`](Self::drives).
    pub fn link(&mut self, id: &str, up: bool) -> bool {
        let changed = match up {
            true => self.stalled.remove(id),
            false => self.stalled.insert(id.to_owned()),
        };
        changed && self.holders.contains(id)
    }

    /// The holders whose input may be applied now: those whose connection is up. A holder
    /// whose connection drops keeps its lease (it may come back within seconds), but what it
    /// holds down is let go meanwhile — a key would otherwise repeat on the host for the whole
    /// outage, and a held button turn the host's own mouse into a drag.
    pub fn drives(&self) -> Vec<String> {
        self.holders
            .iter()
            .filter(|h| !self.stalled.contains(*h))
            .cloned()
            .collect()
    }

    /// The nonce sent to `id` when its data channel opened.
    pub fn issue_challenge(&mut self, id: &str, nonce: String) {
        self.nonces.insert(id.to_owned(), nonce);
    }

    pub fn holders(&self) -> Vec<String> {
        self.holders.iter().cloned().collect()
    }

    pub fn is_holder(&self, id: &str) -> bool {
        self.holders.contains(id)
    }

    /// Pending requests, oldest first.
    pub fn requests(&self) -> Vec<String> {
        let mut r: Vec<(&String, &u64)> = self.requests.iter().collect();
        crate::vecmap::sort_by(&mut r, |(a_id, a_at), (b_id, b_at)| {
            a_at.cmp(b_at).then_with(|| a_id.cmp(b_id))
        });
        r.into_iter().map(|(id, _)| id.clone()).collect()
    }

    /// A request arrived over `id`'s data channel, whose DTLS fingerprints are `binding`.
    pub fn on_request(
        &mut self,
        now: u64,
        id: &str,
        binding: &ChannelBinding,
        proof: &str,
    ) -> Result<LeaseEvent, LeaseError> {
        let nonce = self.nonces.get(id).ok_or(LeaseError::NoChallenge)?;
        if !verify_proof(&self.secret, nonce, id, binding, proof) {
            return Err(LeaseError::BadProof);
        }
        if self.holders.contains(id) {
            return Err(LeaseError::AlreadyHolder);
        }
        // A repeated request refreshes its expiry.
        self.requests.insert(id.to_owned(), now);
        Ok(LeaseEvent::Requested { id: id.to_owned() })
    }

    /// The host clicked Grant.
    pub fn grant(&mut self, id: &str) -> Result<LeaseEvent, LeaseError> {
        if !self.requests.contains_key(id) {
            return Err(LeaseError::NoRequest);
        }
        if self.holders.len() >= MAX_HOLDERS {
            return Err(LeaseError::Full);
        }
        self.requests.remove(id);
        self.holders.insert(id.to_owned());
        Ok(LeaseEvent::Granted { id: id.to_owned() })
    }

    /// The host clicked Deny.
    pub fn deny(&mut self, id: &str) -> Option<LeaseEvent> {
        self.requests.remove(id).map(|_| LeaseEvent::Denied {
            id: id.to_owned(),
            expired: false,
        })
    }

    /// The host took control back from `id`.
    pub fn revoke(&mut self, id: &str) -> Option<LeaseEvent> {
        self.holders
            .remove(id)
            .then(|| LeaseEvent::Revoked { id: id.to_owned() })
    }

    /// Emergency: everyone loses control and every pending request is denied.
    pub fn revoke_all(&mut self) -> Vec<LeaseEvent> {
        let mut events: Vec<LeaseEvent> = std::mem::take(&mut self.holders)
            .into_iter()
            .map(|id| LeaseEvent::Revoked { id })
            .collect();
        events.extend(
            std::mem::take(&mut self.requests)
                .into_keys()
                .map(|id| LeaseEvent::Denied { id, expired: false }),
        );
        events
    }

    /// `id` withdrew its pending request: the toast goes, and a Grant can no longer reach it.
    pub fn cancel(&mut self, id: &str) -> Option<LeaseEvent> {
        self.requests
            .remove(id)
            .map(|_| LeaseEvent::Cancelled { id: id.to_owned() })
    }

    /// The holder gave control back.
    pub fn release(&mut self, id: &str) -> Option<LeaseEvent> {
        self.holders
            .remove(id)
            .then(|| LeaseEvent::Released { id: id.to_owned() })
    }

    /// `id`'s connection is gone: it loses control, its request and its challenge.
    pub fn disconnect(&mut self, id: &str) -> Option<LeaseEvent> {
        self.nonces.remove(id);
        self.stalled.remove(id);
        let held = self.holders.remove(id);
        let requested = self.requests.remove(id).is_some();
        (held || requested).then(|| LeaseEvent::Dropped { id: id.to_owned() })
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        self.requests.values().min().map(|at| at + REQUEST_TTL_MS)
    }

    /// Expires requests older than [`REQUEST_TTL_MS`].
    pub fn handle_timeout(&mut self, now: u64) -> Vec<LeaseEvent> {
        let expired: Vec<String> = self
            .requests
            .iter()
            .filter(|(_, at)| now >= *at + REQUEST_TTL_MS)
            .map(|(id, _)| id.clone())
            .collect();
        expired
            .into_iter()
            .map(|id| {
                self.requests.remove(&id);
                LeaseEvent::Denied { id, expired: true }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::control_proof;

    fn secret() -> ControllerSecret {
        ControllerSecret::from_bytes([3; 32])
    }

    fn leases_with(ids: &[&str]) -> ControlLeases {
        let mut l = ControlLeases::new(secret());
        for id in ids {
            l.issue_challenge(id, format!("nonce-{id}"));
        }
        l
    }

    fn binding() -> ChannelBinding {
        ChannelBinding {
            host: "sha-256 AA".into(),
            participant: "sha-256 BB".into(),
        }
    }

    fn request(l: &mut ControlLeases, now: u64, id: &str) -> Result<LeaseEvent, LeaseError> {
        let proof = control_proof(&secret(), &format!("nonce-{id}"), id, &binding());
        l.on_request(now, id, &binding(), &proof)
    }

    #[test]
    fn request_grant_release_cycle() {
        let mut l = leases_with(&["c1"]);
        assert_eq!(
            request(&mut l, 0, "c1"),
            Ok(LeaseEvent::Requested { id: "c1".into() })
        );
        assert_eq!(l.requests(), ["c1"]);
        assert_eq!(l.grant("c1"), Ok(LeaseEvent::Granted { id: "c1".into() }));
        assert!(l.is_holder("c1"));
        assert_eq!(request(&mut l, 1, "c1"), Err(LeaseError::AlreadyHolder));
        assert_eq!(
            l.release("c1"),
            Some(LeaseEvent::Released { id: "c1".into() })
        );
        assert!(l.holders().is_empty());
        assert_eq!(l.release("c1"), None);
    }

    #[test]
    fn a_holder_whose_connection_drops_keeps_its_lease_but_drives_nothing_until_it_is_back() {
        let mut l = leases_with(&["c1", "c2"]);
        for id in ["c1", "c2"] {
            request(&mut l, 0, id).unwrap();
            l.grant(id).unwrap();
        }
        assert_eq!(l.drives(), ["c1", "c2"]);
        assert!(l.link("c1", false));
        assert!(!l.link("c1", false), "no change twice");
        assert!(l.is_holder("c1"));
        assert_eq!(l.drives(), ["c2"]);
        assert!(l.link("c1", true));
        assert_eq!(l.drives(), ["c1", "c2"]);
        // Not a holder: its link changes nothing anyone drives.
        assert!(!l.link("viewer", false));
        // Gone: forgotten with the rest.
        assert!(l.link("c2", false));
        l.disconnect("c2");
        assert!(!l.link("c2", true));
        assert_eq!(l.drives(), ["c1"]);
    }

    #[test]
    fn forged_requests_get_nothing() {
        let mut l = leases_with(&["viewer"]);
        // A viewer does not have the secret: any proof it makes is wrong.
        let wrong = control_proof(
            &ControllerSecret::from_bytes([9; 32]),
            "nonce-viewer",
            "viewer",
            &binding(),
        );
        let b = binding();
        assert_eq!(
            l.on_request(0, "viewer", &b, &wrong),
            Err(LeaseError::BadProof)
        );
        assert_eq!(
            l.on_request(0, "viewer", &b, "garbage"),
            Err(LeaseError::BadProof)
        );
        // Replaying someone else's valid proof fails: it is bound to their id and nonce.
        let mut l = leases_with(&["alice", "mallory"]);
        let alices = control_proof(&secret(), "nonce-alice", "alice", &b);
        assert_eq!(
            l.on_request(0, "mallory", &b, &alices),
            Err(LeaseError::BadProof)
        );
        // A relay: mallory's challenge answered by a real controller over another connection.
        let relayed = control_proof(&secret(), "nonce-mallory", "mallory", &b);
        let mallorys_connection = ChannelBinding {
            host: "sha-256 CC".into(),
            participant: "sha-256 DD".into(),
        };
        assert_eq!(
            l.on_request(0, "mallory", &mallorys_connection, &relayed),
            Err(LeaseError::BadProof)
        );
        // No challenge, no request.
        assert_eq!(
            l.on_request(0, "stranger", &b, &alices),
            Err(LeaseError::NoChallenge)
        );
        assert_eq!(l.grant("mallory"), Err(LeaseError::NoRequest));
        assert!(l.holders().is_empty());
    }

    #[test]
    fn a_cancelled_request_cannot_be_granted() {
        let mut l = leases_with(&["c1"]);
        request(&mut l, 0, "c1").unwrap();
        assert_eq!(
            l.cancel("c1"),
            Some(LeaseEvent::Cancelled { id: "c1".into() })
        );
        assert!(l.requests().is_empty());
        assert_eq!(l.grant("c1"), Err(LeaseError::NoRequest));
        assert_eq!(l.cancel("c1"), None);
    }

    #[test]
    fn at_most_three_holders() {
        let mut l = leases_with(&["a", "b", "c", "d"]);
        for id in ["a", "b", "c", "d"] {
            request(&mut l, 0, id).unwrap();
        }
        for id in ["a", "b", "c"] {
            l.grant(id).unwrap();
        }
        assert_eq!(l.grant("d"), Err(LeaseError::Full));
        assert_eq!(l.requests(), ["d"]);
        l.revoke("b").unwrap();
        assert_eq!(l.grant("d"), Ok(LeaseEvent::Granted { id: "d".into() }));
    }

    #[test]
    fn requests_expire_after_thirty_seconds() {
        let mut l = leases_with(&["a", "b"]);
        request(&mut l, 1_000, "a").unwrap();
        request(&mut l, 5_000, "b").unwrap();
        assert_eq!(l.poll_timeout(), Some(31_000));
        assert!(l.handle_timeout(30_999).is_empty());
        assert_eq!(
            l.handle_timeout(31_000),
            vec![LeaseEvent::Denied {
                id: "a".into(),
                expired: true
            }]
        );
        assert_eq!(l.poll_timeout(), Some(35_000));
        assert_eq!(l.grant("a"), Err(LeaseError::NoRequest));
    }

    #[test]
    fn emergency_revoke_and_disconnect() {
        let mut l = leases_with(&["a", "b", "c"]);
        for id in ["a", "b", "c"] {
            request(&mut l, 0, id).unwrap();
        }
        l.grant("a").unwrap();
        l.grant("b").unwrap();
        let events = l.revoke_all();
        assert_eq!(events.len(), 3);
        assert!(events.iter().filter(|e| e.changes_holders()).count() == 2);
        assert!(l.holders().is_empty() && l.requests().is_empty());

        request(&mut l, 0, "a").unwrap();
        l.grant("a").unwrap();
        assert_eq!(
            l.disconnect("a"),
            Some(LeaseEvent::Dropped { id: "a".into() })
        );
        assert!(!l.is_holder("a"));
        // Its challenge is gone too: the old nonce cannot be reused after a reconnect.
        assert_eq!(request(&mut l, 0, "a"), Err(LeaseError::NoChallenge));
        assert_eq!(l.disconnect("nobody"), None);
    }
}
