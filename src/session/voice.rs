//! Voice for host and guests (peer to peer; ARCHITECTURE.md, Voice).
//!
//! The host mixes: each guest's voice arrives on its connection's voice transceiver and plays
//! here; each guest is sent the mix of everyone but themselves. The host measures who speaks
//! and tells everyone. A guest plays the one mix it receives and puts its microphone on its
//! voice transceiver when the person turns it on. In SFU mode (`super::sfu_voice`) every
//! voice comes from the SFU and each page measures who speaks on what it receives.

use pairux_core::vecmap::{VecMap, VecSet};
use std::cell::RefCell;
use std::rc::Rc;

use gloo_timers::callback::Interval;
use leptos::prelude::*;
use pairux_core::voice::SpeakingDetector;
use web_sys::MediaStreamTrack;

use crate::platform::audio::{self, Mixer, Playback};
use crate::platform::clock;
use crate::platform::JsError;

/// How often the host samples levels for the speaking indicator (ms).
const SAMPLE_MS: u32 = 100;

/// The person's microphone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mic {
    Off,
    /// Waiting for the browser (permission prompt, device start).
    Starting,
    On,
    /// The browser refused or has no microphone: what happened, in words.
    Failed(String),
}

impl Mic {
    pub fn as_str(&self) -> &'static str {
        match self {
            Mic::Off => "off",
            Mic::Starting => "starting",
            Mic::On => "on",
            Mic::Failed(_) => "failed",
        }
    }
}

/// What the page shows about voice.
#[derive(Clone, Copy)]
pub struct VoiceSignals {
    pub mic: RwSignal<Mic>,
    /// Participant ids whose voice is heard now.
    pub speaking: RwSignal<VecSet<String>>,
    /// The browser holds the sound back until the person clicks (autoplay policy).
    pub blocked: RwSignal<bool>,
}

impl VoiceSignals {
    pub fn new() -> Self {
        VoiceSignals {
            mic: RwSignal::new(Mic::Off),
            speaking: RwSignal::new(VecSet::new()),
            blocked: RwSignal::new(false),
        }
    }
}

impl Default for VoiceSignals {
    fn default() -> Self {
        Self::new()
    }
}

/// The sentence for a microphone that stopped by itself while on.
pub const MIC_ENDED: &str =
    "Your microphone stopped (unplugged, or its permission was taken back) — turn it on again to talk.";

/// Our microphone is on: should its track end by itself (unplugged, its permission taken
/// back), `lost` runs — from a task, so that turning the microphone off may drop the returned
/// listener — and turns it off with [`MIC_ENDED`]: others would read it as on while nobody
/// hears it. The host's page and a guest's keep the listener while the microphone is on.
pub fn watch_mic(
    track: &MediaStreamTrack,
    lost: impl Fn() + Clone + 'static,
) -> crate::platform::media::EndedListener {
    crate::platform::media::on_track_ended(track, move || {
        let lost = lost.clone();
        leptos::task::spawn_local(async move { lost() });
    })
}

/// The sentence for a microphone the browser would not give us.
pub fn mic_failure(err: &JsError) -> String {
    let text = err.0.to_ascii_lowercase();
    if text.contains("denied") || text.contains("notallowed") || text.contains("permission") {
        "Microphone blocked — allow it in the browser's site settings to talk.".to_owned()
    } else if text.contains("notfound") || text.contains("requested device not found") {
        "No microphone found on this computer.".to_owned()
    } else {
        format!("Can't start the microphone ({}).", err.0)
    }
}

/// Plays `track`, noting when the browser holds sound back until a click.
fn start_playback(track: &MediaStreamTrack, view: VoiceSignals) -> Option<Rc<Playback>> {
    let playback = match Playback::new(track) {
        Ok(p) => Rc::new(p),
        Err(err) => {
            leptos::logging::error!("cannot play a voice: {err}");
            return None;
        }
    };
    let p = playback.clone();
    leptos::task::spawn_local(async move {
        if p.play().await.is_err() {
            view.blocked.set(true);
        }
    });
    Some(playback)
}

