//! The session roster: who is in the session, built from the signaling channel's presence.
//!
//! Each participant tracks one presence under its participant id (the presence key) with the
//! meta `{"role": "host"|"controller"|"viewer", "joined_at": <ms>, "profile": <value>}`. The
//! roster is a function of the presence state, so a state re-sent after a reconnect replaces
//! the old one without duplicates; a key with several metas (a rejoin racing the old socket's
//! leave, two tabs) is one participant whose newest valid meta wins. Invalid metas are
//! ignored and counted: presence is written by peers and is not trusted. The role shown here
//! is what a participant *claims*; what it may do is decided elsewhere (controller proof).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::realtime::{PresenceMeta, PresenceState};
use crate::realtime_client::PresenceSync;
use crate::Role;

/// One person in the session.
#[derive(Debug, Clone, PartialEq)]
pub struct Participant {
    /// The presence key: the participant id, random per join of a page.
    pub id: String,
    /// The role it claims.
    pub role: Role,
    /// When it joined (ms since the Unix epoch, its own clock).
    pub joined_at: u64,
    /// Its profile as tracked (PairUX: encrypted with the room key); `Null` when absent.
    pub profile: Value,
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
}

impl Participant {
    /// Reads the participant a presence meta describes.
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
        Ok(Participant {
            id: id.to_owned(),
            role,
            joined_at,
            profile,
        })
    }

    /// The meta to `track` for this participant (its id is the channel's presence key).
    pub fn to_meta(&self) -> Value {
        let mut meta = Map::new();
        meta.insert("role".to_owned(), Value::from(self.role.as_str()));
        meta.insert("joined_at".to_owned(), Value::from(self.joined_at));
        meta.insert("profile".to_owned(), self.profile.clone());
        Value::Object(meta)
    }

    /// Roster order: the host first, then by join time, then by id (for a stable order).
    fn order_key(&self) -> (bool, u64, &str) {
        (self.role != Role::Host, self.joined_at, &self.id)
    }
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

/// Everyone in the session.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    participants: BTreeMap<String, Participant>,
    invalid_metas: u64,
}

impl Roster {
    /// An empty roster.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a presence change: the roster becomes what `sync.state` describes; metas that
    /// just joined and are invalid are counted. Returns leaves first, then joins and updates
    /// in roster order.
    pub fn apply(&mut self, sync: &PresenceSync) -> Vec<RosterEvent> {
        for (key, metas) in &sync.joins {
            let invalid = metas
                .iter()
                .filter(|meta| Participant::from_meta(key, meta).is_err())
                .count();
            self.invalid_metas += u64::try_from(invalid).unwrap_or(u64::MAX);
        }
        self.replace(&sync.state)
    }

