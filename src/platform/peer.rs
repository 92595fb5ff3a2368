//! `RTCPeerConnection` for one remote participant: the screen track out (host) or in (guest),
//! one data channel, trickle ICE, and the calls perfect negotiation needs. Handlers are owned
//! by [`Peer`] and unset when it is dropped (which also closes the connection).

use std::rc::Rc;

use js_sys::{Array, Object, Reflect};
use pairux_core::config::{ClientConfig, IceServer, IceUrls};
use pairux_core::session::{CandidateInit, Description, SdpKind, SignalingState};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MediaStream, MediaStreamTrack, RtcConfiguration, RtcDataChannel, RtcDataChannelEvent,
    RtcIceCandidateInit, RtcIceServer, RtcIceTransportPolicy, RtcPeerConnection,
    RtcPeerConnectionIceEvent, RtcRtpSender, RtcRtpTransceiverDirection, RtcRtpTransceiverInit,
    RtcSdpType, RtcSessionDescriptionInit, RtcSignalingState, RtcTrackEvent,
};

use super::transform::{self, TransformApi, TransformWorker};
use super::{js_error, JsError};
use pairux_core::e2ee::MediaKind;

/// What a peer connection reports.
pub enum PeerEvent {
    /// Time to (re)offer.
    NegotiationNeeded,
    /// A local candidate to trickle; `None` when gathering is complete.
    Candidate(Option<CandidateInit>),
    /// Remote media arrived.
    Track(MediaStream),
    /// A remote voice arrived (decrypted by the worker like the screen).
    Audio(MediaStreamTrack),
    /// The control data channel opened (`true`) or closed (`false`).
    Channel(bool),
    /// A text message on either data channel.
    Message(String),
    /// `connectionState` changed (`new`, `connecting`, `connected`, `disconnected`, `failed`,
    /// `closed`).
    Connection(String),
}

/// Encoding limits for the screen track.
#[derive(Debug, Clone, Copy)]
pub struct SendQuality {
    pub max_bitrate_bps: u32,
    pub max_framerate: u32,
    /// `scaleResolutionDownBy`: the preset's height over the capture's (≥ 1).
    pub scale_down_by: f64,
}

/// Label of the ordered, reliable channel (control, keys, clicks).
const RELIABLE: &str = "pairux";
/// Label of the unordered, unreliable channel (pointer moves and cursors: only the latest
/// position matters, and a retransmitted stale one would only add latency).
const POINTER: &str = "pairux-pointer";
/// The subscriber's own channel towards Janus (see [`Peer::open_sfu_ready_channel`]).
const SFU_READY: &str = "pairux-sfu";

/// The ICE servers and policy a connection uses: config.json's, then the access grant's (with
/// TURN credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceSetup {
    pub servers: Vec<IceServer>,
    /// `iceTransportPolicy: "relay"`.
    pub relay_only: bool,
}

impl IceSetup {
    pub fn from_config(config: &ClientConfig) -> Self {
        IceSetup {
            servers: config.ice_servers.clone(),
            relay_only: config.relay_only,
        }
    }

    fn servers_js(&self) -> Array {
        let servers = Array::new();
        for server in &self.servers {
            let urls: JsValue = match &server.urls {
                IceUrls::One(url) => JsValue::from_str(url),
                IceUrls::Many(urls) => urls
                    .iter()
                    .map(|u| JsValue::from_str(u))
                    .collect::<Array>()
                    .into(),
            };
            let ice = RtcIceServer::new();
            ice.set_urls(&urls);
            if let Some(u) = &server.username {
                ice.set_username(u);
            }
            if let Some(c) = &server.credential {
                ice.set_credential(c);
            }
            servers.push(&ice);
        }
        servers
    }

    /// The policy as `RTCConfiguration` spells it.
    fn policy_name(&self) -> &'static str {
        if self.relay_only {
            "relay"
        } else {
            "all"
        }
    }

    fn policy(&self) -> RtcIceTransportPolicy {
        if self.relay_only {
            RtcIceTransportPolicy::Relay
        } else {
            RtcIceTransportPolicy::All
        }
    }
}

/// The connection index.html's boot script made for a guest's page while the wasm downloaded,
/// if it was made with exactly this ICE setup (the config's servers and policy, as a P2P
/// link's first configuration is): the first such connection of a page takes it. Never given
/// another configuration instead: Chrome fires `negotiationneeded` on a fresh connection whose
/// ICE servers or policy change, and a guest would then offer an empty description that fails
/// under max-bundle, and the host's offer with it. One made for anything else is closed.
/// (A P2P link gives its connection the granted TURN servers later, right before its first
/// answer: while an offer is being answered, a change fires nothing — keep it there.)
fn adopt_early_peer(ice: &IceSetup, api: TransformApi) -> Option<RtcPeerConnection> {
    let pc = take_early_peer()?;
    // The construction flag the other API needs cannot be added later.
    if api.needs_insertable_streams()
        || pc.signaling_state() != RtcSignalingState::Stable
        || !made_with(&pc, ice)
    {
        pc.close();
        return None;
    }
    Some(pc)
}