struct HostInner {
    mixer: Option<Mixer>,
    /// Guests' voices as they play here.
    playing: RefCell<VecMap<String, Rc<Playback>>>,
    mic: RefCell<Option<MediaStreamTrack>>,
    detector: RefCell<SpeakingDetector>,
    sampler: RefCell<Option<Interval>>,
    view: VoiceSignals,
    me: String,
    /// Plays nothing and reports no speakers (a guest's desk while a move from peer to peer
    /// settles: the host's mix still carries every voice).
    muted: std::cell::Cell<bool>,
}

/// The host's side. Cheap to clone.
#[derive(Clone)]
pub struct HostVoice {
    inner: Rc<HostInner>,
}

impl HostVoice {
    /// `on_speaking`: the speaking set changed (to tell every guest).
    pub fn new(
        me: String,
        view: VoiceSignals,
        on_speaking: impl Fn(Vec<String>) + 'static,
    ) -> HostVoice {
        let mixer = Mixer::new()
            .inspect_err(|err| leptos::logging::error!("no audio mixing, no voice: {err}"))
            .ok();
        let inner = Rc::new(HostInner {
            mixer,
            playing: RefCell::default(),
            mic: RefCell::default(),
            detector: RefCell::default(),
            sampler: RefCell::default(),
            view,
            me,
            muted: std::cell::Cell::new(false),
        });
        if inner.mixer.as_ref().is_some_and(Mixer::suspended) {
            // A tab that resumed after a reload has had no click yet: nobody's voice can be
            // mixed until it does.
            view.blocked.set(true);
        }
        let weak = Rc::downgrade(&inner);
        let sampler = Interval::new(SAMPLE_MS, move || {
            let Some(inner) = weak.upgrade() else { return };
            let Some(mixer) = inner.mixer.as_ref() else {
                return;
            };
            let levels = mixer.levels();
            let changed = inner.detector.borrow_mut().sample(
                clock::monotonic_ms(),
                levels.iter().map(|(id, l)| (id.as_str(), *l)),
            );
            if let Some(speaking) = changed {
                if inner.muted.get() {
                    return;
                }
                on_speaking(speaking.iter().cloned().collect());
                inner.view.speaking.set(speaking);
            }
        });
        *inner.sampler.borrow_mut() = Some(sampler);
        HostVoice { inner }
    }

    /// Whether there are mixes to hear (Web Audio works here).
    pub fn mixes(&self) -> bool {
        self.inner.mixer.is_some()
    }

    /// The mix `id` hears, to send on its connection's voice transceiver.
    pub fn mix_for(&self, id: &str) -> Option<MediaStreamTrack> {
        let mixer = self.inner.mixer.as_ref()?;
        mixer
            .add_sink(id)
            .inspect_err(|err| leptos::logging::error!("no mix for {id}: {err}"))
            .ok()
    }

    /// `id`'s voice arrived: play it here and mix it for everyone else.
    pub fn heard(&self, id: &str, track: &MediaStreamTrack) {
        // The element also keeps the remote track flowing into Web Audio (Chrome feeds a
        // remote track's samples to an audio graph only while a media element plays it).
        if let Some(playback) = start_playback(track, self.inner.view) {
            playback.set_muted(self.inner.muted.get());
            self.inner
                .playing
                .borrow_mut()
                .insert(id.to_owned(), playback);
        }
        if let Some(mixer) = self.inner.mixer.as_ref() {
            if let Err(err) = mixer.add_source(id, track) {
                leptos::logging::error!("cannot mix {id}'s voice: {err}");
            }
        }
    }

    /// Silences (or plays again) every voice played here.
    pub fn set_muted(&self, muted: bool) {
        self.inner.muted.set(muted);
        for playback in self.inner.playing.borrow().values() {
            playback.set_muted(muted);
        }
        if !muted {
            self.inner
                .view
                .speaking
                .set(self.inner.detector.borrow().speaking());
        }
    }

