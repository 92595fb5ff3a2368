//! wasm-bindgen tests of the browser glue, run in headless Chromium by `cargo xtask test`
//! (wasm-bindgen-test-runner + Debian's chromedriver; flags in webdriver.json).
#![cfg(target_arch = "wasm32")]

use pairux_web::platform;
use pairux_web::state::{opened_from_location, Opened};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn random_bytes_come_from_the_browser_csprng() {
    let mut a = [0u8; 80];
    let mut b = [0u8; 80];
    platform::random::fill(&mut a).unwrap();
    platform::random::fill(&mut b).unwrap();
    assert_ne!(a, b);
    assert_ne!(a, [0u8; 80]);
    // More than one getRandomValues call's worth (65,536 bytes).
    let mut big = vec![0u8; 70_000];
    platform::random::fill(&mut big).unwrap();
    assert!(big[65_536..].iter().any(|&x| x != 0));
}

#[wasm_bindgen_test]
fn the_fragment_is_read_once_and_removed_from_the_address_bar() {
    let window = web_sys::window().unwrap();
    let history = window.history().unwrap();
    let original = window.location().pathname().unwrap();
    let (generated, _) =
        pairux_core::SessionLink::generate(&[7; pairux_core::link::GENERATE_RANDOM_LEN]);
    let link = generated
        .viewer_link()
        .replace(&generated.path(), "/s/AAECAwQFBgcICQoLDA0ODw");
    history
        .replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&link))
        .unwrap();

    let at = platform::location::take_opened_at().unwrap();
    assert_eq!(at.path, "/s/AAECAwQFBgcICQoLDA0ODw");
    assert!(at.fragment.starts_with("#k=BwcH"), "{}", at.fragment);
    assert_eq!(window.location().hash().unwrap(), "");
    assert_eq!(
        window.location().pathname().unwrap(),
        "/s/AAECAwQFBgcICQoLDA0ODw"
    );
    match opened_from_location(&at.path, &at.fragment, || None) {
        Opened::Session(entry) => assert_eq!(entry.role, pairux_core::Role::Viewer),
        other => panic!("expected a session, got {other:?}"),
    }

    history
        .replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&original))
        .unwrap();
}

#[wasm_bindgen_test]
fn a_reload_resumes_from_session_storage_and_nothing_goes_to_local_storage() {
    use pairux_web::state::SessionEntry;
    let (link, host) =
        pairux_core::SessionLink::generate(&[9; pairux_core::link::GENERATE_RANDOM_LEN]);
    // The host's pick of topology survives the reload too.
    let entry = SessionEntry::host(link.clone(), host, pairux_core::session::StartMode::Sfu);
    entry.remember();
    // A reload: no fragment, the tab's storage has the entry, host key and mode included.
    match opened_from_location(&link.path(), "", || SessionEntry::remembered(&link.path())) {
        Opened::Session(resumed) => assert_eq!(resumed, entry),
        other => panic!("expected the session back, got {other:?}"),
    }
    let window = web_sys::window().unwrap();
    assert_eq!(
        window.local_storage().unwrap().unwrap().length().unwrap(),
        0
    );
    entry.forget();
    assert_eq!(SessionEntry::remembered(&link.path()), None);
}

#[wasm_bindgen_test]
fn origin_is_the_page_origin() {
    let origin = platform::location::origin().unwrap();
    assert!(
        origin.starts_with("http://127.0.0.1:") || origin.starts_with("http://localhost:"),
        "{origin}"
    );
}

/// A module worker made from `source` (a Blob URL).
fn worker_url(source: &str) -> String {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(source));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/javascript");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).unwrap();
    web_sys::Url::create_object_url_with_blob(&blob).unwrap()
}

/// Starts a transform worker from `source` and returns whether `ready` resolved and what its
/// failure listener heard: one listener registered at once (before any failure can arrive) and
/// one after `ready` settled (a failure recorded before it is replayed to it).
async fn start_worker(source: &str) -> (bool, Vec<String>, Vec<String>) {
    use platform::transform::{TransformApi, TransformWorker};
    use std::{cell::RefCell, rc::Rc};
    let worker = TransformWorker::start(&worker_url(source), TransformApi::detect()).unwrap();
    let early: Rc<RefCell<Vec<String>>> = Rc::default();
    let sink = early.clone();
    worker.on_failure(move |reason| sink.borrow_mut().push(reason.to_owned()));
    let ready = worker.ready().await.is_ok();
    // Whatever else the worker fires comes before this.
    gloo_timers::future::TimeoutFuture::new(200).await;
    let late: Rc<RefCell<Vec<String>>> = Rc::default();
    let sink = late.clone();
    worker.on_failure(move |reason| sink.borrow_mut().push(reason.to_owned()));
    let (early, late) = (early.borrow().clone(), late.borrow().clone());
    (ready, early, late)
}

