//! The session roster: who is in the session, built from the signaling channel's presence.
//!
//! Each participant tracks one presence under its participant id (the presence key) with the
//! meta `{"role": "host"|"controller"|"viewer", "joined_at": <ms>, "profile": <value>}`. The
//! roster is a function of the presence state, so a state re-sent after a reconnect replaces
//! the old one without duplicates.
//!
//! Presence is written by peers and relayed by a server, neither trusted: every meta goes
//! through a caller-supplied check (`session::SessionIdentity::verify`: sealed profile opens,
//! signature verifies, the presence key is the participant id of the signing key and join
//! epoch, a `host` claim is signed by the link's host key) before it can describe anyone, so
//! a meta under someone else's key is believed as nobody. The first verified meta under a
//! presence key also pins that key's signer: later metas under the same key signed by anyone
//! else (a socket that knows only the session id, or another link holder) can neither hide,
//! replace nor rename the participant — they are ignored and counted. A `controller` role is
//! believed on the host's page only with a seat proof of the controller secret
//! (`session::SessionIdentity::verify`; without one the participant is a viewer here, counted
//! as `forged_role`); elsewhere roles are claims. What a controller may do is decided apart
//! from this (controller proof, the host's click).

use crate::vecmap::{VecMap, VecSet};

use serde_json::{Map, Value};

use crate::identity::PublicKey;
use crate::realtime::{PresenceMeta, PresenceState};
use crate::realtime_client::PresenceSync;
use crate::Role;

/// Most presence keys whose signer is remembered (a flood of fresh keys cannot grow memory
/// without bound; past it, new keys are still verified but pinned only while present).
const MAX_PINS: usize = 4096;

/// One person in the session.
#[derive(Debug, Clone, PartialEq)]
pub struct Participant {
    /// The presence key: the participant id, new for every join of a page and bound to the
    /// key its metas are signed with (`session::participant_id`).
    pub id: String,
    /// Its role as believed: a `host` in a verified roster is the link's host; on the host's
    /// page a `controller` proved the controller secret (on other pages, the role claimed).
    pub role: Role,
    /// When it joined (ms since the Unix epoch, its own clock); signed with its meta, and the
    /// join epoch its signals carry.
    pub joined_at: u64,
    /// Its profile: as tracked (sealed) before verification, opened after it; `Null` when absent.
    pub profile: Value,
    /// The meta's signature (base64url), as tracked.
    pub sig: Option<String>,
    /// The key its meta and signals are signed with, once verified.
    pub signer: Option<PublicKey>,
    /// The wire version its page speaks (`v`; a meta without one is version 1):
    /// see `session::WIRE_VERSION`.
    pub wire: u64,
    /// A host's signature of its wire version (`vsig`; `session::SessionIdentity::meta`),
    /// which a page of any version can check against the link's host key.
    pub wire_sig: Option<String>,
}

/// Why a presence meta is not a participant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetaError {
    /// `role` is missing or not one of the three roles.
    #[error("`role` is not host, controller or viewer")]
    Role,
    /// `joined_at` is missing or not a non-negative integer.
    #[error("`joined_at` is not a millisecond timestamp")]
    JoinedAt,
    /// `v` is there but not a non-negative integer.
    #[error("`v` is not a wire version")]
    Version,
}

/// The wire version of a meta without `v`: the pages from before metas said which they speak.
pub const UNVERSIONED_WIRE: u64 = 1;

/// Why a well-formed meta was not believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Its sealed profile does not open with our room key (no key, or junk).
    #[error("profile does not open with this session's room key")]
    Unreadable,
    /// Its signature does not verify under the key its profile names.
    #[error("meta signature does not verify")]
    BadSignature,
    /// It claims `host` without the link's host key.
    #[error("claims host without the host key")]
    ImpostorHost,
    /// It claims `host` without the link's host key, and its profile opens with our room key:
    /// someone who holds this session's room key hosts under another key (a link whose `h`
    /// is not this host's, or a link holder posing as the host). Counted as `impostor_host`.
    #[error("claims host under another key than the link's")]
    UnconfirmedHost,
    /// Signed by the host key, but its profile does not open: our link's room key is wrong.
    #[error("the host's profile does not open: wrong room key")]
    WrongKeyHost,
    /// It claims `host` under a chain of handovers that the one already believed does not
    /// begin: a host who handed the role on (or a fork by one). Counted as `impostor_host`.
    #[error("claims host after handing the role on")]
    FormerHost,
    /// Signed and readable, but under a presence key that is not the participant id of its
    /// signer and join epoch (`session::participant_id`): someone else's key. Counted as
    /// `shadowed`.
    #[error("meta under a presence key that is not its signer's")]
    ForeignId,
    /// The link's host is here, its wire version (the number) signed by the link's host key,
    /// but it is not ours: this page cannot follow it and says so. Counted as
    /// `other_version`.
    #[error("the host speaks wire version {0}")]
    HostVersion(u64),
    /// A meta of another wire version (the number it claims) that says nothing we can check
    /// (a guest's, or a host's without the link's host key on its version): not read further.
    /// Counted as `other_version`.
    #[error("meta of wire version {0}")]
    OtherVersion(u64),
}

