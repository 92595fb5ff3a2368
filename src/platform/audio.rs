//! Voice glue: the microphone (`getUserMedia`), playing a received voice, and the host's
//! mix-minus mixer (Web Audio). Decisions (who hears whom, who is speaking) are the core's
//! (`pairux_core::voice`).

use pairux_core::vecmap::VecMap;
use std::cell::RefCell;

use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AnalyserNode, AudioContext, HtmlMediaElement, MediaStream, MediaStreamAudioDestinationNode,
    MediaStreamAudioSourceNode, MediaStreamConstraints, MediaStreamTrack,
};

use super::{js_error, window, JsError};

/// The microphone, with the browser's echo cancellation, noise suppression and gain control
/// on. Asks for permission the first time (only when the person turns the microphone on).
pub async fn microphone() -> Result<MediaStreamTrack, JsError> {
    let devices = window()?.navigator().media_devices().map_err(js_error)?;
    let audio = Object::new();
    for key in ["echoCancellation", "noiseSuppression", "autoGainControl"] {
        let _ = Reflect::set(&audio, &key.into(), &JsValue::TRUE);
    }
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio(&audio);
    constraints.set_video(&JsValue::FALSE);
    let promise = devices
        .get_user_media_with_constraints(&constraints)
        .map_err(js_error)?;
    let stream: MediaStream = JsFuture::from(promise)
        .await
        .map_err(js_error)?
        .unchecked_into();
    stream
        .get_audio_tracks()
        .get(0)
        .dyn_into()
        .map_err(|_| JsError("the microphone gave no audio track".into()))
}

/// Plays a received voice through an `<audio>` element (the browser's WebRTC output path,
/// which its echo canceller knows about). Dropping it stops the sound.
pub struct Playback {
    element: HtmlMediaElement,
}

impl Playback {
    pub fn new(track: &MediaStreamTrack) -> Result<Playback, JsError> {
        let element: HtmlMediaElement = window()?
            .document()
            .ok_or_else(|| JsError("no document".into()))?
            .create_element("audio")
            .map_err(js_error)?
            .unchecked_into();
        let stream = MediaStream::new().map_err(js_error)?;
        stream.add_track(track);
        element.set_src_object(Some(&stream));
        element.set_autoplay(true);
        Ok(Playback { element })
    }

    /// Starts playing; `Err` when the browser blocks sound until the person interacts with
    /// the page (autoplay policy) — call again from a click.
    pub async fn play(&self) -> Result<(), JsError> {
        let promise = self.element.play().map_err(js_error)?;
        JsFuture::from(promise).await.map(|_| ()).map_err(js_error)
    }

    pub fn set_muted(&self, muted: bool) {
        self.element.set_muted(muted);
    }
}

impl Drop for Playback {
    fn drop(&mut self) {
        let _ = self.element.pause();
        self.element.set_src_object(None);
    }
}

/// Root mean square of a block of samples (0 for an empty block).
fn rms(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt()
}

struct Source {
    node: MediaStreamAudioSourceNode,
    analyser: AnalyserNode,
    /// In the guests' mixes (false: only measured — the host's own microphone, which reaches
    /// each guest on its own track, without the mixer's delay).
    mixed: bool,
}

/// The host's mixer: every voice in (sources), one mix out per guest (sinks), each the
/// mix-minus of that guest (`pairux_core::voice::mix_minus`).
pub struct Mixer {
    ctx: AudioContext,
    sources: RefCell<VecMap<String, Source>>,
    sinks: RefCell<VecMap<String, MediaStreamAudioDestinationNode>>,
    scratch: RefCell<Vec<f32>>,
}

impl Mixer {
    /// Create inside a click handler when possible (an audio context started without a
    /// gesture stays suspended until [`Self::resume`] runs in one).
    pub fn new() -> Result<Mixer, JsError> {
        let ctx = AudioContext::new().map_err(js_error)?;
        Ok(Mixer {
            ctx,
            sources: RefCell::default(),
            sinks: RefCell::default(),
            scratch: RefCell::new(vec![0.0; 1024]),
        })
    }