    /// `id`'s voice stopped arriving (its SFU feed was withdrawn); its mix, if any, stays.
    pub fn forget(&self, id: &str) {
        self.inner.playing.borrow_mut().remove(id);
        if let Some(mixer) = self.inner.mixer.as_ref() {
            mixer.remove_source(id);
        }
    }

    /// The mix sent to `id` is no longer needed (its direct connection closed).
    pub fn drop_mix(&self, id: &str) {
        if let Some(mixer) = self.inner.mixer.as_ref() {
            mixer.remove_sink(id);
        }
    }

    /// Our microphone's track, while it is on.
    pub fn mic_track(&self) -> Option<MediaStreamTrack> {
        self.inner.mic.borrow().clone()
    }

    /// Measures our own voice from a microphone someone else owns (a guest's, in SFU mode).
    pub fn measure_own(&self, track: Option<&MediaStreamTrack>) {
        let Some(mixer) = self.inner.mixer.as_ref() else {
            return;
        };
        match track {
            Some(track) => {
                if let Err(err) = mixer.add_measured(&self.inner.me, track) {
                    leptos::logging::warn!("cannot measure our voice: {err}");
                }
            }
            None => mixer.remove_source(&self.inner.me),
        }
    }

    /// `id`'s connection is gone.
    pub fn gone(&self, id: &str) {
        self.inner.playing.borrow_mut().remove(id);
        if let Some(mixer) = self.inner.mixer.as_ref() {
            mixer.remove_source(id);
            mixer.remove_sink(id);
        }
    }

    /// A click: the browser may now play sound and run the mixer.
    pub fn unblock(&self) {
        if let Some(mixer) = self.inner.mixer.as_ref() {
            mixer.resume();
        }
        for playback in self.inner.playing.borrow().values() {
            let p = playback.clone();
            leptos::task::spawn_local(async move {
                let _ = p.play().await;
            });
        }
        self.inner.view.blocked.set(false);
    }

    /// Turns our microphone on or off; `Ok(true)` when it is on.
    pub async fn set_mic(&self, on: bool) -> Result<bool, JsError> {
        self.unblock();
        let Some(mixer) = self.inner.mixer.as_ref() else {
            return Err(JsError("this browser cannot mix audio".into()));
        };
        if !on {
            if let Some(track) = self.inner.mic.borrow_mut().take() {
                track.stop();
            }
            mixer.remove_source(&self.inner.me);
            return Ok(false);
        }
        let track = audio::microphone().await?;
        // Measured here; each guest gets it on its own track (`Peer::set_host_voice`).
        mixer.add_measured(&self.inner.me, &track)?;
        if let Some(old) = self.inner.mic.borrow_mut().replace(track) {
            old.stop();
        }
        Ok(true)
    }
}

impl HostVoice {
    /// Stops our microphone at once (the page no longer shows the session).
    pub fn stop_mic(&self) {
        self.inner.stop_mic_track();
        self.inner.view.mic.try_set(Mic::Off);
    }
}

impl HostInner {
    fn stop_mic_track(&self) {
        if let Some(track) = self.mic.borrow_mut().take() {
            track.stop();
        }
    }
}

impl Drop for HostInner {
    fn drop(&mut self) {
        self.stop_mic_track();
    }
}

/// A guest's side: what the host's connection carries — the host's own voice on its track and
/// the mix of everyone else — and our microphone on it; in SFU mode, every announced voice from
/// the SFU, played and measured here.
pub struct GuestVoice {
    me: String,
    /// The host connection's voices as they play (their tracks, to drop the ended ones).
    playing: Vec<(MediaStreamTrack, Rc<Playback>)>,
    mic: Option<MediaStreamTrack>,
    /// SFU mode: plays each voice received from the SFU and measures who speaks (ours
    /// included) — the host's mixer without its mixes. `None` peer to peer.
    desk: Option<HostVoice>,
    /// Voices come from the desk; `false` while a move from peer to peer settles (the desk
    /// receives, muted; the host's mix still plays).
    switched: bool,
    view: VoiceSignals,
}