/// Two hosts present whose handover chains part (see [`Roster::host_chain`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostFork;

/// Counts of metas that were not believed, each counted once (by `phx_ref`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RosterCounters {
    /// Missing or invalid `role` / `joined_at`.
    pub invalid: u64,
    pub unreadable: u64,
    pub bad_signature: u64,
    pub impostor_host: u64,
    pub wrong_key_host: u64,
    /// Metas under someone else's presence key: verified under a key already pinned to
    /// another signer, or signed by a key whose participant id the presence key is not.
    pub shadowed: u64,
    /// Metas claiming a role their sender could not prove (a controller's without the
    /// controller secret's seat proof, as the host checks): believed as the lesser role.
    pub forged_role: u64,
    /// Metas of another wire version (`Rejection::HostVersion`, `Rejection::OtherVersion`).
    pub other_version: u64,
}

impl Participant {
    /// Its agreement key (`kx` in its profile, `e2ee::rekey`), once its profile is opened.
    pub fn kx(&self) -> Option<[u8; crate::e2ee::rekey::AGREEMENT_KEY_LEN]> {
        self.profile
            .get("kx")
            .and_then(Value::as_str)
            .and_then(crate::e2ee::rekey::parse_agreement_public)
    }

    /// Reads the participant a presence meta describes (not yet verified).
    pub fn from_meta(id: &str, meta: &PresenceMeta) -> Result<Self, MetaError> {
        let role = match meta.payload.get("role").and_then(Value::as_str) {
            Some("host") => Role::Host,
            Some("controller") => Role::Controller,
            Some("viewer") => Role::Viewer,
            _ => return Err(MetaError::Role),
        };
        let joined_at = meta
            .payload
            .get("joined_at")
            .and_then(Value::as_u64)
            .ok_or(MetaError::JoinedAt)?;
        let profile = meta.payload.get("profile").cloned().unwrap_or(Value::Null);
        let text = |name| {
            meta.payload
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let wire = match meta.payload.get("v") {
            None => UNVERSIONED_WIRE,
            Some(v) => v.as_u64().ok_or(MetaError::Version)?,
        };
        Ok(Participant {
            id: id.to_owned(),
            role,
            joined_at,
            profile,
            sig: text("sig"),
            signer: None,
            wire,
            wire_sig: text("vsig"),
        })
    }

    /// The meta to `track` for this participant (its id is the channel's presence key).
    pub fn to_meta(&self) -> Value {
        let mut meta = Map::new();
        meta.insert("role".to_owned(), Value::from(self.role.as_str()));
        meta.insert("joined_at".to_owned(), Value::from(self.joined_at));
        meta.insert("profile".to_owned(), self.profile.clone());
        if let Some(sig) = &self.sig {
            meta.insert("sig".to_owned(), Value::from(sig.as_str()));
        }
        meta.insert("v".to_owned(), Value::from(self.wire));
        if let Some(sig) = &self.wire_sig {
            meta.insert("vsig".to_owned(), Value::from(sig.as_str()));
        }
        Value::Object(meta)
    }

    /// The name to show for this participant (sanitised; see `display::display_name`).
    pub fn display_name(&self) -> String {
        crate::display::display_name(self.profile.get("name").and_then(Value::as_str))
    }

    /// Roster order: the host first (the one the role was handed to last, while the one who
    /// handed it on is still here; of one chain, the latest join), then by join time, then by
    /// id (for a stable order).
    fn order_key(&self) -> (bool, std::cmp::Reverse<usize>, u64, &str) {
        // A chain's text grows with each handover (see `session::HostChain`); a host's was
        // verified with its meta, anyone else's means nothing. Hosts of one chain are one
        // person's joins (a reload, a duplicated tab): the latest. A signed meta of an earlier
        // join can be tracked again by anyone who kept it, but a join time cannot be
        // advanced; first-joined first let such a replay take every guest off the live host.
        let (handovers, joined) = match self.role {
            Role::Host => (self.chain_text().len(), u64::MAX - self.joined_at),
            _ => (0, self.joined_at),
        };
        (
            self.role != Role::Host,
            std::cmp::Reverse(handovers),
            joined,
            &self.id,
        )
    }

    /// A verified host's handover chain as its profile carries it (empty: the first host).
    pub fn chain_text(&self) -> &str {
        self.profile
            .get("chain")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// `people`'s names as they tell people apart: where two share one, with a tag of the key each
/// one's metas verify under (`display::distinct_names`).
pub fn distinct_names(people: &[&Participant]) -> Vec<String> {
    let named: Vec<(String, String)> = people
        .iter()
        .map(|p| {
            let key = p.signer.map(|k| k.encode()).unwrap_or_default();
            (key, p.display_name())
        })
        .collect();
    crate::display::distinct_names(&named)
}

/// A change of the roster.
#[derive(Debug, Clone, PartialEq)]
pub enum RosterEvent {
    /// Someone new.
    Joined(Participant),
    /// Someone gone (as they were last seen).
    Left(Participant),
    /// Someone's role, join time or profile changed (the new values).
    Updated(Participant),
}

/// The check every meta passes before it describes anyone: the verified participant (profile
/// opened, `signer` set), or why not.
pub type Verify<'a> = &'a dyn Fn(&Participant) -> Result<Participant, Rejection>;

/// Everyone in the session.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    participants: VecMap<String, Participant>,
    /// Presence key → the signer of its first verified meta.
    pins: VecMap<String, PublicKey>,
    /// (presence key, phx_ref) → the check's result, so each meta is verified and counted
    /// once (`Err(None)`: not a meta at all).
    checked: VecMap<(String, String), Result<Participant, Option<Rejection>>>,
    /// Metas already counted as shadowing.
    shadow_counted: VecSet<(String, String)>,
    /// Host metas signed by the host key whose profile we cannot open (present now).
    wrong_key_host: bool,
    /// Host metas opened by our room key but not signed by the link's host key (present now).
    unconfirmed_host: bool,
    /// Two verified host metas present (shadows too) whose handover chains part.
    forked_host: bool,
    /// A presence state was applied at least once (the channel's presence reached us).
    synced: bool,
    /// The wire version of the link's host, present now, when it is not ours.
    host_version: Option<u64>,
    /// The highest wire version other than ours claimed by metas present now that are not
    /// the link's host's.
    other_version: Option<u64>,
    counters: RosterCounters,
}

impl Roster {
    /// An empty roster.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a presence change: the roster becomes what `sync.state` describes.
    pub fn apply(&mut self, sync: &PresenceSync, verify: Verify<'_>) -> Vec<RosterEvent> {
        self.replace(&sync.state, verify)
    }

    /// Makes the roster what `state` describes, returning the changes: leaves first, then
    /// joins and updates in roster order.
    pub fn replace(&mut self, state: &PresenceState, verify: Verify<'_>) -> Vec<RosterEvent> {
        let mut next = VecMap::new();
        let mut seen = VecSet::new();
        let mut wrong_key_host = false;
        let mut unconfirmed_host = false;
        let (mut host_version, mut other_version) = (None, None);
        // Every meta checked first (once each), then the keys pinned and chosen.
        let mut keys = Vec::with_capacity(state.len());
        for (key, entry) in state {
            // A key's verified metas, oldest first.
            let mut candidates = Vec::new();
            for meta in &entry.metas {
                let slot = (key.clone(), meta.phx_ref.clone());
                seen.insert(slot.clone());
                if !self.checked.contains_key(&slot) {
                    let result = match Participant::from_meta(key, meta) {
                        Err(_) => {
                            self.counters.invalid += 1;
                            Err(None)
                        }
                        Ok(claimed) => {
                            let result = verify(&claimed).map_err(Some);
                            if result.as_ref().is_ok_and(|p| p.role != claimed.role) {
                                self.counters.forged_role += 1;
                            }
                            result
                        }
                    };
                    if let Err(Some(rejection)) = &result {
                        self.count(*rejection);
                    }
                    self.checked.insert(slot.clone(), result);
                }
                match self.checked.get(&slot) {
                    Some(Ok(p)) => candidates.push((slot, p.clone())),
                    Some(Err(Some(Rejection::WrongKeyHost))) => wrong_key_host = true,
                    Some(Err(Some(Rejection::UnconfirmedHost))) => unconfirmed_host = true,
                    Some(Err(Some(Rejection::HostVersion(v)))) => host_version = Some(*v),
                    Some(Err(Some(Rejection::OtherVersion(v)))) => {
                        other_version = other_version.max(Some(*v))
                    }
                    _ => {}
                }
            }
            keys.push((key, candidates));
        }
        // Every verified host meta's chain, shadows too: one line of handovers, or a fork.
        // (A shadow is a second signer's meta verified under a key, which the app's check —
        // each presence key is its signer's participant id — lets through only for a hash
        // collision; this roster counts shadows for any check it is given.)
        let hosts = keys.iter().flat_map(|(_, c)| c).map(|(_, p)| p);
        let line = longest_on_one_line(
            hosts
                .filter(|p| p.role == Role::Host)
                .map(Participant::chain_text),
        );
        let forked_host = line.is_none();
        // The host the role was handed to last, by its chain: its meta pins the key it is
        // under even behind another's (the server lets a client track under any key, and
        // lists an updated meta behind a squatter's, so the order proves nothing; only a host
        // can sign a host meta). Not an earlier host's: a former host's first-host meta under
        // someone else's key pins nothing that way. Defence in depth: under the app's check
        // such squats do not verify at all (`Rejection::ForeignId`).
        let newest = line.flatten().map(str::to_owned);
        for (key, candidates) in keys {
            let pin = match self.pins.get(key) {
                Some(pin) => Some(*pin),
                // Otherwise the first verified meta pins the key's signer.
                None => {
                    let newest_host = candidates.iter().find(|(_, p)| {
                        p.role == Role::Host && newest.as_deref() == Some(p.chain_text())
                    });
                    let first = newest_host
                        .or(candidates.first())
                        .and_then(|(_, p)| p.signer);
                    if let Some(first) = first {
                        if self.pins.len() < MAX_PINS {
                            self.pins.insert(key.clone(), first);
                        }
                    }
                    first
                }
            };
            let mut chosen = None;
            for (slot, p) in candidates {
                if p.signer == pin {
                    // The newest meta of the pinned signer (a profile update) wins.
                    chosen = Some(p);
                } else if self.shadow_counted.insert(slot) {
                    self.counters.shadowed += 1;
                }
            }
            if let Some(p) = chosen {
                next.insert(key.clone(), p);
            }
        }
        self.checked.retain(|slot, _| seen.contains(slot));
        self.shadow_counted.retain(|slot| seen.contains(slot));
        self.wrong_key_host = wrong_key_host;
        self.unconfirmed_host = unconfirmed_host;
        self.forked_host = forked_host;
        self.host_version = host_version;
        self.other_version = other_version;
        self.synced = true;

        let mut events: Vec<RosterEvent> = self
            .participants
            .iter()
            .filter(|(id, _)| !next.contains_key(*id))
            .map(|(_, gone)| RosterEvent::Left(gone.clone()))
            .collect();
        let mut arrivals: Vec<&Participant> = next
            .values()
            .filter(|p| self.participants.get(&p.id) != Some(*p))
            .collect();
        crate::vecmap::sort_by(&mut arrivals, |a, b| a.order_key().cmp(&b.order_key()));
        events.extend(arrivals.into_iter().map(|p| {
            if self.participants.contains_key(&p.id) {
                RosterEvent::Updated(p.clone())
            } else {
                RosterEvent::Joined(p.clone())
            }
        }));
        self.participants = next;
        events
    }

    fn count(&mut self, rejection: Rejection) {
        let c = &mut self.counters;
        match rejection {
            Rejection::Unreadable => c.unreadable += 1,
            Rejection::BadSignature => c.bad_signature += 1,
            Rejection::ImpostorHost | Rejection::UnconfirmedHost | Rejection::FormerHost => {
                c.impostor_host += 1
            }
            Rejection::WrongKeyHost => c.wrong_key_host += 1,
            Rejection::ForeignId => c.shadowed += 1,
            Rejection::HostVersion(_) | Rejection::OtherVersion(_) => c.other_version += 1,
        }
    }

    /// Everyone, host first, then by join time.
    pub fn participants(&self) -> Vec<&Participant> {
        let mut list: Vec<&Participant> = self.participants.values().collect();
        crate::vecmap::sort_by(&mut list, |a, b| a.order_key().cmp(&b.order_key()));
        list
    }

    /// One participant by id.
    pub fn get(&self, id: &str) -> Option<&Participant> {
        self.participants.get(id)
    }

    /// How many participants there are.
    pub fn len(&self) -> usize {
        self.participants.len()
    }

    /// Whether nobody is there.
    pub fn is_empty(&self) -> bool {
        self.participants.is_empty()
    }

    /// Whether the channel's presence has reached us at all (an empty roster then means
    /// nobody is there, not that we do not know).
    pub fn synced(&self) -> bool {
        self.synced
    }

    /// Metas that were not believed, by reason.
    pub fn counters(&self) -> RosterCounters {
        self.counters
    }

    /// Whether a meta signed by the host key is present whose profile our room key cannot
    /// open: the link's room key is not this session's.
    pub fn host_unreadable(&self) -> bool {
        self.wrong_key_host
    }

    /// The wire version of the link's host when it is here and speaks another than ours
    /// (signed by the link's host key): this page cannot follow it, and a person should be
    /// told which side to reload.
    pub fn host_version(&self) -> Option<u64> {
        self.host_version
    }

    /// The highest wire version other than ours claimed by metas here that are not the link's
    /// host's (unchecked: a claim). On the host's page, a newer one is most likely someone
    /// who opened the link after a newer app was deployed.
    pub fn other_version(&self) -> Option<u64> {
        self.other_version
    }

    /// Whether someone holding our room key is present claiming `host` under another key
    /// than the link's: if no host verifies, this link cannot confirm the one who hosts.
    pub fn host_unconfirmed(&self) -> bool {
        self.unconfirmed_host
    }

    /// The longest handover chain (its text, see `session::HostChain`) among the verified
    /// hosts present, when every host's chain begins it: one line of handovers, the last of
    /// whom hosts (`Ok(None)` with no host here). `Err(HostFork)` when two hosts' chains
    /// part: someone who hosted signed the role over twice, and nothing here tells which
    /// of the two it truly went to.
    ///
    /// Every verified host meta present counts, shadowed ones too; the chain returned is the
    /// longest of the hosts the roster kept.
    pub fn host_chain(&self) -> Result<Option<&str>, HostFork> {
        if self.forked_host {
            return Err(HostFork);
        }
        let hosts = self.participants.values().filter(|p| p.role == Role::Host);
        longest_on_one_line(hosts.map(Participant::chain_text)).ok_or(HostFork)
    }

    /// Whether the hosts present claim the role through two different handovers (see
    /// [`Roster::host_chain`]): nobody is to be followed as host while they do.
    pub fn host_forked(&self) -> bool {
        self.forked_host
    }
}

/// The longest of `chains` if each begins it (`Some(None)` for none), `None` if two part.
/// Each link is 96 bytes, 128 characters of base64url, so a chain begins another exactly
/// when its text does (the texts were verified with their metas).
fn longest_on_one_line<'a>(chains: impl IntoIterator<Item = &'a str>) -> Option<Option<&'a str>> {
    let mut longest: Option<&str> = None;
    for chain in chains {
        match longest {
            Some(l) if l.starts_with(chain) => {}
            Some(l) if !chain.starts_with(l) => return None,
            _ => longest = Some(chain),
        }
    }
    Some(longest)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::identity::Signer;

