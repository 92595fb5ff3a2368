//! Perfect negotiation (W3C WebRTC §"Perfect negotiation example") as a sans-IO decision
//! table: the glue owns the RTCPeerConnection and asks this type what to do with each
//! description. In PairUX the participant is polite and the host impolite, so an offer
//! collision always resolves in the host's favour.

use super::SdpKind;

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
}