/// A worker from `source` never gets ready, and both its failure listeners hear exactly one
/// failure, whose reason names `needle`.
async fn fails_once(source: &str, needle: &str) {
    let (ready, early, late) = start_worker(source).await;
    assert!(!ready);
    assert_eq!(early.len(), 1, "{early:?}");
    assert!(early[0].contains(needle), "{early:?}");
    assert_eq!(late, early);
}

#[wasm_bindgen_test]
async fn a_worker_that_fails_its_start_check_is_reported_once_and_never_ready() {
    let rejected = pairux_core::e2ee::FromWorker::Rejected {
        reason: "frame check failed".into(),
    }
    .to_bytes();
    // Rejected, then a throw: the first failure is the one reported.
    let source = format!(
        "self.postMessage(new Uint8Array({rejected:?})); setTimeout(() => {{ throw new Error('later'); }}, 0);"
    );
    fails_once(&source, "frame check failed").await;
}

#[wasm_bindgen_test]
async fn a_worker_whose_script_throws_is_reported_and_never_ready() {
    fails_once("throw new Error('no wasm here');", "no wasm here").await;
}

#[wasm_bindgen_test]
async fn a_worker_whose_script_does_not_parse_is_reported_and_never_ready() {
    // A script that does not load or parse fires a plain `Event` (no message) at the Worker.
    fails_once("let = = ;", "did not load").await;
}

#[wasm_bindgen_test]
async fn a_worker_that_starts_reports_no_failure() {
    let ready_msg = pairux_core::e2ee::FromWorker::Ready.to_bytes();
    let (ready, early, late) =
        start_worker(&format!("self.postMessage(new Uint8Array({ready_msg:?}));")).await;
    assert!(ready);
    assert!(early.is_empty() && late.is_empty(), "{early:?} {late:?}");
}

/// The DOM builder the guest's page is drawn with (`platform::el`): a region is made again
/// only when its key changes, what it made before stops following its signals, and an
/// owner's cleanup stops every binding made under it.
#[wasm_bindgen_test]
async fn a_region_is_remade_only_when_its_key_changes_and_old_bindings_stop() {
    use leptos::prelude::*;
    use platform::el::el;
    use std::cell::Cell;
    use std::rc::Rc;
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let tick = || gloo_timers::future::TimeoutFuture::new(0);

    let owner = Owner::new();
    let key = RwSignal::new(1u32);
    let other = RwSignal::new(0u32);
    let builds = Rc::new(Cell::new(0));
    let runs_of_first = Rc::new(Cell::new(0));
    let root = owner.with(|| {
        let (builds, runs_of_first) = (builds.clone(), runs_of_first.clone());
        el("div").region(
            move || key.get(),
            move |k| {
                builds.set(builds.get() + 1);
                let runs = runs_of_first.clone();
                vec![el("span").bind_text(move || {
                    if k == 1 {
                        runs.set(runs.get() + 1);
                    }
                    format!("{k}:{}", other.get())
                })]
            },
        )
    });
    let text = || root.node().text_content().unwrap_or_default();
    let spans = || root.node().get_elements_by_tag_name("span").length();
    assert_eq!((text(), builds.get(), spans()), ("1:0".to_owned(), 1, 1));

    other.set(5);
    tick().await;
    assert_eq!(
        (text(), builds.get()),
        ("1:5".to_owned(), 1),
        "a binding inside follows"
    );

    key.set(1);
    tick().await;
    assert_eq!(builds.get(), 1, "the same key makes nothing again");

    key.set(2);
    tick().await;
    assert_eq!((text(), builds.get(), spans()), ("2:5".to_owned(), 2, 1));
    let first_runs = runs_of_first.get();
    other.set(6);
    tick().await;
    assert_eq!(text(), "2:6");
    assert_eq!(
        runs_of_first.get(),
        first_runs,
        "the first content's binding has stopped"
    );

    owner.cleanup();
    other.set(7);
    key.set(3);
    tick().await;
    assert_eq!(
        (text(), builds.get()),
        ("2:6".to_owned(), 2),
        "cleaned up: nothing follows"
    );
}