    fn key(n: u8) -> PublicKey {
        Signer::from_seed([n; 32]).public()
    }

    /// Test check: a profile `"key-N"` is signed by key N; the host is key 1; anything else
    /// does not open.
    fn verify(p: &Participant) -> Result<Participant, Rejection> {
        let n = p
            .profile
            .as_str()
            .and_then(|t| t.strip_prefix("key-"))
            .and_then(|n| n.parse::<u8>().ok());
        match (p.role, n) {
            (Role::Host, Some(1)) => {}
            (Role::Host, _) => return Err(Rejection::ImpostorHost),
            (_, None) => return Err(Rejection::Unreadable),
            _ => {}
        }
        let n = n.expect("checked");
        Ok(Participant {
            profile: json!({"name": format!("P{n}")}),
            signer: Some(key(n)),
            ..p.clone()
        })
    }

    fn state(value: Value) -> PresenceState {
        serde_json::from_value(value).unwrap()
    }

    fn ids(roster: &Roster) -> Vec<&str> {
        roster
            .participants()
            .iter()
            .map(|p| p.id.as_str())
            .collect()
    }

    #[test]
    fn host_first_then_by_join_time() {
        let s = state(json!({
            "v1": {"metas": [{"phx_ref": "a", "role": "viewer", "joined_at": 10, "profile": "key-2"}]},
            "c1": {"metas": [{"phx_ref": "b", "role": "controller", "joined_at": 5, "profile": "key-3"}]},
            "h": {"metas": [{"phx_ref": "c", "role": "host", "joined_at": 20, "profile": "key-1"}]}
        }));
        let mut roster = Roster::new();
        let events = roster.replace(&s, &verify);
        assert_eq!(ids(&roster), ["h", "c1", "v1"]);
        assert!(matches!(&events[0], RosterEvent::Joined(p) if p.id == "h"));
        assert_eq!(events.len(), 3);
        assert_eq!(roster.get("c1").unwrap().profile, json!({"name": "P3"}));
        assert_eq!(roster.get("h").unwrap().signer, Some(key(1)));
    }

