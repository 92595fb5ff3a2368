//! The E2EE transform worker from the page's side: start it (one per page), hand it the keys,
//! attach encrypting transforms to senders and decrypting ones to receivers, and hear each
//! participant's `e2ee-state`. The worker (crates/worker) and its protocol
//! (`pairux_core::e2ee::protocol`) do everything else; nothing here decides.
//!
//! Two browser APIs carry frames to the worker, chosen once per page ([`TransformApi::detect`])
//! and applied when a peer connection is created ([`TransformApi::configure`]):
//! - `RTCRtpScriptTransform` (the standard): `sender.transform = new RTCRtpScriptTransform(worker,
//!   options)`; the worker gets an `rtctransform` event.
//! - Chromium's `createEncodedStreams()` fallback: needs `encodedInsertableStreams: true` in the
//!   RTCConfiguration (Chrome then holds frames back until the streams exist, so nothing leaks in
//!   clear); the streams are transferred to the worker. Calling it twice throws "Encoded streams
//!   already created".
//!
//! Both are bound by a small extern block rather than web-sys's unstable bindings, so this module
//! also compiles for the native checks.
//!
//! Chromium quirks the callers must respect (reference/e2ee.md): attach receiver transforms in the
//! `track` handler, not right after `addTransceiver` (aws/amazon-chime-sdk-js#3123); use
//! `sendonly`/`recvonly` transceivers, since a receiver transform on a `sendrecv` transceiver may
//! never run (w3c/webrtc-encoded-transform#314); attach sender transforms before negotiating,
//! or the first frames of the standard API go out before the transform exists.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use js_sys::{Array, Promise, Reflect, Uint8Array};
use pairux_core::e2ee::{E2eeState, FromWorker, MediaKind, SenderId, ToWorker, TransformOptions};
use pairux_core::link::RoomKey;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    ErrorEvent, Event, MessageEvent, RtcConfiguration, RtcRtpReceiver, RtcRtpSender, Worker,
    WorkerOptions, WorkerType,
};

use super::{js_error, window, JsError};

/// Where Trunk puts the worker's loader (index.html, `data-type="worker"`; Trunk never hashes
/// worker file names).
pub const WORKER_URL: &str = "/pairux-worker_loader.js";

#[wasm_bindgen]
extern "C" {
    /// `RTCRtpScriptTransform`.
    #[wasm_bindgen(js_name = RTCRtpScriptTransform)]
    type ScriptTransform;

    #[wasm_bindgen(constructor, catch, js_class = "RTCRtpScriptTransform")]
    fn new(worker: &Worker, options: &JsValue) -> Result<ScriptTransform, JsValue>;

    /// An `RTCRtpSender` or `RTCRtpReceiver`, for the members both have.
    type RtpEndpoint;

    #[wasm_bindgen(method, setter = transform)]
    fn set_transform(this: &RtpEndpoint, transform: &ScriptTransform);

    #[wasm_bindgen(method, catch, js_name = createEncodedStreams)]
    fn create_encoded_streams(this: &RtpEndpoint) -> Result<EncodedStreams, JsValue>;

    /// `{readable, writable}` from `createEncodedStreams()`.
    type EncodedStreams;

    #[wasm_bindgen(method, getter)]
    fn readable(this: &EncodedStreams) -> JsValue;

    #[wasm_bindgen(method, getter)]
    fn writable(this: &EncodedStreams) -> JsValue;
}

/// How encoded frames reach the worker in this browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransformApi {
    /// `RTCRtpScriptTransform` (Chrome 141+, Firefox 117+, Safari 15.4+).
    Script,
    /// Chromium's `createEncodedStreams()`.
    EncodedStreams,
    /// Neither: media cannot be end-to-end encrypted here, so it must not be sent or accepted.
    Unsupported,
}

/// What a person whose browser cannot transform encoded frames is told (host and guests alike).
pub const UNSUPPORTED_SENTENCE: &str =
    "This browser can't do end-to-end encryption; use Chrome or Edge 86+.";