#[wasm_bindgen_test]
async fn bound_attributes_follow_their_signals_and_go_when_none() {
    use leptos::prelude::*;
    use platform::el::el;
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let owner = Owner::new();
    let state = RwSignal::new(Some("a".to_owned()));
    let on = RwSignal::new(true);
    let node = owner.with(|| {
        el("button")
            .bind_attr("data-state", move || state.get())
            .bind_flag("disabled", move || on.get())
            .bind_class("on", move || on.get())
    });
    let attr = |name: &str| node.node().get_attribute(name);
    assert_eq!(attr("data-state").as_deref(), Some("a"));
    assert_eq!(attr("disabled").as_deref(), Some(""));
    assert!(node.node().class_list().contains("on"));
    state.set(None);
    on.set(false);
    gloo_timers::future::TimeoutFuture::new(0).await;
    assert_eq!(attr("data-state"), None);
    assert_eq!(attr("disabled"), None);
    assert!(!node.node().class_list().contains("on"));
    owner.cleanup();
}

/// A keyed list keeps the row (the same element, its bindings) of a key that stays, moves it
/// only when out of place, and stops a removed row's bindings.
#[wasm_bindgen_test]
async fn a_list_keeps_the_rows_of_keys_that_stay_and_drops_the_others() {
    use leptos::prelude::*;
    use platform::el::el;
    use std::cell::Cell;
    use std::rc::Rc;
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let tick = || gloo_timers::future::TimeoutFuture::new(0);
    let owner = Owner::new();
    let items = RwSignal::new(vec!["a", "b", "c"]);
    let label = RwSignal::new(0u32);
    let made = Rc::new(Cell::new(0));
    let runs_of_b = Rc::new(Cell::new(0));
    let list = owner.with(|| {
        let (made, runs_of_b) = (made.clone(), runs_of_b.clone());
        el("ul").text("head").list(
            move || items.get(),
            |s: &&str| *s,
            move |s: &&str| {
                made.set(made.get() + 1);
                let (s, runs) = (*s, runs_of_b.clone());
                el("li").bind_text(move || {
                    if s == "b" {
                        runs.set(runs.get() + 1);
                    }
                    format!("{s}{}", label.get())
                })
            },
        )
    });
    let rows = || {
        let lis = list.node().get_elements_by_tag_name("li");
        (0..lis.length())
            .filter_map(|i| lis.item(i))
            .collect::<Vec<_>>()
    };
    let texts = || {
        rows()
            .iter()
            .map(|li| li.text_content().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    assert_eq!(texts(), ["a0", "b0", "c0"]);
    assert_eq!(made.get(), 3);
    let first = rows();

    items.set(vec!["c", "a", "b"]);
    tick().await;
    assert_eq!(texts(), ["c0", "a0", "b0"]);
    assert_eq!(made.get(), 3, "reordered, nothing made again");
    assert!(rows()[0] == first[2] && rows()[1] == first[0] && rows()[2] == first[1]);
    assert!(list
        .node()
        .text_content()
        .unwrap_or_default()
        .starts_with("head"));

    items.set(vec!["a", "d"]);
    tick().await;
    assert_eq!(texts(), ["a0", "d0"]);
    assert_eq!(made.get(), 4, "one new row");
    assert!(rows()[0] == first[0]);
    let b_runs = runs_of_b.get();
    label.set(1);
    tick().await;
    assert_eq!(texts(), ["a1", "d1"]);
    assert_eq!(
        runs_of_b.get(),
        b_runs,
        "a removed row's binding has stopped"
    );
    owner.cleanup();
}

/// A listener goes with the owner it was made under: removed from its element, its closure
/// freed (a closure holding its own element would otherwise keep both alive).
#[wasm_bindgen_test]
fn a_listener_is_removed_when_its_owner_is_cleaned_up() {
    use leptos::prelude::*;
    use platform::el::el;
    use std::cell::Cell;
    use std::rc::Rc;
    let owner = Owner::new();
    let clicks = Rc::new(Cell::new(0));
    let button = owner.with(|| {
        let clicks = clicks.clone();
        el("button").on("click", move |_| clicks.set(clicks.get() + 1))
    });
    let click = || {
        let button: web_sys::HtmlElement = button.cast();
        button.click();
    };
    click();
    assert_eq!(clicks.get(), 1);
    owner.cleanup();
    click();
    assert_eq!(clicks.get(), 1);
}

/// Made outside any owner, a list's kept rows still follow their signals after it changes.
#[wasm_bindgen_test]
async fn a_list_made_without_an_owner_keeps_its_rows_alive() {
    use leptos::prelude::*;
    use platform::el::el;
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let tick = || gloo_timers::future::TimeoutFuture::new(0);
    let items = RwSignal::new(vec![1u32, 2]);
    let label = RwSignal::new("a");
    let list = el("ul").list(
        move || items.get(),
        |n: &u32| *n,
        move |n: &u32| {
            let n = *n;
            el("li").bind_text(move || format!("{n}{}", label.get()))
        },
    );
    items.set(vec![2, 3]);
    tick().await;
    label.set("b");
    tick().await;
    assert_eq!(list.node().text_content().unwrap_or_default(), "2b3b");
}