    /// A host that reloaded joins again under a new id; anyone who kept its earlier signed
    /// meta can track it again under the old key. The latest join of one chain comes first,
    /// so guests follow the live host, not the replay (a join time cannot be advanced).
    #[test]
    fn of_two_joins_of_one_host_the_latest_is_the_host() {
        let live = json!({"phx_ref": "a", "role": "host", "joined_at": 50, "profile": "key-1"});
        let replayed = json!({"phx_ref": "b", "role": "host", "joined_at": 20, "profile": "key-1"});
        let viewer = json!({"phx_ref": "c", "role": "viewer", "joined_at": 10, "profile": "key-2"});
        let mut roster = Roster::new();
        roster.replace(
            &state(json!({"h2": {"metas": [live.clone()]}, "v": {"metas": [viewer.clone()]}})),
            &verify,
        );
        assert_eq!(ids(&roster), ["h2", "v"]);
        let events = roster.replace(
            &state(json!({"h2": {"metas": [live]}, "h1": {"metas": [replayed]}, "v": {"metas": [viewer]}})),
            &verify,
        );
        assert_eq!(ids(&roster), ["h2", "h1", "v"]);
        assert!(matches!(&events[..], [RosterEvent::Joined(p)] if p.id == "h1"));
        // One chain (the first host's, empty): no fork, nobody stops following a host.
        assert_eq!(roster.host_chain(), Ok(Some("")));
    }