    /// Makes the roster what `state` describes (without counting), returning the changes.
    pub fn replace(&mut self, state: &PresenceState) -> Vec<RosterEvent> {
        let next: BTreeMap<String, Participant> = state
            .iter()
            .filter_map(|(key, entry)| {
                // Metas are oldest first, so the last valid one is the newest.
                let newest = entry
                    .metas
                    .iter()
                    .rev()
                    .find_map(|meta| Participant::from_meta(key, meta).ok())?;
                Some((key.clone(), newest))
            })
            .collect();
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
        arrivals.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
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

    /// Everyone, host first, then by join time.
    pub fn participants(&self) -> Vec<&Participant> {
        let mut list: Vec<&Participant> = self.participants.values().collect();
        list.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
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

    /// Replaces each participant's profile with `open(participant)` and drops those for which
    /// it returns `None` (a sealed profile that does not authenticate: someone without the
    /// room key). Returns those dropped.
    pub fn open_profiles(
        &mut self,
        open: impl Fn(&Participant) -> Option<Value>,
    ) -> Vec<Participant> {
        let mut dropped = Vec::new();
        self.participants.retain(|_, p| match open(p) {
            Some(profile) => {
                p.profile = profile;
                true
            }
            None => {
                dropped.push(p.clone());
                false
            }
        });
        dropped
    }

    /// Metas ignored because they did not describe a participant.
    pub fn invalid_metas(&self) -> u64 {
        self.invalid_metas
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sync(joins: Value, state: Value) -> PresenceSync {
        let joins: PresenceState = serde_json::from_value(joins).unwrap();
        PresenceSync {
            joins: joins.into_iter().map(|(k, e)| (k, e.metas)).collect(),
            leaves: Vec::new(),
            state: serde_json::from_value(state).unwrap(),
        }
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
        let state = json!({
            "v1": {"metas": [{"phx_ref": "a", "role": "viewer", "joined_at": 10}]},
            "c1": {"metas": [{"phx_ref": "b", "role": "controller", "joined_at": 5, "profile": "enc"}]},
            "h": {"metas": [{"phx_ref": "c", "role": "host", "joined_at": 20}]}
        });
        let mut roster = Roster::new();
        let events = roster.apply(&sync(state.clone(), state));
        assert_eq!(ids(&roster), ["h", "c1", "v1"]);
        assert!(matches!(&events[0], RosterEvent::Joined(p) if p.id == "h"));
        assert_eq!(events.len(), 3);
        assert_eq!(roster.get("c1").unwrap().profile, json!("enc"));
        assert_eq!(roster.get("v1").unwrap().profile, Value::Null);
    }

    #[test]
    fn invalid_metas_are_ignored_and_counted_and_the_newest_valid_meta_wins() {
        let state = json!({
            "bad": {"metas": [{"phx_ref": "1", "role": "admin", "joined_at": 1}]},
            "neg": {"metas": [{"phx_ref": "2", "role": "viewer", "joined_at": -1}]},
            "p": {"metas": [
                {"phx_ref": "3", "role": "viewer", "joined_at": 1},
                {"phx_ref": "4", "role": "controller", "joined_at": 2},
                {"phx_ref": "5", "role": "viewer"}
            ]}
        });
        let mut roster = Roster::new();
        roster.apply(&sync(state.clone(), state));
        assert_eq!(ids(&roster), ["p"]);
        assert_eq!(roster.get("p").unwrap().role, Role::Controller);
        assert_eq!(roster.invalid_metas(), 3);
    }

    #[test]
    fn a_resent_state_yields_no_duplicates_and_reports_changes() {
        let mut roster = Roster::new();
        let first = json!({
            "a": {"metas": [{"phx_ref": "1", "role": "host", "joined_at": 1}]},
            "b": {"metas": [{"phx_ref": "2", "role": "viewer", "joined_at": 2}]}
        });
        roster.apply(&sync(first.clone(), first));
        // After a reconnect: a tracked again (new phx_ref, same data), b gone, c new, and a
        // second meta for a from the old socket still there.
        let second = json!({
            "a": {"metas": [
                {"phx_ref": "1", "role": "host", "joined_at": 1},
                {"phx_ref": "9", "role": "host", "joined_at": 1}
            ]},
            "c": {"metas": [{"phx_ref": "3", "role": "viewer", "joined_at": 3, "profile": {"n": 1}}]}
        });
        let events = roster.replace(&serde_json::from_value(second).unwrap());
        assert_eq!(ids(&roster), ["a", "c"]);
        assert_eq!(events.len(), 2);
        assert!(matches!(&events[0], RosterEvent::Left(p) if p.id == "b"));
        assert!(matches!(&events[1], RosterEvent::Joined(p) if p.id == "c"));
        let third = json!({
            "a": {"metas": [{"phx_ref": "9", "role": "host", "joined_at": 1}]},
            "c": {"metas": [{"phx_ref": "4", "role": "controller", "joined_at": 3, "profile": {"n": 1}}]}
        });
        let events = roster.replace(&serde_json::from_value(third).unwrap());
        assert_eq!(events.len(), 1);
        assert!(matches!(&events[0], RosterEvent::Updated(p) if p.role == Role::Controller));
    }

    #[test]
    fn to_meta_round_trips() {
        let me = Participant {
            id: "me".into(),
            role: Role::Controller,
            joined_at: 1_700_000_000_000,
            profile: json!("sealed"),
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

    #[test]
    fn profiles_that_do_not_open_drop_their_participant() {
        let mut roster = Roster::new();
        roster.apply(&sync(
            json!({}),
            json!({
                "a": {"metas": [{"phx_ref": "1", "role": "host", "joined_at": 1, "profile": "sealed-a"}]},
                "b": {"metas": [{"phx_ref": "2", "role": "viewer", "joined_at": 2, "profile": "forged"}]}
            }),
        ));
        let dropped = roster
            .open_profiles(|p| (p.profile == json!("sealed-a")).then(|| json!({"name": "Ada"})));
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].id, "b");
        assert_eq!(ids(&roster), ["a"]);
        assert_eq!(roster.get("a").unwrap().profile, json!({"name": "Ada"}));
    }
}
