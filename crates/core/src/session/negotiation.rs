//! Perfect negotiation (W3C WebRTC §"Perfect negotiation example") as a sans-IO decision
//! table: the glue owns the RTCPeerConnection and asks this type what to do with each
//! description. In PairUX the participant is polite and the host impolite, so an offer
//! collision always resolves in the host's favour.

use super::{Description, SdpKind};

/// RTCPeerConnection.signalingState, as far as the decision needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalingState {
    Stable,
    HaveLocalOffer,
    HaveRemoteOffer,
    Closed,
    /// pranswer states, which PairUX never creates.
    Other,
}

impl SignalingState {
    /// From the WebIDL enum string.
    pub fn parse(s: &str) -> Self {
        match s {
            "stable" => SignalingState::Stable,
            "have-local-offer" => SignalingState::HaveLocalOffer,
            "have-remote-offer" => SignalingState::HaveRemoteOffer,
            "closed" => SignalingState::Closed,
            _ => SignalingState::Other,
        }
    }
}

/// What to do with a remote description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DescriptionDecision {
    /// Drop it (impolite side in a collision, or the connection is closed).
    Ignore,
    /// `setRemoteDescription(desc)` (which rolls back our own offer if needed), then answer
    /// with `setLocalDescription()` when `answer` is set.
    Apply { answer: bool },
}

/// Per-peer negotiation flags.
#[derive(Debug, Clone)]
pub struct Negotiator {
    polite: bool,
    making_offer: bool,
    ignore_offer: bool,
}

impl Negotiator {
    pub fn new(polite: bool) -> Self {
        Negotiator {
            polite,
            making_offer: false,
            ignore_offer: false,
        }
    }

    pub fn is_polite(&self) -> bool {
        self.polite
    }

    /// `negotiationneeded` fired: we are about to `setLocalDescription()` and send an offer.
    pub fn begin_offer(&mut self) {
        self.making_offer = true;
    }

    /// Our offer was sent (or creating it failed).
    pub fn end_offer(&mut self) {
        self.making_offer = false;
    }

    /// A remote description arrived while the connection is in `state`.
    pub fn on_description(&mut self, kind: SdpKind, state: SignalingState) -> DescriptionDecision {
        if state == SignalingState::Closed {
            return DescriptionDecision::Ignore;
        }
        let collision =
            kind == SdpKind::Offer && (self.making_offer || state != SignalingState::Stable);
        self.ignore_offer = !self.polite && collision;
        if self.ignore_offer {
            DescriptionDecision::Ignore
        } else {
            DescriptionDecision::Apply {
                answer: kind == SdpKind::Offer,
            }
        }
    }

    /// Whether a failed `addIceCandidate` is an error worth reporting: candidates of an offer
    /// we ignored are expected to fail.
    pub fn candidate_failure_matters(&self) -> bool {
        !self.ignore_offer
    }
}

/// The other end of one connection, as its descriptions name it: every description of a
/// connection carries the same DTLS certificate fingerprint, and a new RTCPeerConnection has a
/// certificate of its own. An offer naming another one comes from a new connection on the
/// other side — the host closed ours (we were away from the session while it was down) and
/// made a new one. Chrome applies such an offer to the old connection and media flows again,
/// but its data channels do not (control, cursors): the participant answers it on a new
/// connection of its own.
#[derive(Debug, Default, Clone)]
pub struct RemoteEndpoint {
    fingerprint: Option<String>,
}

impl RemoteEndpoint {
    /// Whether `desc` belongs to this connection; the first fingerprint seen is this
    /// connection's. Only an offer is ever refused: an answer with another fingerprint (which
    /// no honest peer sends) is left for the browser to reject, and a description without
    /// one is the browser's to judge as well.
    pub fn accepts(&mut self, desc: &Description) -> bool {
        let Some(seen) = crate::control::dtls_fingerprint(&desc.sdp) else {
            return true;
        };
        match &self.fingerprint {
            None => {
                self.fingerprint = Some(seen);
                true
            }
            Some(known) => *known == seen || desc.kind != SdpKind::Offer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two simulated peers that both offer at once (glare).
    #[test]
    fn glare_resolves_to_the_impolite_offer() {
        let mut host = Negotiator::new(false);
        let mut guest = Negotiator::new(true);
        host.begin_offer();
        guest.begin_offer();
        // Each receives the other's offer while having a local offer.
        let at_host = host.on_description(SdpKind::Offer, SignalingState::HaveLocalOffer);
        let at_guest = guest.on_description(SdpKind::Offer, SignalingState::HaveLocalOffer);
        assert_eq!(at_host, DescriptionDecision::Ignore);
        assert!(!host.candidate_failure_matters());
        assert_eq!(at_guest, DescriptionDecision::Apply { answer: true });
        assert!(guest.candidate_failure_matters());
        host.end_offer();
        guest.end_offer();
        // The guest's answer reaches the host, which applies it.
        assert_eq!(
            host.on_description(SdpKind::Answer, SignalingState::HaveLocalOffer),
            DescriptionDecision::Apply { answer: false }
        );
        assert!(host.candidate_failure_matters());
    }

    #[test]
    fn plain_offer_answer_and_closed_connections() {
        let mut guest = Negotiator::new(true);
        assert_eq!(
            guest.on_description(SdpKind::Offer, SignalingState::Stable),
            DescriptionDecision::Apply { answer: true }
        );
        assert_eq!(
            guest.on_description(SdpKind::Offer, SignalingState::Closed),
            DescriptionDecision::Ignore
        );
        let mut host = Negotiator::new(false);
        // A renegotiation offer from the guest while stable is accepted even by the host.
        assert_eq!(
            host.on_description(SdpKind::Offer, SignalingState::Stable),
            DescriptionDecision::Apply { answer: true }
        );
        assert_eq!(
            SignalingState::parse("have-remote-offer"),
            SignalingState::HaveRemoteOffer
        );
        assert_eq!(SignalingState::parse("weird"), SignalingState::Other);
    }

    fn desc(kind: SdpKind, fingerprint: &str) -> Description {
        Description {
            kind,
            sdp: format!("v=0\r\na=ice-ufrag:x\r\na=fingerprint:sha-256 {fingerprint}\r\n"),
        }
    }

    #[test]
    fn an_offer_from_another_connection_is_not_ours() {
        let mut end = RemoteEndpoint::default();
        assert!(end.accepts(&desc(SdpKind::Offer, "AB:CD")));
        // An ICE restart or a renegotiation of the same connection: same certificate (case
        // is not a difference).
        assert!(end.accepts(&desc(SdpKind::Offer, "ab:cd")));
        assert!(end.accepts(&desc(SdpKind::Answer, "AB:CD")));
        // The host's new connection.
        assert!(!end.accepts(&desc(SdpKind::Offer, "12:34")));
        // Still not ours when asked again, and ours still is.
        assert!(!end.accepts(&desc(SdpKind::Offer, "12:34")));
        assert!(end.accepts(&desc(SdpKind::Offer, "AB:CD")));
        // An answer is the browser's to refuse; a description without a fingerprint too.
        assert!(end.accepts(&desc(SdpKind::Answer, "12:34")));
        let bare = Description {
            kind: SdpKind::Offer,
            sdp: "v=0\r\n".into(),
        };
        assert!(end.accepts(&bare));
        // A new connection takes the first fingerprint it is given.
        let mut fresh = RemoteEndpoint::default();
        assert!(fresh.accepts(&desc(SdpKind::Offer, "12:34")));
    }
}
