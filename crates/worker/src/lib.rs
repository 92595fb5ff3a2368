//! PairUX's E2EE transform worker: the read → transform → write pump for encoded frames.
//!
//! One dedicated worker, one wasm instance, for every transform of the page (reference/e2ee.md).
//! Frames arrive either as `rtctransform` events (`RTCRtpScriptTransform`) or as a stream pair
//! posted by the page (Chromium's `createEncodedStreams` fallback); both become the same pipe:
//! `readable → TransformStream(encrypt | decrypt) → writable`. Every decision — keys, clear
//! prefix, replay, fail-closed, `e2ee-state`, key-frame requests — is made by
//! `pairux_core::e2ee`; this crate only moves bytes and messages.
//!
//! Architecture invariant: keys never leave this worker; the page only learns per-participant
//! states. The worker never drops to plaintext: a frame that cannot be encrypted is not sent.
#![cfg(target_arch = "wasm32")]

mod bench;
mod bootstrap;
mod frame;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use js_sys::{Object, Reflect, Uint8Array};
use pairux_core::e2ee::{
    E2eeEngine, FrameInfo, FrameOutcome, FromWorker, ReceiverHealth, Side, ToWorker,
    TransformOptions,
};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast as _, JsValue};
use web_sys::{
    DedicatedWorkerGlobalScope, MessageEvent, ReadableStream, ReadableWritablePair,
    RtcRtpScriptTransformer, RtcTransformEvent, TransformStream, TransformStreamDefaultController,
    WritableStream,
};

pub use bench::FrameBench;
use frame::EncodedFrame;

/// Starts the worker: checks its frame crypto ([`Worker::warm_up`]), installs its handlers,
/// replays what arrived before, says `ready`. A worker whose check fails says so instead and
/// handles nothing: no frame passes it, either way (fail closed).
pub fn start() {
    // Release builds abort on a panic before any hook runs (xtask::build::WASM_STD).
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let worker = Rc::new(Worker {
        scope: scope.clone(),
        engine: RefCell::new(E2eeEngine::new()),
        buffers: RefCell::new((Vec::new(), Vec::new())),
        pumps: RefCell::new(HashMap::new()),
        next_pump: RefCell::new(0),
    });
    if !Worker::warm_up() {
        return worker.reject("frame crypto self-check failed");
    }
    install_handlers_forever(&worker);
    for event in bootstrap::take_early_events() {
        worker.dispatch(event);
    }
    bootstrap::post(&scope, &FromWorker::Ready);
}