    #[test]
    fn invalid_unverified_and_impostor_metas_are_ignored_and_counted_once() {
        let s = state(json!({
            "bad": {"metas": [{"phx_ref": "1", "role": "admin", "joined_at": 1}]},
            "neg": {"metas": [{"phx_ref": "2", "role": "viewer", "joined_at": -1}]},
            "junk": {"metas": [{"phx_ref": "3", "role": "viewer", "joined_at": 1, "profile": "x"}]},
            "fake": {"metas": [{"phx_ref": "4", "role": "host", "joined_at": 0, "profile": "key-9"}]},
            "p": {"metas": [{"phx_ref": "5", "role": "viewer", "joined_at": 1, "profile": "key-2"}]}
        }));
        let mut roster = Roster::new();
        roster.replace(&s, &verify);
        roster.replace(&s, &verify);
        assert_eq!(ids(&roster), ["p"]);
        let c = roster.counters();
        assert_eq!((c.invalid, c.unreadable, c.impostor_host), (2, 1, 1));
    }

    #[test]
    fn the_first_verified_meta_pins_its_key_and_shadows_are_ignored() {
        let mut roster = Roster::new();
        let real = json!({"phx_ref": "1", "role": "viewer", "joined_at": 5, "profile": "key-2"});
        roster.replace(&state(json!({"g": {"metas": [real.clone()]}})), &verify);
        // Another link holder tracks under g's key with its own signed meta, claiming another
        // role; a socket that knows only the session id adds junk.
        let shadow =
            json!({"phx_ref": "2", "role": "controller", "joined_at": 9, "profile": "key-7"});
        let junk = json!({"phx_ref": "3", "role": "viewer", "joined_at": 9, "profile": "?"});
        let events = roster.replace(
            &state(json!({"g": {"metas": [real.clone(), shadow.clone(), junk.clone()]}})),
            &verify,
        );
        assert!(events.is_empty(), "{events:?}");
        assert_eq!(roster.get("g").unwrap().role, Role::Viewer);
        assert_eq!(roster.counters().shadowed, 1);
        assert_eq!(roster.counters().unreadable, 1);
        // The real participant leaves: the shadow does not take over the key.
        let events = roster.replace(&state(json!({"g": {"metas": [shadow, junk]}})), &verify);
        assert!(matches!(&events[..], [RosterEvent::Left(p)] if p.id == "g"));
        assert!(roster.is_empty());
        // It comes back (same key, a profile update): it is g again.
        let update = json!({"phx_ref": "9", "role": "viewer", "joined_at": 5, "profile": "key-2"});
        roster.replace(&state(json!({"g": {"metas": [update]}})), &verify);
        assert_eq!(ids(&roster), ["g"]);
    }