/// Whether `pc`'s configuration is max-bundle and holds exactly `ice`'s servers (in order) and
/// policy.
fn made_with(pc: &RtcPeerConnection, ice: &IceSetup) -> bool {
    let config = pc.get_configuration();
    let field = |object: &JsValue, name: &str| Reflect::get(object, &name.into()).ok();
    let text = |object: &JsValue, name: &str| {
        field(object, name)
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    if text(&config, "bundlePolicy") != "max-bundle"
        || text(&config, "iceTransportPolicy") != ice.policy_name()
    {
        return false;
    }
    let Some(servers) = field(&config, "iceServers").and_then(|v| v.dyn_into::<Array>().ok())
    else {
        return false;
    };
    servers.length() as usize == ice.servers.len()
        && ice.servers.iter().zip(servers.iter()).all(|(want, got)| {
            // Chrome gives `urls` back as a list; other browsers as they were given.
            let urls: Vec<String> = match field(&got, "urls") {
                Some(v) if v.is_string() => v.as_string().into_iter().collect(),
                Some(v) => v
                    .dyn_into::<Array>()
                    .map(|a| a.iter().filter_map(|u| u.as_string()).collect())
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            let want_urls = match &want.urls {
                IceUrls::One(url) => std::slice::from_ref(url),
                IceUrls::Many(urls) => urls.as_slice(),
            };
            urls == want_urls
                && text(&got, "username") == want.username.as_deref().unwrap_or_default()
                && text(&got, "credential") == want.credential.as_deref().unwrap_or_default()
        })
}

/// Closes the connection index.html's boot script made, if no connection took it (a link
/// that cannot be used).
pub fn discard_early_peer() {
    if let Some(pc) = take_early_peer() {
        pc.close();
    }
}

/// The connection index.html's boot script left on `window`, taken once.
fn take_early_peer() -> Option<RtcPeerConnection> {
    super::dom::take_boot_global("__pairuxEarlyPeer")?
        .dyn_into()
        .ok()
}

pub struct Peer {
    pc: RtcPeerConnection,
    worker: Rc<TransformWorker>,
    channel: std::cell::RefCell<Option<RtcDataChannel>>,
    pointer: std::cell::RefCell<Option<RtcDataChannel>>,
    sfu_ready: std::cell::RefCell<Option<RtcDataChannel>>,
    /// Subscriber on the SFU: the label of the channel Janus relays the publisher's data on.
    sfu_feed: std::cell::RefCell<Option<String>>,
    /// Our side of the voice transceiver, once there is one (host: made with the connection;
    /// guest: the host's offer brings it). Its sending transform is attached before any track.
    voice: Rc<std::cell::RefCell<Option<RtcRtpSender>>>,
    /// Host: the sender of our own voice (`set_host_voice`).
    host_voice: std::cell::RefCell<Option<RtcRtpSender>>,
    /// Whose media this connection decrypts (named late for a host's spare connection).
    remote: Rc<std::cell::RefCell<String>>,
    /// Whether the voice sender's encrypting transform is attached (nothing is put on it
    /// before).
    voice_encrypting: std::cell::Cell<bool>,
    /// The host opens both channels itself and adopts none the other side opens.
    opens_channels: std::cell::Cell<bool>,
    /// Channels the other side opened that we closed unread.
    refused_channels: std::cell::Cell<u64>,
    on_event: Rc<dyn Fn(PeerEvent)>,
    _handlers: Vec<Handler>,
    channel_handlers: std::cell::RefCell<Vec<Handler>>,
}

impl Peer {
    /// A connection to participant `remote`. Media is end-to-end encrypted through the page's
    /// transform worker; a browser that cannot transform encoded frames gets no connection
    /// (fail closed: nothing is ever sent or shown in clear).
    pub fn new(
        ice: &IceSetup,
        remote: &str,
        on_event: impl Fn(PeerEvent) + 'static,
    ) -> Result<Rc<Peer>, JsError> {
        let worker = transform::page_worker()?;
        if worker.api() == TransformApi::Unsupported {
            return Err(JsError(
                "this browser cannot encrypt media end to end".to_owned(),
            ));
        }
        let rtc = RtcConfiguration::new();
        worker.api().configure(&rtc);
        rtc.set_ice_servers(&ice.servers_js());
        rtc.set_ice_transport_policy(ice.policy());
        // One transport for everything (both ends are this app, or Janus, which bundles): one
        // set of candidates to gather, send and check instead of one per kind of media.
        set(&rtc, "bundlePolicy", &"max-bundle".into());
        let pc = match adopt_early_peer(ice, worker.api()) {
            Some(pc) => pc,
            None => RtcPeerConnection::new_with_configuration(&rtc).map_err(js_error)?,
        };
        let on_event: Rc<dyn Fn(PeerEvent)> = Rc::new(on_event);

        let mut handlers = Vec::new();
        let cb = on_event.clone();
        handlers.push(handler(move |_| cb(PeerEvent::NegotiationNeeded)));
        pc.set_onnegotiationneeded(Some(handlers[0].as_ref().unchecked_ref()));

        let cb = on_event.clone();
        handlers.push(handler(move |ev| {
            let ev: RtcPeerConnectionIceEvent = ev.unchecked_into();
            let candidate = ev.candidate().map(|c| CandidateInit {
                candidate: c.candidate(),
                sdp_mid: c.sdp_mid(),
                sdp_m_line_index: c.sdp_m_line_index(),
            });
            // An empty candidate string is the legacy end-of-candidates marker.
            let candidate = candidate.filter(|c| !c.candidate.is_empty());
            cb(PeerEvent::Candidate(candidate));
        }));
        pc.set_onicecandidate(Some(handlers[1].as_ref().unchecked_ref()));

        let cb = on_event.clone();
        let remote = Rc::new(std::cell::RefCell::new(remote.to_owned()));
        let (decrypt, from) = (worker.clone(), remote.clone());
        let voice: Rc<std::cell::RefCell<Option<RtcRtpSender>>> = Rc::default();
        let voice_slot = voice.clone();
        handlers.push(handler(move |ev| {
            let ev: RtcTrackEvent = ev.unchecked_into();
            if ev.track().kind() == "audio" {
                // Voice: decrypt what comes in (attached now, before any frame). On the guest's
                // side the host's offer made the transceiver and we answer sendrecv; our
                // encrypting transform waits for the first microphone track (`set_voice`), so
                // the worker sets up the picture's transforms first.
                let sender = from.borrow().clone();
                if let Err(err) = decrypt.attach_receiver(&ev.receiver(), &sender, MediaKind::Audio)
                {
                    leptos::logging::error!("cannot decrypt this voice, not playing it: {err}");
                    return;
                }
                let mut slot = voice_slot.borrow_mut();
                if slot.is_none() {
                    let transceiver = ev.transceiver();
                    transceiver.set_direction(RtcRtpTransceiverDirection::Sendrecv);
                    *slot = Some(transceiver.sender());
                }
                drop(slot);
                cb(PeerEvent::Audio(ev.track()));
                return;
            }
            // Attached here, synchronously, before any frame is decoded: receiver transforms
            // attached right after addTransceiver are sometimes never invoked in Chrome.
            low_latency(&ev.receiver());
            let sender = from.borrow().clone();
            if let Err(err) = decrypt.attach_receiver(&ev.receiver(), &sender, MediaKind::Video) {
                leptos::logging::error!("cannot decrypt this track, not showing it: {err}");
                return;
            }
            let stream = ev
                .streams()
                .get(0)
                .dyn_into::<MediaStream>()
                .ok()
                .or_else(|| {
                    let s = MediaStream::new().ok()?;
                    s.add_track(&ev.track());
                    Some(s)
                });
            if let Some(stream) = stream {
                cb(PeerEvent::Track(stream));
            }
        }));
        pc.set_ontrack(Some(handlers[2].as_ref().unchecked_ref()));

        let cb = on_event.clone();
        let pc_for_state = pc.clone();
        handlers.push(handler(move |_| {
            cb(PeerEvent::Connection(string_prop(
                &pc_for_state,
                "connectionState",
            )));
        }));
        pc.set_onconnectionstatechange(Some(handlers[3].as_ref().unchecked_ref()));

        let peer = Rc::new(Peer {
            pc,
            worker,
            channel: Default::default(),
            pointer: Default::default(),
            sfu_ready: Default::default(),
            sfu_feed: Default::default(),
            voice,
            host_voice: Default::default(),
            remote,
            voice_encrypting: Default::default(),
            opens_channels: Default::default(),
            refused_channels: Default::default(),
            on_event,
            _handlers: handlers,
            channel_handlers: Default::default(),
        });
        // The guest's data channels arrive from the host: exactly the two the protocol names,
        // once each. The host adopts none (a guest could otherwise open channels at will).
        let weak = Rc::downgrade(&peer);
        let on_dc = handler(move |ev| {
            let ev: RtcDataChannelEvent = ev.unchecked_into();
            let channel = ev.channel();
            let Some(peer) = weak.upgrade() else {
                channel.close();
                return;
            };
            let label = channel.label();
            // Janus labels the data it relays with the publisher's feed id.
            let relayed = peer.sfu_feed.borrow().as_deref() == Some(label.as_str());
            let slot_free = match label.as_str() {
                RELIABLE => peer.channel.borrow().is_none(),
                POINTER => peer.pointer.borrow().is_none(),
                _ if relayed => peer.pointer.borrow().is_none(),
                _ => false,
            };
            if peer.opens_channels.get() || !slot_free {
                peer.refused_channels.set(peer.refused_channels.get() + 1);
                leptos::logging::warn!("closed a data channel the other side opened ({label})");
                channel.close();
                return;
            }
            let pointer = relayed || label == POINTER;
            peer.adopt_channel(channel, pointer);
        });
        peer.pc
            .set_ondatachannel(Some(on_dc.as_ref().unchecked_ref()));
        peer.channel_handlers.borrow_mut().push(on_dc);
        Ok(peer)
    }

    /// Host: sends `track` (sendonly, VP8 first, encoder tuned for text), opens the data channel.
    pub fn send_screen(
        &self,
        stream: &MediaStream,
        track: &MediaStreamTrack,
        quality: SendQuality,
    ) -> Result<(), JsError> {
        let init = RtcRtpTransceiverInit::new();
        init.set_direction(RtcRtpTransceiverDirection::Sendonly);
        init.set_streams(&Array::of1(stream));
        let encoding = Object::new();
        set(
            &encoding,
            "maxBitrate",
            &JsValue::from(quality.max_bitrate_bps),
        );
        set(
            &encoding,
            "maxFramerate",
            &JsValue::from(quality.max_framerate),
        );
        set(
            &encoding,
            "scaleResolutionDownBy",
            &JsValue::from(quality.scale_down_by),
        );
        init.set_send_encodings(&Array::of1(&encoding));
        let transceiver = self.add_encrypted(track, &init, MediaKind::Video)?;
        prefer_vp8(&transceiver);
        keep_resolution(&transceiver.sender());
        Ok(())
    }

    /// Adds a transceiver sending `track` with its encrypting transform attached before any
    /// negotiation, so not one frame leaves unencrypted; without the transform, no transceiver.
    fn add_encrypted(
        &self,
        track: &MediaStreamTrack,
        init: &RtcRtpTransceiverInit,
        media: MediaKind,
    ) -> Result<web_sys::RtcRtpTransceiver, JsError> {
        self.encrypted(
            self.pc
                .add_transceiver_with_media_stream_track_and_init(track, init),
            media,
        )
    }

    /// `transceiver` with its sender's encrypting transform attached; stopped if it cannot be.
    fn encrypted(
        &self,
        transceiver: web_sys::RtcRtpTransceiver,
        media: MediaKind,
    ) -> Result<web_sys::RtcRtpTransceiver, JsError> {
        if let Err(err) = self.worker.attach_sender(&transceiver.sender(), media) {
            transceiver.stop();
            return Err(err);
        }
        Ok(transceiver)
    }

    /// Names the participant this connection is with (a spare made before anyone came): what
    /// arrives on it is decrypted as theirs. Before any track arrives, that is, before the
    /// other side's answer.
    pub fn set_remote(&self, id: &str) {
        *self.remote.borrow_mut() = id.to_owned();
    }

    /// Host: the voice transceiver before anyone's mix exists (a spare connection): sendrecv,
    /// no track yet, its encrypting transform attached; [`Self::set_voice`] puts the mix on it
    /// without a renegotiation.
    pub fn send_voice_later(&self) -> Result<(), JsError> {
        if self.voice.borrow().is_some() {
            return Ok(());
        }
        let init = RtcRtpTransceiverInit::new();
        init.set_direction(RtcRtpTransceiverDirection::Sendrecv);
        let transceiver = self.encrypted(
            self.pc.add_transceiver_with_str_and_init("audio", &init),
            MediaKind::Audio,
        )?;
        *self.voice.borrow_mut() = Some(transceiver.sender());
        self.voice_encrypting.set(true);
        Ok(())
    }

    /// Host: the voice transceiver (sendrecv): `track` is the mix this participant hears; what
    /// they say comes back on the same transceiver. Once per connection.
    pub fn send_voice(&self, track: &MediaStreamTrack) -> Result<(), JsError> {
        if self.voice.borrow().is_some() {
            return Ok(());
        }
        let init = RtcRtpTransceiverInit::new();
        init.set_direction(RtcRtpTransceiverDirection::Sendrecv);
        let transceiver = self.add_encrypted(track, &init, MediaKind::Audio)?;
        *self.voice.borrow_mut() = Some(transceiver.sender());
        self.voice_encrypting.set(true);
        Ok(())
    }

    /// Voice publisher on the SFU: `track` is our microphone, sent only (one Opus m-line),
    /// its encrypting transform attached before any negotiation.
    pub fn publish_voice(&self, track: &MediaStreamTrack) -> Result<(), JsError> {
        let init = RtcRtpTransceiverInit::new();
        init.set_direction(RtcRtpTransceiverDirection::Sendonly);
        self.add_encrypted(track, &init, MediaKind::Audio)?;
        Ok(())
    }

    /// Host: our own microphone on this connection (`None`: off, or heard through the SFU
    /// now), on a voice transceiver of its own (send only), straight from the capture — the mix
    /// on [`Self::send_voice`]'s carries everyone else. The transceiver is added the first time
    /// there is a microphone (a renegotiation; a connection made while the microphone is off
    /// has one m-line fewer to set up before its first frame), its encrypting transform
    /// attached before any negotiation.
    pub async fn set_host_voice(&self, track: Option<&MediaStreamTrack>) -> Result<(), JsError> {
        let sender = self.host_voice.borrow().clone();
        match (sender, track) {
            (Some(sender), track) => JsFuture::from(sender.replace_track(track))
                .await
                .map(|_| ())
                .map_err(js_error),
            (None, Some(track)) => {
                let init = RtcRtpTransceiverInit::new();
                init.set_direction(RtcRtpTransceiverDirection::Sendonly);
                let transceiver = self.add_encrypted(track, &init, MediaKind::Audio)?;
                *self.host_voice.borrow_mut() = Some(transceiver.sender());
                Ok(())
            }
            (None, None) => Ok(()),
        }
    }

    /// Whether this connection carries voice yet.
    pub fn has_voice(&self) -> bool {
        self.voice.borrow().is_some()
    }

    /// Guest: what we say (`None`: the microphone is off, nothing is sent). No renegotiation.
    pub async fn set_voice(&self, track: Option<&MediaStreamTrack>) -> Result<(), JsError> {
        let sender = self.voice.borrow().clone();
        let Some(sender) = sender else {
            return Err(JsError("this connection has no voice yet".into()));
        };
        if track.is_some() && !self.voice_encrypting.get() {
            // Before the first track: not one frame leaves unencrypted.
            self.worker.attach_sender(&sender, MediaKind::Audio)?;
            self.voice_encrypting.set(true);
        }
        JsFuture::from(sender.replace_track(track))
            .await
            .map(|_| ())
            .map_err(js_error)
    }

    /// Senders of the screen (every sender but the voices').
    fn video_senders(&self) -> Vec<RtcRtpSender> {
        let (voice, host_voice) = (self.voice.borrow(), self.host_voice.borrow());
        self.pc
            .get_senders()
            .iter()
            .map(|s| s.unchecked_into::<RtcRtpSender>())
            .filter(|s| !voice.as_ref().is_some_and(|v| Object::is(v, s)))
            .filter(|s| !host_voice.as_ref().is_some_and(|v| Object::is(v, s)))
            .collect()
    }

    /// Host: opens the two data channels (before any media, so control works at once).
    pub fn open_channels(&self) {
        self.opens_channels.set(true);
        self.adopt_channel(self.pc.create_data_channel(RELIABLE), false);
        self.open_pointer_channel();
    }

    /// Publisher on the SFU: only the unordered pointer channel (sealed cursors for viewers;
    /// Janus relays it to every subscriber of the feed). The host's P2P links open it too.
    pub fn open_pointer_channel(&self) {
        self.opens_channels.set(true);
        let init = web_sys::RtcDataChannelInit::new();
        init.set_ordered(false);
        init.set_max_retransmits(0);
        self.adopt_channel(
            self.pc
                .create_data_channel_with_data_channel_dict(POINTER, &init),
            true,
        );
    }

    /// Subscriber on the SFU: Janus relays the publisher's data to a subscriber only once a
    /// channel of that subscriber is open, so open one (never used; the relayed
    /// `pairux-pointer` arrives as a channel Janus opens, adopted like the host's).
    pub fn open_sfu_ready_channel(&self, feed: u64) {
        *self.sfu_feed.borrow_mut() = Some(feed.to_string());
        let channel = self.pc.create_data_channel(SFU_READY);
        *self.sfu_ready.borrow_mut() = Some(channel);
    }

    /// Replaces the ICE servers and policy before gathering starts (TURN credentials that
    /// arrived after the connection was made).
    pub fn set_ice(&self, ice: &IceSetup) -> Result<(), JsError> {
        let rtc = self.pc.get_configuration();
        rtc.set_ice_servers(&ice.servers_js());
        rtc.set_ice_transport_policy(ice.policy());
        call(&self.pc, "setConfiguration", Some(&rtc)).map(drop)
    }

    /// `restartIce()`: the next offer gathers anew (perfect negotiation sends it).
    pub fn restart_ice(&self) {
        if let Err(err) = call(&self.pc, "restartIce", None) {
            leptos::logging::warn!("restartIce: {err}");
        }
    }

    /// `connectionState` now.
    pub fn connection_state(&self) -> String {
        string_prop(&self.pc, "connectionState")
    }

    /// Swaps the shared track (e.g. after sharing again) without renegotiating.
    pub async fn replace_track(&self, track: &MediaStreamTrack) -> Result<(), JsError> {
        for sender in self.video_senders() {
            JsFuture::from(sender.replace_track(Some(track)))
                .await
                .map_err(js_error)?;
        }
        Ok(())
    }

    /// Stops sending media on this connection (no renegotiation; the data channels stay).
    pub async fn stop_sending(&self) -> Result<(), JsError> {
        for sender in self.video_senders() {
            JsFuture::from(sender.replace_track(None))
                .await
                .map_err(js_error)?;
        }
        Ok(())
    }

    /// Changes the encoder's bitrate ceiling and scale on the fly (no renegotiation).
    pub async fn set_send(&self, quality: SendQuality) -> Result<(), JsError> {
        for sender in self.video_senders() {
            if sender.track().is_none() {
                continue; // a controller's connection after the picture moved to the SFU
            }
            let params: JsValue = sender.get_parameters().into();
            if let Ok(encodings) = Reflect::get(&params, &"encodings".into()) {
                for e in Array::from(&encodings).iter() {
                    set(&e, "maxBitrate", &JsValue::from(quality.max_bitrate_bps));
                    set(
                        &e,
                        "scaleResolutionDownBy",
                        &JsValue::from(quality.scale_down_by),
                    );
                }
            }
            JsFuture::from(sender.set_parameters_with_parameters(params.unchecked_ref()))
                .await
                .map_err(js_error)?;
        }
        Ok(())
    }

    pub fn signaling_state(&self) -> SignalingState {
        SignalingState::parse(&string_prop(&self.pc, "signalingState"))
    }

    /// The local description as it is now, with the candidates gathered since it was set.
    pub fn current_local_description(&self) -> Option<Description> {
        let local = self.pc.local_description()?;
        let kind = match local.type_() {
            RtcSdpType::Offer => SdpKind::Offer,
            RtcSdpType::Answer => SdpKind::Answer,
            _ => return None,
        };
        Some(Description {
            kind,
            sdp: local.sdp(),
        })
    }

    /// Whether ICE gathering is complete (`iceGatheringState`).
    pub fn gathering_complete(&self) -> bool {
        string_prop(&self.pc, "iceGatheringState") == "complete"
    }

    /// `setLocalDescription()` without arguments (offer or answer as the state requires),
    /// returning what was set.
    pub async fn set_local_description(&self) -> Result<Description, JsError> {
        let f: js_sys::Function = Reflect::get(&self.pc, &"setLocalDescription".into())
            .map_err(js_error)?
            .unchecked_into();
        let promise: js_sys::Promise = f.call0(&self.pc).map_err(js_error)?.unchecked_into();
        JsFuture::from(promise).await.map_err(js_error)?;
        let local = self
            .pc
            .local_description()
            .ok_or_else(|| JsError("no local description".into()))?;
        let kind = match local.type_() {
            RtcSdpType::Offer => SdpKind::Offer,
            RtcSdpType::Answer => SdpKind::Answer,
            _ => return Err(JsError("unexpected local description type".into())),
        };
        Ok(Description {
            kind,
            sdp: local.sdp(),
        })
    }

    /// Takes back an offer of ours the other side never answered (`have-local-offer`): in that
    /// state Chrome starts no negotiation, an ICE restart included.
    pub async fn roll_back(&self) -> Result<(), JsError> {
        let init = RtcSessionDescriptionInit::new(RtcSdpType::Rollback);
        JsFuture::from(self.pc.set_local_description(&init))
            .await
            .map_err(js_error)?;
        Ok(())
    }

    /// Applies the other side's description. An answer is to an offer of ours, so this side may
    /// send the screen: its start bitrate goes into the answer's video parameters first
    /// (`pairux_core::sdp`: the first key frame leaves in tens of ms instead of hundreds). Our
    /// voice goes at a constant bitrate either way (its frames' sizes would follow the words).
    pub async fn set_remote_description(&self, desc: &Description) -> Result<(), JsError> {
        let sdp = pairux_core::sdp::with_constant_voice_bitrate(&desc.sdp);
        let (kind, sdp) = match desc.kind {
            SdpKind::Offer => (RtcSdpType::Offer, sdp),
            SdpKind::Answer => (
                RtcSdpType::Answer,
                pairux_core::sdp::with_video_start_bitrate(
                    &sdp,
                    pairux_core::sdp::SCREEN_START_KBPS,
                ),
            ),
        };
        let init = RtcSessionDescriptionInit::new(kind);
        init.set_sdp(&sdp);
        JsFuture::from(self.pc.set_remote_description(&init))
            .await
            .map(drop)
            .map_err(js_error)
    }

    pub async fn add_ice_candidate(
        &self,
        candidate: Option<&CandidateInit>,
    ) -> Result<(), JsError> {
        let promise = match candidate {
            Some(c) => {
                let init = RtcIceCandidateInit::new(&c.candidate);
                init.set_sdp_mid(c.sdp_mid.as_deref());
                init.set_sdp_m_line_index(c.sdp_m_line_index);
                self.pc
                    .add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init))
            }
            None => self
                .pc
                .add_ice_candidate_with_opt_rtc_ice_candidate_init(None),
        };
        JsFuture::from(promise).await.map(drop).map_err(js_error)
    }

    /// The raw `getStats()` report as (type, stats object) pairs.
    pub async fn stats(&self) -> Result<Vec<(String, JsValue)>, JsError> {
        let report = JsFuture::from(self.pc.get_stats())
            .await
            .map_err(js_error)?;
        let mut out = Vec::new();
        let values: js_sys::Function = Reflect::get(&report, &"values".into())
            .map_err(js_error)?
            .unchecked_into();
        let iter = values.call0(&report).map_err(js_error)?;
        if let Ok(Some(iter)) = js_sys::try_iter(&iter) {
            for entry in iter.flatten() {
                let kind = string_prop(&entry, "type");
                out.push((kind, entry));
            }
        }
        Ok(out)
    }

    /// The DTLS fingerprints of this connection as the local and remote descriptions announce
    /// them, host end and participant end (the host is the side that opens the channels);
    /// `None` until both descriptions are set.
    pub fn channel_binding(&self) -> Option<pairux_core::control::ChannelBinding> {
        let fingerprint = |sdp: String| pairux_core::control::dtls_fingerprint(&sdp);
        let local = fingerprint(self.pc.local_description()?.sdp())?;
        let remote = fingerprint(self.pc.remote_description()?.sdp())?;
        let (host, participant) = if self.opens_channels.get() {
            (local, remote)
        } else {
            (remote, local)
        };
        Some(pairux_core::control::ChannelBinding { host, participant })
    }

    /// Data channels the other side opened that were closed unread.
    pub fn refused_channels(&self) -> u64 {
        self.refused_channels.get()
    }

    /// Sends on the reliable channel if it is open.
    pub fn send(&self, text: &str) -> bool {
        send_on(self.channel.borrow().as_ref(), text)
    }

    /// Sends on the pointer channel, falling back to the reliable one while it is not open.
    pub fn send_unreliable(&self, text: &str) -> bool {
        send_on(self.pointer.borrow().as_ref(), text) || self.send(text)
    }

    fn adopt_channel(&self, channel: RtcDataChannel, pointer: bool) {
        let reliable = !pointer;
        let cb = self.on_event.clone();
        let on_message = handler(move |ev| {
            let ev: web_sys::MessageEvent = ev.unchecked_into();
            // The protocol is text: anything else (binary) arrives as the empty message, which
            // no reader accepts, so the receiver refuses and counts it like any other junk.
            cb(PeerEvent::Message(
                ev.data().as_string().unwrap_or_default(),
            ));
        });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        let mut handlers = self.channel_handlers.borrow_mut();
        handlers.push(on_message);
        if reliable {
            let cb = self.on_event.clone();
            let on_open = handler(move |_| cb(PeerEvent::Channel(true)));
            let cb = self.on_event.clone();
            let on_close = handler(move |_| cb(PeerEvent::Channel(false)));
            channel.set_onopen(Some(on_open.as_ref().unchecked_ref()));
            channel.set_onclose(Some(on_close.as_ref().unchecked_ref()));
            handlers.push(on_open);
            handlers.push(on_close);
            *self.channel.borrow_mut() = Some(channel);
        } else {
            *self.pointer.borrow_mut() = Some(channel);
        }
    }
}

