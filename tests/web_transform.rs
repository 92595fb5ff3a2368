//! The E2EE transform glue (`platform::transform`) with the real transform worker in headless
//! Chromium: a loopback call inside one page (fake camera, both peer connections here) whose
//! sender encrypts and receiver decrypts through the worker, on both browser APIs; a receiver
//! with the wrong room key; a sender without keys.
//!
//! The worker is the release build in dist/ (`cargo xtask test` builds it first): the
//! wasm-bindgen test server also serves files from the package root, so `/dist/…` is
//! same-origin with the test page, as a worker script must be.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use pairux_core::e2ee::{E2eeState, MediaKind, SenderId};
use pairux_core::link::RoomKey;
use pairux_web::platform::transform::{TransformApi, TransformWorker};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;
use web_sys::{RtcConfiguration, RtcRtpReceiver, RtcRtpSender};

wasm_bindgen_test_configure!(run_in_browser);

const WORKER: &str = "/dist/pairux-worker_loader.js";
const HOST: &str = "host";

#[wasm_bindgen(inline_js = "
export async function loopback(config, onTrack) {
  const pc1 = new RTCPeerConnection(config);
  const pc2 = new RTCPeerConnection(config);
  pc1.onicecandidate = (e) => { if (e.candidate) pc2.addIceCandidate(e.candidate).catch(() => {}); };
  pc2.onicecandidate = (e) => { if (e.candidate) pc1.addIceCandidate(e.candidate).catch(() => {}); };
  pc2.ontrack = (e) => onTrack(e.receiver);
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } });
  const transceiver = pc1.addTransceiver(stream.getVideoTracks()[0], { direction: 'sendonly' });
  return { pc1, pc2, stream, sender: transceiver.sender };
}
export async function connect(call) {
  const offer = await call.pc1.createOffer();
  await call.pc1.setLocalDescription(offer);
  await call.pc2.setRemoteDescription(offer);
  const answer = await call.pc2.createAnswer();
  await call.pc2.setLocalDescription(answer);
  await call.pc1.setRemoteDescription(answer);
}
export async function video_stats(call) {
  const out = { decoded: 0, received: 0, encoded: 0, packets: 0 };
  (await call.pc2.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      out.decoded = s.framesDecoded ?? 0;
      out.received = s.framesReceived ?? 0;
      out.packets = s.packetsReceived ?? 0;
    }
  });
  (await call.pc1.getStats()).forEach((s) => {
    if (s.type === 'outbound-rtp' && s.kind === 'video') out.encoded = s.framesEncoded ?? 0;
  });
  return [out.decoded, out.received, out.encoded, out.packets];
}
export function hang_up(call) {
  call.pc1.close();
  call.pc2.close();
  call.stream.getTracks().forEach((t) => t.stop());
}
")]
extern "C" {
    type Call;

    #[wasm_bindgen(catch)]
    async fn loopback(config: &RtcConfiguration, on_track: &JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(catch)]
    async fn connect(call: &Call) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(catch)]
    async fn video_stats(call: &Call) -> Result<JsValue, JsValue>;

    fn hang_up(call: &Call);

    #[wasm_bindgen(method, getter)]
    fn sender(this: &Call) -> RtcRtpSender;
}

async fn sleep(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// Video counters of a call.
struct Stats {
    /// Frames the receiver decoded.
    decoded: u32,
    /// Frames the receiver passed on to its decoder (Chromium counts them after the transform).
    received: u32,
    /// Frames the sender's encoder produced (before the transform).
    encoded: u32,
    /// RTP packets that reached the receiver.
    packets: u32,
}

async fn stats(call: &Call) -> Stats {
    let values = js_sys::Array::from(&video_stats(call).await.expect("getStats"));
    let n = |i| values.get(i).as_f64().unwrap_or(0.0) as u32;
    Stats {
        decoded: n(0),
        received: n(1),
        encoded: n(2),
        packets: n(3),
    }
}

async fn started(api: TransformApi) -> Rc<TransformWorker> {
    let worker = Rc::new(TransformWorker::start(WORKER, api).expect("worker script"));
    worker.ready().await.expect("the worker says ready");
    worker
}

fn sender_id() -> SenderId {
    let mut bytes = [0u8; 16];
    pairux_web::platform::random::fill(&mut bytes).unwrap();
    SenderId::from_bytes(bytes)
}

/// Every state `worker` reported for the host, in order.
fn record_states(worker: &TransformWorker) -> Rc<RefCell<Vec<E2eeState>>> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    worker.on_state(move |participant, state| {
        assert_eq!(participant, HOST);
        log.borrow_mut().push(state);
    });
    seen
}