/// The worker's handlers live as long as the worker itself: leaked on purpose.
fn install_handlers_forever(worker: &Rc<Worker>) {
    let w = worker.clone();
    let on_message = Closure::<dyn Fn(JsValue)>::new(move |ev| w.dispatch(ev));
    worker
        .scope
        .set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker
        .scope
        .set_onrtctransform(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
}

struct Worker {
    scope: DedicatedWorkerGlobalScope,
    engine: RefCell<E2eeEngine>,
    /// Reused frame buffers: (input, output).
    buffers: RefCell<(Vec<u8>, Vec<u8>)>,
    /// Running pipes by id; each removes itself when its streams end.
    pumps: RefCell<HashMap<u32, Pump>>,
    next_pump: RefCell<u32>,
}

/// One transform's pipe: its transform callback, owned here, dropped when the pipe ends.
struct Pump {
    _transform: Closure<dyn FnMut(JsValue, TransformStreamDefaultController)>,
    _cleanup: Closure<dyn FnMut()>,
}

/// One transform's own state.
struct Transform {
    options: TransformOptions,
    health: ReceiverHealth,
    /// For `sendKeyFrameRequest()` (absent on the `createEncodedStreams` path).
    transformer: Option<RtcRtpScriptTransformer>,
}

impl Worker {
    /// A `message` or `rtctransform` event.
    fn dispatch(self: &Rc<Self>, event: JsValue) {
        if let Some(ev) = event.dyn_ref::<RtcTransformEvent>() {
            let transformer = ev.transformer();
            match options_of(&transformer.options()) {
                Some(options) => self.pump(
                    transformer.readable(),
                    transformer.writable(),
                    options,
                    Some(transformer),
                ),
                None => self.reject("transform without valid options"),
            }
        } else if let Some(ev) = event.dyn_ref::<MessageEvent>() {
            self.on_message(&ev.data());
        }
    }

    /// A page message: a [`ToWorker`] as a `Uint8Array`, or `{msg, readable, writable}` for
    /// the stream fallback.
    fn on_message(self: &Rc<Self>, data: &JsValue) {
        let bytes = if data.is_instance_of::<Uint8Array>() {
            Some(data.clone())
        } else {
            Reflect::get(data, &"msg".into()).ok()
        };
        let Some(msg) = bytes.and_then(|b| decode(&b, ToWorker::from_bytes)) else {
            return self.reject("unreadable message");
        };
        if let ToWorker::Attach { options } = msg {
            let stream = |name: &str| Reflect::get(data, &name.into()).ok();
            match (stream("readable"), stream("writable")) {
                (Some(r), Some(w))
                    if r.is_instance_of::<ReadableStream>()
                        && w.is_instance_of::<WritableStream>() =>
                {
                    self.pump(r.unchecked_into(), w.unchecked_into(), options, None)
                }
                _ => self.reject("attach without streams"),
            }
        } else {
            self.engine.borrow_mut().handle(&msg);
        }
    }

    /// Runs the frame crypto once, at start, on the benchmark's fixed key ([`FrameBench`]:
    /// the pump's encrypt and decrypt paths), and says whether the round trip gave the frame
    /// back. A guest's first received frame spent 2–11 ms in this worker (the first run of
    /// this code: compiled on first call), every later one 0.1–1 ms (`bench/media.mjs
    /// --detail`); the worker starts while the page joins, long before any frame, so that
    /// first run costs nobody a wait now (~1–3 ms before `ready`).
    fn warm_up() -> bool {
        // About a first key frame of a page of text.
        let frame: Vec<u8> = (0..16_384u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut crypto = FrameBench::new();
        // Empty when it could not be encrypted, or did not authenticate.
        let sealed = crypto.encrypt(&frame);
        !sealed.is_empty() && sealed != frame && crypto.decrypt(&sealed) == frame
    }

    fn reject(&self, reason: &str) {
        bootstrap::post(
            &self.scope,
            &FromWorker::Rejected {
                reason: reason.into(),
            },
        );
    }

    /// `readable → transform → writable` until the streams end.
    fn pump(
        self: &Rc<Self>,
        readable: ReadableStream,
        writable: WritableStream,
        options: TransformOptions,
        transformer: Option<RtcRtpScriptTransformer>,
    ) {
        let mut transform = Transform {
            options,
            health: ReceiverHealth::new(),
            transformer,
        };
        let worker = self.clone();
        let callback = Closure::<dyn FnMut(JsValue, TransformStreamDefaultController)>::new(
            move |chunk, controller: TransformStreamDefaultController| {
                if let Some(frame) = EncodedFrame::from_chunk(chunk) {
                    if worker.process(&mut transform, &frame) {
                        // Enqueue fails only once the pipe is closing: the frame is moot then.
                        let _ = controller.enqueue_with_chunk(frame.as_js());
                    }
                }
            },
        );
        let transformer = Object::new();
        let _ = Reflect::set(&transformer, &"transform".into(), callback.as_ref());
        let Ok(stream) = TransformStream::new_with_transformer(&transformer) else {
            return self.reject("cannot create a TransformStream");
        };
        let pair = ReadableWritablePair::new(&stream.readable(), &stream.writable());
        let done = readable.pipe_through(&pair).pipe_to(&writable);

        let id = {
            let mut next = self.next_pump.borrow_mut();
            *next = next.wrapping_add(1);
            *next
        };
        // Whether the pipe ends or errors (the connection closed), drop its callbacks.
        // (Dropping a closure while it runs is safe: wasm-bindgen frees it after it returns.)
        let worker = self.clone();
        let cleanup = Closure::<dyn FnMut()>::new(move || {
            worker.pumps.borrow_mut().remove(&id);
        });
        let _ = done.finally(&cleanup);
        self.pumps.borrow_mut().insert(
            id,
            Pump {
                _transform: callback,
                _cleanup: cleanup,
            },
        );
    }

    /// Encrypts or decrypts `frame` in place; returns whether to pass it on.
    fn process(&self, t: &mut Transform, frame: &EncodedFrame) -> bool {
        let info = FrameInfo {
            media: t.options.media,
            codec: t.options.codec_for(frame.mime_type().as_deref()),
            key_frame: frame.is_key_frame(),
        };
        let mut buffers = self.buffers.borrow_mut();
        let (input, output) = &mut *buffers;
        frame.read_into(input);
        if input.is_empty() {
            return true;
        }
        let mut engine = self.engine.borrow_mut();
        match (t.options.side, t.options.participant.as_deref()) {
            (Side::Send, _) => {
                let result = engine.encrypt(info, input, output);
                let sent = result.is_ok();
                if sent {
                    frame.write(output);
                }
                // The page's `e2ee-state` for what we send: measured here, per frame.
                let effects = t.health.observe(FrameOutcome::of(&result), self.now_ms());
                if let Some(state) = effects.report {
                    bootstrap::post(
                        &self.scope,
                        &FromWorker::Sending {
                            media: t.options.media,
                            state,
                        },
                    );
                }
                sent
            }
            (Side::Receive, Some(participant)) => {
                let result = engine.decrypt(participant, info, input, output);
                let ok = result.is_ok();
                if ok {
                    frame.write(output);
                }
                let effects = t.health.observe(FrameOutcome::of(&result), self.now_ms());
                if let Some(state) = effects.report {
                    bootstrap::post(
                        &self.scope,
                        &FromWorker::State {
                            participant: participant.to_owned(),
                            media: t.options.media,
                            state,
                        },
                    );
                }
                if effects.request_key_frame {
                    if let Some(transformer) = &t.transformer {
                        // Unsupported or refused requests change nothing; the next recovery asks again.
                        let _ = transformer.send_key_frame_request();
                    }
                }
                ok
            }
            // A receiver that does not say whose frames it carries decrypts nothing.
            (Side::Receive, None) => false,
        }
    }

    fn now_ms(&self) -> u64 {
        self.scope
            .unchecked_ref::<web_sys::WorkerGlobalScope>()
            .performance()
            .map_or(0, |p| p.now() as u64)
    }
}

/// Transform options travel as the bytes of [`TransformOptions`].
fn options_of(value: &JsValue) -> Option<TransformOptions> {
    decode(value, TransformOptions::from_bytes)
}

/// A protocol value from a `Uint8Array`.
fn decode<T, E>(value: &JsValue, from_bytes: impl Fn(&[u8]) -> Result<T, E>) -> Option<T> {
    let bytes = value.dyn_ref::<Uint8Array>()?.to_vec();
    from_bytes(&bytes).ok()
}