/// What a person is told when the tab's transform worker failed ([`TransformWorker::on_failure`]):
/// media stays closed, since the worker handles no frame.
pub const FAILED_SENTENCE: &str = "End-to-end encryption couldn't start in this tab, so no picture can be sent or shown. Reload the page to try again.";

impl TransformApi {
    /// Whether media can be end-to-end encrypted in this browser at all.
    pub fn supported() -> bool {
        Self::detect() != TransformApi::Unsupported
    }

    /// The standard API where it exists, else the Chromium fallback.
    pub fn detect() -> TransformApi {
        let Ok(window) = window() else {
            return TransformApi::Unsupported;
        };
        let has =
            |object: &JsValue, name: &str| Reflect::has(object, &name.into()).unwrap_or(false);
        if has(&window, "RTCRtpScriptTransform") {
            return TransformApi::Script;
        }
        let sender_prototype = Reflect::get(&window, &"RTCRtpSender".into())
            .and_then(|class| Reflect::get(&class, &"prototype".into()))
            .unwrap_or(JsValue::UNDEFINED);
        if !sender_prototype.is_undefined() && has(&sender_prototype, "createEncodedStreams") {
            TransformApi::EncodedStreams
        } else {
            TransformApi::Unsupported
        }
    }

    /// Whether the RTCConfiguration needs `encodedInsertableStreams: true`.
    pub fn needs_insertable_streams(self) -> bool {
        self == TransformApi::EncodedStreams
    }

    /// Prepares a peer connection's configuration for this API (before `new RTCPeerConnection`).
    pub fn configure(self, config: &RtcConfiguration) {
        if self.needs_insertable_streams() {
            // Not in web-sys's RtcConfiguration: a Chromium extension.
            let _ = Reflect::set(config, &"encodedInsertableStreams".into(), &JsValue::TRUE);
        }
    }
}

/// The page's transform worker.
pub struct TransformWorker {
    worker: Worker,
    api: TransformApi,
    ready: Promise,
    states: Rc<RefCell<States>>,
    failure: Rc<RefCell<Failure>>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(Event)>,
}

/// Who hears about state changes: `(participant, state)`.
type StateListener = Rc<dyn Fn(&str, E2eeState)>;

/// Who hears that the worker failed: `(reason)`.
type FailureListener = Rc<dyn Fn(&str)>;

/// Why the worker cannot protect media, once it failed, and who hears of it.
#[derive(Default)]
struct Failure {
    reason: Option<String>,
    listener: Option<FailureListener>,
}

impl Failure {
    /// Records the first failure and tells the listener (later ones are only logged).
    fn fail(cell: &Rc<RefCell<Failure>>, reason: String) {
        let listener = {
            let mut failure = cell.borrow_mut();
            if failure.reason.is_some() {
                leptos::logging::warn!("{reason}");
                return;
            }
            leptos::logging::error!("{reason}");
            failure.reason = Some(reason.clone());
            failure.listener.clone()
        };
        if let Some(listener) = listener {
            listener(&reason);
        }
    }
}

/// The `ready` promise's resolve and reject, until one is called.
type Settle = Rc<RefCell<Option<(js_sys::Function, js_sys::Function)>>>;

/// The key under which [`TransformWorker::on_state`] reports our own sending transforms
/// (participant ids are never empty).
pub const SENDING: &str = "";

/// Per-participant, per-media states and who wants to hear about changes.
#[derive(Default)]
struct States {
    by_participant: HashMap<String, HashMap<MediaKind, E2eeState>>,
    listener: Option<StateListener>,
}

thread_local! {
    static PAGE_WORKER: RefCell<Option<Rc<TransformWorker>>> = const { RefCell::new(None) };
}

/// The page's one transform worker, started on first use (from [`WORKER_URL`], with the API
/// [`TransformApi::detect`] finds).
pub fn page_worker() -> Result<Rc<TransformWorker>, JsError> {
    if let Some(worker) = PAGE_WORKER.with(|w| w.borrow().clone()) {
        return Ok(worker);
    }
    let worker = Rc::new(TransformWorker::start(WORKER_URL, TransformApi::detect())?);
    PAGE_WORKER.with(|w| *w.borrow_mut() = Some(worker.clone()));
    Ok(worker)
}