    #[test]
    fn a_page_that_sees_a_squatter_first_still_pins_the_host() {
        // The host updated its meta (a rename, the microphone), so the server lists it behind
        // a link holder's meta under the host's key; a page that joins now reads them in
        // that order.
        let squat = json!({"phx_ref": "1", "role": "viewer", "joined_at": 9, "profile": "key-7"});
        let host = json!({"phx_ref": "2", "role": "host", "joined_at": 1, "profile": "key-1"});
        let mut roster = Roster::new();
        roster.replace(&state(json!({"h": {"metas": [squat, host]}})), &verify);
        assert_eq!(roster.get("h").unwrap().role, Role::Host);
        assert_eq!(roster.get("h").unwrap().signer, Some(key(1)));
        assert_eq!(roster.counters().shadowed, 1);
    }

    #[test]
    fn a_resent_state_yields_no_duplicates_and_reports_changes() {
        let mut roster = Roster::new();
        let first = state(json!({
            "a": {"metas": [{"phx_ref": "1", "role": "host", "joined_at": 1, "profile": "key-1"}]},
            "b": {"metas": [{"phx_ref": "2", "role": "viewer", "joined_at": 2, "profile": "key-2"}]}
        }));
        roster.replace(&first, &verify);
        // After a reconnect: a tracked again (new phx_ref, same data), b gone, c new, and a
        // second meta for a from the old socket still there.
        let second = state(json!({
            "a": {"metas": [
                {"phx_ref": "1", "role": "host", "joined_at": 1, "profile": "key-1"},
                {"phx_ref": "9", "role": "host", "joined_at": 1, "profile": "key-1"}
            ]},
            "c": {"metas": [{"phx_ref": "3", "role": "viewer", "joined_at": 3, "profile": "key-3"}]}
        }));
        let events = roster.replace(&second, &verify);
        assert_eq!(ids(&roster), ["a", "c"]);
        assert_eq!(events.len(), 2);
        assert!(matches!(&events[0], RosterEvent::Left(p) if p.id == "b"));
        assert!(matches!(&events[1], RosterEvent::Joined(p) if p.id == "c"));
        let third = state(json!({
            "a": {"metas": [{"phx_ref": "9", "role": "host", "joined_at": 1, "profile": "key-1"}]},
            "c": {"metas": [{"phx_ref": "4", "role": "viewer", "joined_at": 4, "profile": "key-3"}]}
        }));
        let events = roster.replace(&third, &verify);
        assert_eq!(events.len(), 1);
        assert!(matches!(&events[0], RosterEvent::Updated(p) if p.joined_at == 4));
    }