impl Peer {
    /// Closes the connection now (the other side is told: its channels close at once), even
    /// while a task still holds this peer. Its handlers stay owned until it is dropped.
    pub fn close(&self) {
        self.pc.set_onnegotiationneeded(None);
        self.pc.set_onicecandidate(None);
        self.pc.set_ontrack(None);
        self.pc.set_onconnectionstatechange(None);
        self.pc.set_ondatachannel(None);
        for slot in [&self.channel, &self.pointer, &self.sfu_ready] {
            if let Some(ch) = slot.borrow_mut().take() {
                ch.set_onopen(None);
                ch.set_onclose(None);
                ch.set_onmessage(None);
                ch.close();
            }
        }
        self.pc.close();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.close();
    }
}

type Handler = Closure<dyn FnMut(JsValue)>;

fn send_on(channel: Option<&RtcDataChannel>, text: &str) -> bool {
    match channel {
        Some(ch) if ch.ready_state() == web_sys::RtcDataChannelState::Open => {
            ch.send_with_str(text).is_ok()
        }
        _ => false,
    }
}

fn handler(f: impl FnMut(JsValue) + 'static) -> Handler {
    Closure::new(f)
}

/// Calls a method through Reflect (web-sys lacks some, and a throw must not abort).
fn call(target: &JsValue, method: &str, arg: Option<&JsValue>) -> Result<JsValue, JsError> {
    let f: js_sys::Function = Reflect::get(target, &method.into())
        .map_err(js_error)?
        .dyn_into()
        .map_err(js_error)?;
    match arg {
        Some(a) => f.call1(target, a),
        None => f.call0(target),
    }
    .map_err(js_error)
}