/// A loopback call: `sending` encrypts the video (if it has keys), `receiving` decrypts it as
/// the host's.
async fn call(
    api: TransformApi,
    sending: &TransformWorker,
    receiving: Rc<TransformWorker>,
) -> Call {
    let config = RtcConfiguration::new();
    api.configure(&config);
    let on_track = Closure::<dyn FnMut(RtcRtpReceiver)>::new(move |receiver: RtcRtpReceiver| {
        receiving
            .attach_receiver(&receiver, HOST, MediaKind::Video)
            .expect("attach the receiver transform");
    });
    let call: Call = loopback(&config, on_track.as_ref())
        .await
        .expect("camera and peer connections")
        .unchecked_into();
    // The handler outlives this function with the call.
    on_track.forget();
    sending
        .attach_sender(&call.sender(), MediaKind::Video)
        .expect("attach the sender transform");
    connect(&call).await.expect("offer/answer");
    call
}

/// Waits up to `ms` for the worker to report `want` for the host.
async fn wait_for(seen: &Rc<RefCell<Vec<E2eeState>>>, want: E2eeState, ms: u32) {
    for _ in 0..ms / 50 {
        if seen.borrow().last() == Some(&want) {
            return;
        }
        sleep(50).await;
    }
    panic!(
        "no {want:?} within {ms} ms; states seen: {:?}",
        seen.borrow()
    );
}

/// Gives `worker` the secret of media epoch 1 (what a seat brings), and sends in it if `send`.
fn keyed(worker: &TransformWorker, secret: u8, send: bool) {
    worker
        .set_epoch_key(1, &RoomKey::from_bytes([secret; 32]))
        .unwrap();
    if send {
        worker.send_epoch(1).unwrap();
    }
}

async fn encrypted_call_decodes(api: TransformApi) {
    let worker = started(api).await;
    let me = sender_id();
    keyed(&worker, 0x11, true);
    worker.set_local_sender(me).unwrap();
    worker.set_remote_sender(HOST, me).unwrap();
    let seen = record_states(&worker);

    let call = call(api, &worker, worker.clone()).await;
    wait_for(&seen, E2eeState::Ok, 15_000).await;
    let mut decoded = 0;
    for _ in 0..100 {
        decoded = stats(&call).await.decoded;
        if decoded > 5 {
            break;
        }
        sleep(100).await;
    }
    hang_up(&call);
    assert!(
        decoded > 5,
        "frames decoded through the transforms: {decoded}"
    );
    assert_eq!(worker.state_of(HOST), Some(E2eeState::Ok));
    assert_eq!(*seen.borrow(), [E2eeState::Ok]);
}

#[wasm_bindgen_test]
fn chromium_has_the_standard_api_and_only_the_fallback_sets_the_flag() {
    assert_eq!(TransformApi::detect(), TransformApi::Script);
    let flag = |api: TransformApi| {
        let config = RtcConfiguration::new();
        api.configure(&config);
        js_sys::Reflect::get(&config, &"encodedInsertableStreams".into()).unwrap()
    };
    assert_eq!(flag(TransformApi::EncodedStreams), JsValue::TRUE);
    assert!(flag(TransformApi::Script).is_undefined());
    assert!(TransformApi::EncodedStreams.needs_insertable_streams());
    assert!(!TransformApi::Script.needs_insertable_streams());
}

#[wasm_bindgen_test]
async fn a_missing_worker_script_fails_ready() {
    let worker = TransformWorker::start("/dist/no-such-worker.js", TransformApi::Script).unwrap();
    assert!(worker.ready().await.is_err());
}