    #[test]
    fn a_host_signed_meta_we_cannot_open_means_our_key_is_wrong() {
        let wrong_key = |p: &Participant| -> Result<Participant, Rejection> {
            Err(if p.role == Role::Host {
                Rejection::WrongKeyHost
            } else {
                Rejection::Unreadable
            })
        };
        let mut roster = Roster::new();
        let s = state(
            json!({"h": {"metas": [{"phx_ref": "1", "role": "host", "joined_at": 1, "profile": "x"}]}}),
        );
        roster.replace(&s, &wrong_key);
        assert!(roster.host_unreadable());
        roster.replace(&s, &wrong_key);
        assert!(roster.host_unreadable(), "cached results keep the flag");
        roster.replace(&state(json!({})), &wrong_key);
        assert!(!roster.host_unreadable());
    }

    #[test]
    fn a_host_under_another_key_is_flagged_while_present_and_counted_as_an_impostor() {
        let other_key = |p: &Participant| -> Result<Participant, Rejection> {
            match (p.role, p.profile.as_str()) {
                (Role::Host, Some("opens")) => Err(Rejection::UnconfirmedHost),
                (Role::Host, _) => Err(Rejection::ImpostorHost),
                _ => Err(Rejection::Unreadable),
            }
        };
        let mut roster = Roster::new();
        let junk = json!({"phx_ref": "1", "role": "host", "joined_at": 1, "profile": "junk"});
        roster.replace(&state(json!({"j": {"metas": [junk.clone()]}})), &other_key);
        assert!(
            !roster.host_unconfirmed(),
            "junk from a socket is no host of ours"
        );
        let opens = json!({"phx_ref": "2", "role": "host", "joined_at": 1, "profile": "opens"});
        let both = state(json!({"j": {"metas": [junk]}, "h": {"metas": [opens]}}));
        roster.replace(&both, &other_key);
        assert!(roster.host_unconfirmed());
        roster.replace(&both, &other_key);
        assert!(roster.host_unconfirmed(), "cached results keep the flag");
        assert_eq!(roster.counters().impostor_host, 2);
        assert!(roster.participants().is_empty());
        roster.replace(&state(json!({})), &other_key);
        assert!(!roster.host_unconfirmed());
    }