/// A string property of `target` (e.g. a connection's state), empty if absent.
fn string_prop(target: &JsValue, key: &str) -> String {
    Reflect::get(target, &key.into())
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default()
}

fn set(target: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(target, &key.into(), value);
}

/// Puts VP8 first: the fastest software codec to encode and decode in Chromium, and the one
/// whose frame layout the E2EE transform knows (see ARCHITECTURE.md, "Codec").
fn prefer_vp8(transceiver: &web_sys::RtcRtpTransceiver) {
    let Ok(receiver_class) = Reflect::get(&js_sys::global(), &"RTCRtpReceiver".into()) else {
        return;
    };
    let Ok(get_caps) = Reflect::get(&receiver_class, &"getCapabilities".into()) else {
        return;
    };
    let Ok(get_caps) = get_caps.dyn_into::<js_sys::Function>() else {
        return;
    };
    let Ok(caps) = get_caps.call1(&receiver_class, &"video".into()) else {
        return;
    };
    let Ok(codecs) = Reflect::get(&caps, &"codecs".into()) else {
        return;
    };
    let codecs = Array::from(&codecs);
    let mime = |c: &JsValue| string_prop(c, "mimeType").to_ascii_lowercase();
    let sorted = Array::new();
    for c in codecs.iter().filter(|c| mime(c) == "video/vp8") {
        sorted.push(&c);
    }
    for c in codecs.iter().filter(|c| mime(c) != "video/vp8") {
        sorted.push(&c);
    }
    // Called through Reflect: web-sys's binding does not catch, and a throw would abort.
    if let Ok(f) = Reflect::get(transceiver, &"setCodecPreferences".into()) {
        if let Ok(f) = f.dyn_into::<js_sys::Function>() {
            let _ = f.call1(transceiver, &sorted);
        }
    }
}

/// Pairing is interactive: show each frame as soon as it is decoded rather than smoothing
/// playout. `jitterBufferTarget` is the standard knob (ms); Chromium's `playoutDelayHint`
/// (seconds) also switches its renderer to low-latency mode. Unknown properties are ignored.
fn low_latency(receiver: &web_sys::RtcRtpReceiver) {
    set(receiver, "jitterBufferTarget", &JsValue::from(0));
    set(receiver, "playoutDelayHint", &JsValue::from(0));
}

/// Text must stay sharp: drop frames, never resolution, when the encoder is short of bits.
fn keep_resolution(sender: &RtcRtpSender) {
    let params: JsValue = sender.get_parameters().into();
    set(
        &params,
        "degradationPreference",
        &"maintain-resolution".into(),
    );
    // Errors are harmless: Chromium applies it, others ignore what they do not support.
    let _ = sender.set_parameters_with_parameters(params.unchecked_ref());
}