#[wasm_bindgen_test]
async fn script_transform_call_decrypts() {
    encrypted_call_decodes(TransformApi::Script).await;
}

#[wasm_bindgen_test]
async fn encoded_streams_call_decrypts() {
    encrypted_call_decodes(TransformApi::EncodedStreams).await;
}

#[wasm_bindgen_test]
async fn a_wrong_secret_shows_decrypt_failed_and_decodes_nothing() {
    let api = TransformApi::Script;
    let (host, viewer) = (started(api).await, started(api).await);
    let me = sender_id();
    keyed(&host, 0x22, true);
    host.set_local_sender(me).unwrap();
    keyed(&viewer, 0x33, false);
    viewer.set_remote_sender(HOST, me).unwrap();
    let seen = record_states(&viewer);

    let call = call(api, &host, viewer.clone()).await;
    // The state itself shows that frames reached the receiver's transform.
    wait_for(&seen, E2eeState::DecryptFailed, 15_000).await;
    sleep(500).await;
    let stats = stats(&call).await;
    hang_up(&call);
    assert!(stats.packets > 0, "media packets arrived");
    assert_eq!(stats.decoded, 0, "nothing decodes with the wrong key");
}

#[wasm_bindgen_test]
async fn without_keys_the_sender_sends_no_frame() {
    let api = TransformApi::Script;
    let (host, viewer) = (started(api).await, started(api).await);
    let me = sender_id();
    // The host has its sender id and the room key as epoch 0's secret — never a media secret
    // (a guest before its seat's secret) — so it has no key to send in; the viewer has
    // everything, epoch 0 included.
    let room = RoomKey::from_bytes([0x44; 32]);
    host.set_local_sender(me).unwrap();
    host.set_epoch_key(0, &room).unwrap();
    host.send_epoch(0).unwrap();
    keyed(&viewer, 0x44, false);
    viewer.set_epoch_key(0, &room).unwrap();
    viewer.set_remote_sender(HOST, me).unwrap();
    let seen = record_states(&viewer);

    let call = call(api, &host, viewer.clone()).await;
    let mut encoded = 0;
    for _ in 0..100 {
        encoded = stats(&call).await.encoded;
        if encoded > 30 {
            break;
        }
        sleep(100).await;
    }
    let stats = stats(&call).await;
    hang_up(&call);
    assert!(encoded > 30, "the encoder ran: {encoded}");
    assert_eq!(
        (stats.decoded, stats.received),
        (0, 0),
        "no frame left the sender"
    );
    assert!(seen.borrow().is_empty());
}

#[wasm_bindgen_test]
async fn a_barred_participant_decodes_no_more_even_when_its_presence_comes_again() {
    let api = TransformApi::Script;
    let (host, viewer) = (started(api).await, started(api).await);
    let me = sender_id();
    keyed(&host, 0x55, true);
    host.set_local_sender(me).unwrap();
    keyed(&viewer, 0x55, false);
    viewer.set_remote_sender(HOST, me).unwrap();
    let seen = record_states(&viewer);

    let call = call(api, &host, viewer.clone()).await;
    wait_for(&seen, E2eeState::Ok, 15_000).await;
    // The host removed this sender: its keys go, and its presence heard again (a meta it
    // tracks later) gives it none.
    viewer.forget(HOST).unwrap();
    viewer.set_remote_sender(HOST, me).unwrap();
    wait_for(&seen, E2eeState::WaitingKey, 5_000).await;
    let before = stats(&call).await;
    // Frames go on arriving (packets grow), and none of them decodes.
    let mut after = stats(&call).await;
    for _ in 0..100 {
        after = stats(&call).await;
        if after.packets > before.packets + 50 {
            break;
        }
        sleep(100).await;
    }
    hang_up(&call);
    assert!(
        after.packets > before.packets + 50,
        "media kept arriving: {} → {}",
        before.packets,
        after.packets
    );
    // One frame may have been in the decoder as the keys went.
    assert!(
        after.decoded <= before.decoded + 1,
        "decoded after the bar: {} → {}",
        before.decoded,
        after.decoded
    );
    assert_eq!(viewer.state_of(HOST), Some(E2eeState::WaitingKey));
}