    #[test]
    fn another_wire_version_is_flagged_while_present_and_counted_once() {
        // Stands in for `SessionIdentity::verify`'s version check (tested there).
        let versions = |p: &Participant| -> Result<Participant, Rejection> {
            match (p.wire, p.wire_sig.as_deref()) {
                (1, _) => verify(p),
                (v, Some("host-signed")) if p.role == Role::Host => Err(Rejection::HostVersion(v)),
                (v, _) => Err(Rejection::OtherVersion(v)),
            }
        };
        let newer_host = json!({"phx_ref": "1", "role": "host", "joined_at": 1, "profile": "key-1",
            "v": 2, "vsig": "host-signed"});
        let claimed_host = json!({"phx_ref": "2", "role": "host", "joined_at": 1, "profile": "key-2",
            "v": 3, "vsig": "forged"});
        let newer_guest = json!({"phx_ref": "3", "role": "viewer", "joined_at": 2, "profile": "key-3",
            "v": 2});
        let mut roster = Roster::new();
        let s = state(json!({"h": {"metas": [newer_host]}, "x": {"metas": [claimed_host]}}));
        roster.replace(&s, &versions);
        roster.replace(&s, &versions);
        assert_eq!(roster.host_version(), Some(2));
        assert_eq!(roster.other_version(), Some(3), "the unsigned claim");
        assert!(roster.participants().is_empty());
        assert_eq!(roster.counters().other_version, 2, "each meta once");
        roster.replace(&state(json!({"g": {"metas": [newer_guest]}})), &versions);
        assert_eq!(roster.host_version(), None);
        assert_eq!(roster.other_version(), Some(2));
        roster.replace(&state(json!({})), &versions);
        assert_eq!(roster.other_version(), None);
        assert_eq!(roster.counters().other_version, 3);
    }

    #[test]
    fn to_meta_round_trips() {
        let me = Participant {
            id: "me".into(),
            role: Role::Controller,
            joined_at: 1_700_000_000_000,
            profile: json!("sealed"),
            sig: Some("sig".into()),
            signer: None,
            wire: 2,
            wire_sig: Some("vsig".into()),
        };
        let mut payload = match me.to_meta() {
            Value::Object(map) => map,
            other => panic!("meta is an object, got {other}"),
        };
        payload.remove("phx_ref");
        let meta = PresenceMeta {
            phx_ref: "r".into(),
            phx_ref_prev: None,
            payload,
        };
        assert_eq!(Participant::from_meta("me", &meta).unwrap(), me);
    }
}
