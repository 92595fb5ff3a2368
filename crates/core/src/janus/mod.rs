//! Janus (the SFU): the client protocol the app speaks to publish and subscribe (`wire`,
//! `client`), and the admin protocol pairux-server speaks to create rooms and tokens (`admin`).
//! Facts from Janus 1.1.2 (reference/janus.md); sans-IO like the Realtime client.

pub mod admin;
pub mod client;
pub mod wire;

pub use client::{JanusClient, JanusEvent, JanusPhase, JanusRole, Output};
pub use wire::{Incoming, Jsep, Problem};
