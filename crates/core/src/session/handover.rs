//! Handing the host role on (product.md §1: the host can "transfer host to a controller").
//!
//! Who hosts rests on the link's host key `h`, whose private half only the first host's tab
//! holds. A handover is one more link of a chain rooted at `h`: the current host signs
//! `"PairUX 1.0 host handover" ‖ session ‖ generation ‖ next key`, where the next key is the
//! controller's own join key (the key its verified presence meta is signed with). The new
//! host's meta carries the whole chain in its sealed profile, and is believed as host if the
//! chain verifies link by link from `h` and the meta verifies under the chain's last key.
//!
//! A longer chain supersedes a shorter one it extends (the former host's meta, still present
//! for a moment, is not the host any more), and a page that has seen a chain believes no host
//! whose chain does not extend it: a former host still holds its key and could sign a second,
//! different handover, but the pages that saw the first do not follow the fork. A handover
//! once signed cannot be withdrawn; it is offered only to a controller (who holds the
//! controller secret and was chosen by the host's click) and taken only with that person's.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::identity::{PublicKey, Signer, Statement, KEY_LEN, SIGNATURE_LEN};
use crate::link::SessionId;

const HANDOVER_LABEL: &[u8] = b"PairUX 1.0 host handover";
/// Most handovers a session's chain may hold (a link's resume text carries it).
pub const MAX_HANDOVERS: usize = 8;
const LINK_LEN: usize = KEY_LEN + SIGNATURE_LEN;

/// The handovers from the link's host key to the current host, oldest first (empty: the
/// session's first host).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostChain(Vec<(PublicKey, [u8; SIGNATURE_LEN])>);

impl HostChain {
    /// How many handovers: 0 for the first host.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The key hosting under this chain, if every link verifies from `root` (the link's `h`).
    pub fn head(&self, session: &SessionId, root: &PublicKey) -> Option<PublicKey> {
        let mut key = *root;
        for (generation, (next, sig)) in (1..).zip(&self.0) {
            if !key.verifies(&statement(session, generation, next), sig) {
                return None;
            }
            key = *next;
        }
        Some(key)
    }

    /// This chain with one more handover: `signer` (this chain's head) hands the role to
    /// `next`. `None` past [`MAX_HANDOVERS`].
    pub fn hand_over(&self, session: &SessionId, signer: &Signer, next: PublicKey) -> Option<Self> {
        if self.0.len() >= MAX_HANDOVERS {
            return None;
        }
        let generation = self.0.len() as u64 + 1;
        let sig = signer.sign(&statement(session, generation, &next));
        let mut links = self.0.clone();
        links.push((next, sig));
        Some(HostChain(links))
    }

    /// Whether `earlier` is this chain or a beginning of it.
    pub fn extends(&self, earlier: &HostChain) -> bool {
        self.0.starts_with(&earlier.0)
    }

    /// base64url of the links' bytes (key ‖ signature each); empty for no handover.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(self.0.len() * LINK_LEN);
        for (key, sig) in &self.0 {
            bytes.extend_from_slice(key.as_bytes());
            bytes.extend_from_slice(sig);
        }
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Reads [`Self::encode`]'s form: `None` if it is not whole links of valid keys, or too
    /// long. Signatures are checked by [`Self::head`], not here.
    pub fn decode(text: &str) -> Option<Self> {
        if text.len() > (MAX_HANDOVERS * LINK_LEN).div_ceil(3) * 4 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        if bytes.len() % LINK_LEN != 0 {
            return None;
        }
        let mut links = Vec::with_capacity(bytes.len() / LINK_LEN);
        for link in bytes.chunks_exact(LINK_LEN) {
            let (key, sig) = link.split_at(KEY_LEN);
            links.push((
                PublicKey::from_bytes(key.try_into().ok()?)?,
                sig.try_into().ok()?,
            ));
        }
        Some(HostChain(links))
    }
}

fn statement(session: &SessionId, generation: u64, next: &PublicKey) -> Statement {
    let mut s = Statement::new(HANDOVER_LABEL);
    s.field(session.as_bytes())
        .number(generation)
        .field(next.as_bytes());
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::{SessionLink, GENERATE_RANDOM_LEN};

    #[test]
    fn a_chain_verifies_link_by_link_from_the_root() {
        let (link, host) = SessionLink::generate(&[7; GENERATE_RANDOM_LEN]);
        let (a, b) = (Signer::from_seed([1; 32]), Signer::from_seed([2; 32]));
        let session = &link.session;
        assert_eq!(
            HostChain::default().head(session, &link.host),
            Some(link.host)
        );
        let one = HostChain::default()
            .hand_over(session, host.signer(), a.public())
            .unwrap();
        assert_eq!(one.head(session, &link.host), Some(a.public()));
        let two = one.hand_over(session, &a, b.public()).unwrap();
        assert_eq!(two.head(session, &link.host), Some(b.public()));
        assert!(two.extends(&one) && one.extends(&HostChain::default()));
        assert!(!one.extends(&two));
        assert_eq!(HostChain::decode(&two.encode()), Some(two.clone()));
        assert_eq!(HostChain::decode(""), Some(HostChain::default()));

        // Not rooted at this link's key, signed by someone who is not the head, or for
        // another session: no head.
        let other = Signer::from_seed([9; 32]);
        assert_eq!(two.head(session, &other.public()), None);
        let skipped = HostChain::default()
            .hand_over(session, &a, b.public())
            .unwrap();
        assert_eq!(skipped.head(session, &link.host), None);
        let (elsewhere, _) = SessionLink::generate(&[8; GENERATE_RANDOM_LEN]);
        assert_eq!(one.head(&elsewhere.session, &link.host), None);
        // A link taken out of the middle (the generation is signed).
        let mut dropped = two.clone();
        dropped.0.remove(0);
        assert_eq!(dropped.head(session, &link.host), None);
    }

    #[test]
    fn malformed_and_overlong_chains_do_not_read() {
        let (link, host) = SessionLink::generate(&[7; GENERATE_RANDOM_LEN]);
        let a = Signer::from_seed([1; 32]);
        let one = HostChain::default()
            .hand_over(&link.session, host.signer(), a.public())
            .unwrap();
        let text = one.encode();
        assert_eq!(HostChain::decode(&text[..text.len() - 4]), None);
        assert_eq!(HostChain::decode("!!!!"), None);
        let mut long = HostChain::default();
        let mut signer = host.signer().clone();
        for i in 0..MAX_HANDOVERS {
            let next = Signer::from_seed([i as u8 + 10; 32]);
            long = long
                .hand_over(&link.session, &signer, next.public())
                .unwrap();
            signer = next;
        }
        assert_eq!(long.head(&link.session, &link.host), Some(signer.public()));
        assert_eq!(HostChain::decode(&long.encode()), Some(long.clone()));
        assert!(long.hand_over(&link.session, &signer, a.public()).is_none());
        assert_eq!(HostChain::decode(&format!("{}AAAA", long.encode())), None);
    }
}
