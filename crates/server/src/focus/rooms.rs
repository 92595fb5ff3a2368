//! A session's VideoRoom on its node, and tokens for it.
//!
//! The room's id, pin and secret are stored per (session, node) — get-or-insert, so focus
//! processes sharing a database agree on them. Before each token the node is asked whether the
//! room `exists` (a restarted Janus has no rooms, and another process may have made it); a
//! missing room is created again with the stored values. Within one process, requests for the
//! same (session, node) are serialised so they never race each other's `create`.
//!
//! A token is made per client address and session on a node, and an address asking again gets
//! the one it has (added on the node again: a restarted Janus lost it, and Janus takes a token
//! it has as a success). Every token is recorded in the store before Janus gets it; when the
//! session closes for idling, [`teardown`] removes its tokens and then destroys its rooms (best
//! effort: a node that is down lost them anyway when it died, since neither outlives a Janus
//! process).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use pairux_core::access::SfuGrant;
use pairux_core::janus::admin::{
    AdminOutcome, AdminRequest, RoomSpec, VideoRoomReply, VIDEOROOM, VIDEOROOM_NO_SUCH_ROOM,
    VIDEOROOM_ROOM_EXISTS,
};
use pairux_core::link::SessionId;
use serde_json::json;

use super::nodes::NodeEntry;
use super::store::{ClosedSession, RoomRow, Store, StoreError, TokenSlot};
use super::FocusService;
use crate::sfu::admin::{AdminClient, AdminError};

/// Most publishers in one room: the host's screen, and one voice feed per participant whose
/// microphone is on (in SFU mode every speaker publishes its own; a muted one publishes
/// nothing), so fifteen people may have their microphones on at once.
const PUBLISHERS: u32 = 16;
/// Cap of each publisher's bitrate, bits/s.
const BITRATE: u32 = 4_000_000;
/// Most (session, node) locks kept; older ones are dropped when unused.
const MAX_LOCKS: usize = 10_000;

/// Why no room or token could be had.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error("admin call failed: {0}")]
    Admin(#[from] AdminError),
    #[error("unexpected VideoRoom answer")]
    Unexpected,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The session holds as many tokens on the node as it may (`store::MAX_TOKENS`).
    #[error("too many tokens for this session")]
    TooManyTokens,
}

type Lock = Arc<tokio::sync::Mutex<()>>;

/// One lock per (session, node).
#[derive(Default)]
pub struct RoomLocks(Mutex<HashMap<(SessionId, String), Lock>>);

impl RoomLocks {
    fn get(&self, session: &SessionId, node: &str) -> Lock {
        let mut locks = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if locks.len() > MAX_LOCKS {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        locks
            .entry((*session, node.to_owned()))
            .or_default()
            .clone()
    }
}

/// Makes sure the session's room exists on `node`.
async fn ensure(
    locks: &RoomLocks,
    store: &Store,
    session: &SessionId,
    node: &NodeEntry,
) -> Result<(RoomRow, AdminClient), RoomError> {
    let lock = locks.get(session, &node.id);
    let _held = lock.lock().await;
    let fresh = RoomRow {
        room: crate::random::id53(),
        pin: crate::random::token(16),
        secret: crate::random::token(24),
    };
    let row = store.room(session, &node.id, fresh).await?;
    let admin = node.admin();
    let exists = admin
        .call(&AdminRequest::MessagePlugin {
            plugin: VIDEOROOM.into(),
            request: json!({ "request": "exists", "room": row.room }),
        })
        .await?;
    let exists = matches!(
        &exists,
        AdminOutcome::Success { response: Some(r), .. } if r.get("exists") == Some(&json!(true))
    );
    if !exists {
        let spec = RoomSpec {
            room: row.room,
            secret: row.secret.clone(),
            pin: row.pin.clone(),
            publishers: PUBLISHERS,
            bitrate: BITRATE,
        };
        let outcome = admin.call(&spec.create(&node.admin_key)).await?;
        let AdminOutcome::Success {
            response: Some(response),
            ..
        } = outcome
        else {
            return Err(RoomError::Unexpected);
        };
        match VideoRoomReply::from_response(&response) {
            VideoRoomReply::Created { room } if room == row.room => {}
            // Another focus process made it a moment ago: the same stored values.
            VideoRoomReply::Error { code, .. } if code == VIDEOROOM_ROOM_EXISTS => {}
            VideoRoomReply::Error { code, reason } => {
                return Err(RoomError::Admin(AdminError::Janus { code, reason }))
            }
            _ => return Err(RoomError::Unexpected),
        }
    }
    Ok((row, admin))
}

/// The session's room on `node` (made when missing) and `client`'s token for it (an opaque
/// key of the asking address: the token it was given before, else a fresh one).
pub async fn ticket(
    locks: &RoomLocks,
    store: &Store,
    session: &SessionId,
    node: &NodeEntry,
    client: &str,
) -> Result<SfuGrant, RoomError> {
    let (row, admin) = ensure(locks, store, session, node).await?;
    let fresh = crate::random::token(24);
    let token = match store.token_for(session, &node.id, client, &fresh).await? {
        TokenSlot::Full => return Err(RoomError::TooManyTokens),
        TokenSlot::Held(token) => token,
        TokenSlot::Added => fresh,
    };
    // A token the node does not take (it is down) stays the client's: its next request adds
    // it again. (Taking the row back could strand it on the node: a request of the same
    // address running beside this one may have added it there meanwhile.)
    admin
        .call(&AdminRequest::AddToken {
            token: token.clone(),
            plugins: vec![VIDEOROOM.into()],
        })
        .await?;
    Ok(SfuGrant {
        janus_url: node.janus_url.clone(),
        room: row.room,
        pin: row.pin,
        token,
    })
}

/// Makes the room in the background (after a decision, before anyone asks).
pub(crate) fn prepare_later(focus: &FocusService, session: SessionId, node: NodeEntry) {
    let Some(focus) = focus.me.upgrade() else {
        return;
    };
    tokio::spawn(async move {
        if let Err(err) = ensure(&focus.rooms, &focus.store, &session, &node).await {
            tracing::debug!("focus: room on {} not prepared: {err}", node.id);
        }
    });
}

/// Removes a closed session's tokens and destroys its rooms on their nodes (best effort), in
/// that order: once a room is gone no token of the session can open anything on the node.
/// Returns how many calls failed.
pub(crate) async fn teardown(nodes: &[NodeEntry], closed: ClosedSession) -> usize {
    let mut failed = 0;
    let node = |id: &str| nodes.iter().find(|n| n.id == id);
    for (id, token) in closed.tokens {
        let Some(entry) = node(&id) else { continue };
        if entry
            .admin()
            .call(&AdminRequest::RemoveToken { token })
            .await
            .is_err()
        {
            failed += 1;
        }
    }
    for (id, row) in closed.rooms {
        let Some(entry) = node(&id) else { continue };
        let spec = RoomSpec {
            room: row.room,
            secret: row.secret,
            pin: row.pin,
            publishers: PUBLISHERS,
            bitrate: BITRATE,
        };
        let destroyed = match entry.admin().call(&spec.destroy()).await {
            Ok(AdminOutcome::Success {
                response: Some(r), ..
            }) => matches!(
                VideoRoomReply::from_response(&r),
                VideoRoomReply::Destroyed
                    | VideoRoomReply::Error {
                        code: VIDEOROOM_NO_SUCH_ROOM,
                        ..
                    }
            ),
            _ => false,
        };
        if !destroyed {
            failed += 1;
            tracing::debug!("focus: a closed session's room on {id} was not destroyed");
        }
    }
    failed
}
