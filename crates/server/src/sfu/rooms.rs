//! Which room each session has, on which node and node epoch, and the tokens handed out for it.
//!
//! A room is created on a session's first SFU request (VideoRoom `create` with the plugin's
//! `admin_key`, through the Admin API) and reused while its node runs the same process (epoch):
//! a restarted Janus has no rooms and no tokens, so an entry of an older epoch is forgotten and
//! the next request creates the room again. Requests of one session are serialised by the
//! session's own lock, so concurrent requests never create two rooms.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pairux_core::janus::admin::{
    AdminOutcome, AdminRequest, RoomSpec, VideoRoomReply, VIDEOROOM, VIDEOROOM_ROOM_EXISTS,
};
use pairux_core::link::SessionId;

use super::admin::{AdminClient, AdminError};

/// Most publishers in one room (the host's screen, plus room for a few).
const PUBLISHERS: u32 = 4;
/// Cap of each publisher's bitrate, bits/s.
const BITRATE: u32 = 4_000_000;

/// One session's room.
pub struct Room {
    pub node: usize,
    pub epoch: u64,
    pub spec: RoomSpec,
    /// Tokens added for this room (removed when the session is forgotten).
    pub tokens: Vec<String>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Room>>>;

/// Rooms by session.
#[derive(Default)]
pub struct Rooms {
    slots: Mutex<HashMap<SessionId, (Slot, Instant)>>,
}

/// Why no room or token could be had.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error("admin call failed: {0}")]
    Admin(#[from] AdminError),
    #[error("unexpected VideoRoom answer")]
    Unexpected,
}

/// A room and a fresh token for it.
pub struct Ticket {
    pub room: u64,
    pub pin: String,
    pub token: String,
}

impl Rooms {
    fn slot(&self, session: SessionId) -> Slot {
        let mut slots = self.slots.lock().expect("rooms lock");
        let entry = slots
            .entry(session)
            .or_insert_with(|| (Slot::default(), Instant::now()));
        entry.1 = Instant::now();
        entry.0.clone()
    }

    /// The session's room on `node` at `epoch` (created when missing or stale) and a new token
    /// allowed to use the VideoRoom.
    pub async fn ticket(
        &self,
        session: SessionId,
        node: usize,
        epoch: u64,
        admin: &AdminClient,
        admin_key: &str,
    ) -> Result<Ticket, RoomError> {
        let slot = self.slot(session);
        let mut room = slot.lock().await;
        let current = room
            .as_ref()
            .is_some_and(|r| r.node == node && r.epoch == epoch);
        if !current {
            // A room on another node (or an older process) is left to that node: a restarted
            // Janus has none, and a node the focus moved away from destroys it with its session.
            *room = Some(Room {
                node,
                epoch,
                spec: create_room(admin, admin_key).await?,
                tokens: Vec::new(),
            });
        }
        let room = room.as_mut().expect("set above");
        let token = crate::random::token(24);
        admin
            .call(&AdminRequest::AddToken {
                token: token.clone(),
                plugins: vec![VIDEOROOM.into()],
            })
            .await?;
        room.tokens.push(token.clone());
        Ok(Ticket {
            room: room.spec.room,
            pin: room.spec.pin.clone(),
            token,
        })
    }

    /// Forgets sessions unused for `idle`; returns their rooms (to destroy, if their node still
    /// runs the epoch they were made on).
    pub fn take_idle(&self, idle: Duration) -> Vec<Room> {
        let mut slots = self.slots.lock().expect("rooms lock");
        let mut gone = Vec::new();
        slots.retain(|_, (slot, used)| {
            if used.elapsed() < idle {
                return true;
            }
            // In use right now: keep it for the next round.
            let Ok(mut room) = slot.try_lock() else {
                return true;
            };
            gone.extend(room.take());
            false
        });
        gone
    }

    /// Number of sessions with a room slot.
    pub fn len(&self) -> usize {
        self.slots.lock().expect("rooms lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

async fn create_room(admin: &AdminClient, admin_key: &str) -> Result<RoomSpec, RoomError> {
    for _ in 0..3 {
        let spec = RoomSpec {
            room: crate::random::id53(),
            secret: crate::random::token(24),
            pin: crate::random::token(16),
            publishers: PUBLISHERS,
            bitrate: BITRATE,
        };
        let outcome = admin.call(&spec.create(admin_key)).await?;
        let AdminOutcome::Success {
            response: Some(response),
            ..
        } = outcome
        else {
            return Err(RoomError::Unexpected);
        };
        match VideoRoomReply::from_response(&response) {
            VideoRoomReply::Created { room } if room == spec.room => return Ok(spec),
            VideoRoomReply::Error { code, .. } if code == VIDEOROOM_ROOM_EXISTS => continue,
            VideoRoomReply::Error { code, reason } => {
                return Err(RoomError::Admin(AdminError::Janus { code, reason }))
            }
            _ => return Err(RoomError::Unexpected),
        }
    }
    Err(RoomError::Unexpected)
}

/// Destroys a forgotten room and removes its tokens (best effort: the node may be gone).
pub async fn destroy(room: Room, admin: &AdminClient) {
    let _ = admin.call(&room.spec.destroy()).await;
    for token in room.tokens {
        let _ = admin.call(&AdminRequest::RemoveToken { token }).await;
    }
}