/// Ends the worker the loader started for a session page, if the app has not taken it (a
/// link that turned out unusable).
pub fn discard_early_worker() {
    if let Some((worker, _)) = take_early_worker() {
        worker.terminate();
    }
}

/// The page worker the loader started (`window.__pairuxEarlyWorker`: the worker, and the
/// events it fired before the app listened), taken once.
fn take_early_worker() -> Option<(Worker, Array)> {
    let early = super::dom::take_boot_global("__pairuxEarlyWorker")?;
    let worker = Reflect::get(&early, &"worker".into())
        .ok()?
        .dyn_into::<Worker>()
        .ok()?;
    let heard = Reflect::get(&early, &"heard".into())
        .ok()
        .and_then(|h| h.dyn_into::<Array>().ok())
        .unwrap_or_default();
    Some((worker, heard))
}

impl TransformWorker {
    /// Starts a worker from `url` (a module script). Prefer [`page_worker`]; this is for tests
    /// and for pages that serve the worker elsewhere.
    pub fn start(url: &str, api: TransformApi) -> Result<Self, JsError> {
        // A session page's loader started the page worker already (index.html), while the
        // wasm downloaded: what it heard before we listen is handed over with it.
        let early = (url == WORKER_URL).then(take_early_worker).flatten();
        let (worker, heard) = match early {
            Some(early) => early,
            None => {
                let options = WorkerOptions::new();
                options.set_type(WorkerType::Module);
                let worker = Worker::new_with_options(url, &options).map_err(js_error)?;
                (worker, Array::new())
            }
        };

        let settle: Settle = Default::default();
        let slot = settle.clone();
        let ready =
            Promise::new(&mut |resolve, reject| *slot.borrow_mut() = Some((resolve, reject)));

        let states: Rc<RefCell<States>> = Default::default();
        let failure: Rc<RefCell<Failure>> = Default::default();
        let (on_ready, table, failed) = (settle.clone(), states.clone(), failure.clone());
        let ended = worker.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            let Some(bytes) = ev.data().dyn_ref::<Uint8Array>().map(Uint8Array::to_vec) else {
                return;
            };
            if failed.borrow().reason.is_some() {
                return; // it failed: nothing it says counts any more
            }
            match FromWorker::from_bytes(&bytes) {
                Ok(FromWorker::Ready) => {
                    if let Some((resolve, _)) = on_ready.borrow_mut().take() {
                        let _ = resolve.call0(&JsValue::UNDEFINED);
                    }
                }
                Ok(FromWorker::State {
                    participant,
                    media,
                    state,
                }) => States::update(&table, &participant, media, state),
                Ok(FromWorker::Sending { media, state }) => {
                    States::update(&table, SENDING, media, state)
                }
                // Before `ready`: the worker failed its own check at start and handles
                // nothing (or one of the page's first messages was unreadable: a page bug);
                // the person is told. After: a page bug, the worker dropped a message or
                // transform. Either way it fails closed.
                Ok(FromWorker::Rejected { reason }) => {
                    let settle = on_ready.borrow_mut().take();
                    match settle {
                        Some((_, reject)) => {
                            let reason = format!("E2EE worker did not start: {reason}");
                            let _ = reject.call1(&JsValue::UNDEFINED, &JsValue::from_str(&reason));
                            ended.terminate();
                            Failure::fail(&failed, reason);
                        }
                        None => leptos::logging::warn!("E2EE worker rejected a message: {reason}"),
                    }
                }
                Err(_) => leptos::logging::warn!("unreadable message from the E2EE worker"),
            }
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));

        let (on_failure, failed, dead) = (settle, failure.clone(), worker.clone());
        // An error the worker did not handle: its script or an import did not load or parse (a
        // plain `Event`, no message), its wasm did not load (an `ErrorEvent`), or one of its
        // message handlers threw after it started. No frame can be trusted to it any more.
        let on_error = Closure::<dyn FnMut(Event)>::new(move |ev: Event| {
            let what = ev
                .dyn_ref::<ErrorEvent>()
                .map(ErrorEvent::message)
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "its script did not load".to_owned());
            let settle = on_failure.borrow_mut().take();
            let reason = match settle {
                Some((_, reject)) => {
                    let reason = format!("E2EE worker failed to start: {what}");
                    let _ = reject.call1(&JsValue::UNDEFINED, &JsValue::from_str(&reason));
                    reason
                }
                None => format!("E2EE worker failed: {what}"),
            };
            // Ended, so that no transform of this page runs on it: every frame stops here.
            dead.terminate();
            Failure::fail(&failed, reason);
        });
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        // In the order they came, before anything that comes later (a later message is
        // another task).
        let (message, error): (&js_sys::Function, &js_sys::Function) = (
            on_message.as_ref().unchecked_ref(),
            on_error.as_ref().unchecked_ref(),
        );
        for event in heard.iter() {
            let handler = if event.is_instance_of::<MessageEvent>() {
                message
            } else {
                error
            };
            let _ = handler.call1(&JsValue::UNDEFINED, &event);
        }

        Ok(TransformWorker {
            worker,
            api,
            ready,
            states,
            failure,
            _on_message: on_message,
            _on_error: on_error,
        })
    }

    /// The API this worker's transforms use.
    pub fn api(&self) -> TransformApi {
        self.api
    }

    /// Resolves once the worker's wasm runs (or fails if its script could not load).
    pub async fn ready(&self) -> Result<(), JsError> {
        JsFuture::from(self.ready.clone())
            .await
            .map(|_| ())
            .map_err(js_error)
    }

    /// Drop every epoch's secret (a join starts, or a new host is followed): nothing is sent
    /// or decrypted until the host's own secret comes.
    pub fn restart(&self) -> Result<(), JsError> {
        self.send(&ToWorker::Restart)
    }

    /// The media secret of a later epoch (the host's, after a removal): frames in it decrypt
    /// from now on.
    pub fn set_epoch_key(&self, epoch: u32, key: &RoomKey) -> Result<(), JsError> {
        self.send(&ToWorker::EpochKey {
            epoch,
            key: key.clone(),
        })
    }

    /// Encrypt our frames in `epoch` from now on.
    pub fn send_epoch(&self, epoch: u32) -> Result<(), JsError> {
        self.send(&ToWorker::SendEpoch { epoch })
    }

    /// Forget every epoch's secret below `below`.
    pub fn retire(&self, below: u32) -> Result<(), JsError> {
        self.send(&ToWorker::Retire { below })
    }

    /// Our sender id for this join (fresh random bytes per join).
    pub fn set_local_sender(&self, sender: SenderId) -> Result<(), JsError> {
        self.send(&ToWorker::LocalSender { sender })
    }

    /// A remote participant's sender id (from its sealed presence profile).
    pub fn set_remote_sender(&self, participant: &str, sender: SenderId) -> Result<(), JsError> {
        self.send(&ToWorker::RemoteSender {
            participant: participant.to_owned(),
            sender,
        })
    }

    /// A participant is gone for good (removed): the worker drops its keys and takes none for
    /// it again — its presence heard later (it may stay in the channel a while) gives it none —
    /// and its state is forgotten here.
    pub fn forget(&self, participant: &str) -> Result<(), JsError> {
        self.states.borrow_mut().by_participant.remove(participant);
        self.send(&ToWorker::Forget {
            participant: participant.to_owned(),
        })
    }

    /// Calls `listener(reason)` once the worker has failed (at once if it already has): its
    /// script or wasm did not load, its start check was rejected, or one of its message handlers
    /// threw. A worker that threw is ended, and nothing it reports counts after a failure: no
    /// frame is sent or shown, and the page tells the person ([`FAILED_SENTENCE`]). Replaces an
    /// earlier listener.
    pub fn on_failure(&self, listener: impl Fn(&str) + 'static) {
        let listener: FailureListener = Rc::new(listener);
        let reason = {
            let mut failure = self.failure.borrow_mut();
            failure.listener = Some(listener.clone());
            failure.reason.clone()
        };
        if let Some(reason) = reason {
            listener(&reason);
        }
    }

    /// Calls `listener(participant, state)` whenever a participant's state changes: the worst of
    /// its transforms' (video, audio). Replaces an earlier listener.
    pub fn on_state(&self, listener: impl Fn(&str, E2eeState) + 'static) {
        self.states.borrow_mut().listener = Some(Rc::new(listener));
    }

    /// A participant's current state; `None` until one of its frames arrived.
    pub fn state_of(&self, participant: &str) -> Option<E2eeState> {
        let states = self.states.borrow();
        E2eeState::worst(states.by_participant.get(participant)?.values().copied())
    }

    /// Encrypts what `sender` sends. Call right after `addTransceiver`, before negotiating.
    pub fn attach_sender(&self, sender: &RtcRtpSender, media: MediaKind) -> Result<(), JsError> {
        self.attach(sender.unchecked_ref(), &TransformOptions::sender(media))
    }

    /// Decrypts what `receiver` receives from `participant`. Call in the `track` handler.
    pub fn attach_receiver(
        &self,
        receiver: &RtcRtpReceiver,
        participant: &str,
        media: MediaKind,
    ) -> Result<(), JsError> {
        self.attach(
            receiver.unchecked_ref(),
            &TransformOptions::receiver(participant, media),
        )
    }

    fn attach(&self, endpoint: &RtpEndpoint, options: &TransformOptions) -> Result<(), JsError> {
        match self.api {
            TransformApi::Script => {
                let bytes = Uint8Array::from(options.to_bytes().as_slice());
                let transform = ScriptTransform::new(&self.worker, &bytes).map_err(js_error)?;
                endpoint.set_transform(&transform);
                Ok(())
            }
            TransformApi::EncodedStreams => {
                let streams = endpoint.create_encoded_streams().map_err(js_error)?;
                let (readable, writable) = (streams.readable(), streams.writable());
                let msg = js_sys::Object::new();
                let attach = ToWorker::Attach {
                    options: options.clone(),
                };
                let bytes = Uint8Array::from(attach.to_bytes().as_slice());
                for (name, value) in [
                    ("msg", bytes.as_ref()),
                    ("readable", &readable),
                    ("writable", &writable),
                ] {
                    Reflect::set(&msg, &name.into(), value).map_err(js_error)?;
                }
                let transfer = Array::of2(&readable, &writable);
                self.worker
                    .post_message_with_transfer(&msg, &transfer)
                    .map_err(js_error)
            }
            TransformApi::Unsupported => Err(JsError(
                "this browser cannot encrypt media end to end".into(),
            )),
        }
    }

    fn send(&self, msg: &ToWorker) -> Result<(), JsError> {
        let bytes = Uint8Array::from(msg.to_bytes().as_slice());
        self.worker.post_message(&bytes).map_err(js_error)
    }
}

impl Drop for TransformWorker {
    fn drop(&mut self) {
        self.worker.set_onmessage(None);
        self.worker.set_onerror(None);
        self.worker.terminate();
    }
}

impl States {
    /// Records a transform's state and tells the listener if its participant's state changed.
    fn update(table: &Rc<RefCell<States>>, participant: &str, media: MediaKind, state: E2eeState) {
        let (changed, listener) = {
            let mut states = table.borrow_mut();
            let media_states = states
                .by_participant
                .entry(participant.to_owned())
                .or_default();
            let before = E2eeState::worst(media_states.values().copied());
            media_states.insert(media, state);
            let after = E2eeState::worst(media_states.values().copied());
            (
                after.filter(|&a| Some(a) != before),
                states.listener.clone(),
            )
        };
        // Called with no borrow held: the listener may read `state_of`.
        if let (Some(state), Some(listener)) = (changed, listener) {
            listener(participant, state);
        }
    }
}