impl GuestVoice {
    pub fn new(me: String, view: VoiceSignals) -> GuestVoice {
        GuestVoice {
            me,
            playing: Vec::new(),
            mic: None,
            desk: None,
            switched: false,
            view,
        }
    }

    /// A voice of the host's connection arrived — the host's own, or the mix (again, after a
    /// reconnection: the previous connection's ended tracks go). Silent once voices come from
    /// the SFU (nobody is heard twice).
    pub fn heard(&mut self, track: &MediaStreamTrack) {
        self.playing
            .retain(|(t, _)| t.ready_state() == web_sys::MediaStreamTrackState::Live);
        if let Some(p) = start_playback(track, self.view) {
            p.set_muted(self.switched);
            // `Clone::clone` copies the handle; `.clone()` would be JS `track.clone()`, a new
            // track nobody stops.
            self.playing.push((Clone::clone(track), p));
        }
    }

    /// The session moves to the SFU: voices start arriving from it, unheard, while the host's
    /// mix keeps playing (make-before-break; [`Self::set_sfu`] switches).
    pub fn prepare_sfu(&mut self) {
        if self.desk.is_some() {
            return;
        }
        let desk = HostVoice::new(self.me.clone(), self.view, |_| {});
        desk.set_muted(!self.switched);
        desk.measure_own(self.mic.as_ref());
        self.desk = Some(desk);
    }

    /// Voices now come from the SFU (`true`) or from the host's mix (`false`).
    pub fn set_sfu(&mut self, sfu: bool) {
        if sfu == self.switched && sfu == self.desk.is_some() {
            return;
        }
        if sfu {
            self.prepare_sfu();
            if let Some(desk) = &self.desk {
                desk.set_muted(false);
            }
        } else {
            self.desk = None;
            self.view.speaking.set(VecSet::new());
        }
        self.switched = sfu;
        for (_, p) in &self.playing {
            p.set_muted(sfu);
        }
    }

    /// Whether voices come from the SFU here.
    pub fn switched(&self) -> bool {
        self.switched
    }

    /// SFU mode: `id`'s voice arrived from the SFU.
    pub fn heard_from_sfu(&self, id: &str, track: &MediaStreamTrack) {
        if let Some(desk) = &self.desk {
            desk.heard(id, track);
        }
    }

    /// SFU mode: `id`'s voice stopped.
    pub fn gone_from_sfu(&self, id: &str) {
        if let Some(desk) = &self.desk {
            desk.forget(id);
        }
    }

    /// Whether who speaks is measured here (SFU mode) rather than told by the host.
    pub fn measures(&self) -> bool {
        self.switched
    }

    /// A click: the browser may now play sound.
    pub fn unblock(&self) {
        if let Some(desk) = &self.desk {
            desk.unblock();
        }
        if self.playing.is_empty() {
            self.view.blocked.set(false);
        }
        for (_, p) in &self.playing {
            let (p, view) = (p.clone(), self.view);
            leptos::task::spawn_local(async move {
                if p.play().await.is_ok() {
                    view.blocked.set(false);
                }
            });
        }
    }

    /// The microphone track now in use (to put on a new connection).
    pub fn mic(&self) -> Option<MediaStreamTrack> {
        self.mic.clone()
    }

    pub fn set_mic_track(&mut self, track: Option<MediaStreamTrack>) {
        if let Some(desk) = &self.desk {
            desk.measure_own(track.as_ref());
        }
        if let Some(old) = std::mem::replace(&mut self.mic, track) {
            old.stop();
        }
    }

    /// The host's word on who is speaking (peer to peer; in SFU mode each page measures
    /// what it receives itself and takes nobody's word).
    pub fn on_speaking(&self, ids: Vec<String>) {
        if !self.switched {
            self.view.speaking.set(ids.into_iter().collect());
        }
    }
}

impl Drop for GuestVoice {
    fn drop(&mut self) {
        if let Some(track) = self.mic.take() {
            track.stop();
        }
    }
}