    /// Whether the browser holds the mixer back until the person interacts with the page.
    pub fn suspended(&self) -> bool {
        self.ctx.state() == web_sys::AudioContextState::Suspended
    }

    pub fn resume(&self) {
        if let Ok(promise) = self.ctx.resume() {
            super::settle(promise);
        }
    }

    /// A voice to mix: `id`'s track (a guest's received voice).
    pub fn add_source(&self, id: &str, track: &MediaStreamTrack) -> Result<(), JsError> {
        self.add(id, track, true)
    }

    /// A voice only measured (who is speaking), never mixed: our own microphone.
    pub fn add_measured(&self, id: &str, track: &MediaStreamTrack) -> Result<(), JsError> {
        self.add(id, track, false)
    }

    fn add(&self, id: &str, track: &MediaStreamTrack, mixed: bool) -> Result<(), JsError> {
        self.remove_source(id);
        let stream = MediaStream::new().map_err(js_error)?;
        stream.add_track(track);
        let node = self
            .ctx
            .create_media_stream_source(&stream)
            .map_err(js_error)?;
        let analyser = self.ctx.create_analyser().map_err(js_error)?;
        analyser.set_fft_size(1024);
        node.connect_with_audio_node(&analyser).map_err(js_error)?;
        let sinks = self.sinks.borrow();
        for (listener, sink) in sinks.iter() {
            if mixed
                && pairux_core::voice::mix_minus([id], listener)
                    .next()
                    .is_some()
            {
                node.connect_with_audio_node(sink).map_err(js_error)?;
            }
        }
        self.sources.borrow_mut().insert(
            id.to_owned(),
            Source {
                node,
                analyser,
                mixed,
            },
        );
        Ok(())
    }

    pub fn remove_source(&self, id: &str) {
        if let Some(source) = self.sources.borrow_mut().remove(id) {
            let _ = source.node.disconnect();
        }
    }

    /// The mix `listener` hears (everyone's voice but theirs): a track to send them.
    pub fn add_sink(&self, listener: &str) -> Result<MediaStreamTrack, JsError> {
        self.remove_sink(listener);
        let sink = self
            .ctx
            .create_media_stream_destination()
            .map_err(js_error)?;
        let sources = self.sources.borrow();
        for id in pairux_core::voice::mix_minus(sources.keys().map(String::as_str), listener) {
            if let Some(source) = sources.get(id).filter(|s| s.mixed) {
                source
                    .node
                    .connect_with_audio_node(&sink)
                    .map_err(js_error)?;
            }
        }
        let track = sink
            .stream()
            .get_audio_tracks()
            .get(0)
            .dyn_into::<MediaStreamTrack>()
            .map_err(|_| JsError("the mix has no audio track".into()))?;
        self.sinks.borrow_mut().insert(listener.to_owned(), sink);
        Ok(track)
    }

    pub fn remove_sink(&self, listener: &str) {
        let Some(sink) = self.sinks.borrow_mut().remove(listener) else {
            return;
        };
        for source in self.sources.borrow().values() {
            // Throws when the two were not connected (the listener's own voice): nothing to do.
            let _ = source.node.disconnect_with_audio_node(&sink);
        }
        for track in sink.stream().get_tracks() {
            if let Ok(track) = track.dyn_into::<MediaStreamTrack>() {
                track.stop();
            }
        }
    }

    /// Each voice's level now (RMS of its last ~20 ms).
    pub fn levels(&self) -> Vec<(String, f32)> {
        let mut scratch = self.scratch.borrow_mut();
        self.sources
            .borrow()
            .iter()
            .map(|(id, source)| {
                let n = (source.analyser.fft_size() as usize).min(scratch.len());
                source
                    .analyser
                    .get_float_time_domain_data(&mut scratch[..n]);
                (id.clone(), rms(&scratch[..n]))
            })
            .collect()
    }
}

impl Drop for Mixer {
    fn drop(&mut self) {
        for source in self.sources.borrow().values() {
            let _ = source.node.disconnect();
        }
        if let Ok(promise) = self.ctx.close() {
            super::settle(promise);
        }
    }
}
