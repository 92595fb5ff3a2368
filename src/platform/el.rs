//! A small DOM builder, for the pages drawn without a view framework (the guest's session page,
//! `components::guest`): elements made and filled with web-sys calls, and kept up to date by
//! effects of the reactive graph the rest of the app uses.
//!
//! Why: a guest's wasm is downloaded and compiled before its first frame. The same page as
//! Leptos views cost ~88 KB of gzipped wasm (ARCHITECTURE.md, App size), most of it the view
//! types each `view!` monomorphises; here each binding is one boxed closure and every call
//! goes through the same few non-generic functions.
//!
//! Ownership follows the reactive graph's: a binding or a region belongs to the owner current
//! when it is made, and stops when that owner is cleaned up. A region's content is made under
//! the region's own owner, which is cleaned up before the content is made again.

use std::cell::RefCell;

use leptos::prelude::{Get, Memo, Owner, RwSignal, Set, StoredValue, WithUntracked};
use leptos::reactive::effect::RenderEffect;
use leptos::reactive::graph::untrack;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast as _, UnwrapThrowExt as _};
use web_sys::{Element, Event, EventTarget, Node};

thread_local! {
    static DOC: web_sys::Document = web_sys::window()
        .and_then(|w| w.document())
        .expect_throw("a page has a document");
}

/// An element being built (or kept, to be changed later).
#[derive(Clone)]
pub struct El(Element);

/// A new `<tag>` element.
pub fn el(tag: &str) -> El {
    El(DOC.with(|d| d.create_element(tag)).unwrap_throw())
}

fn text_node(text: &str) -> web_sys::Text {
    DOC.with(|d| d.create_text_node(text))
}

/// Sets `signal` to `value` only when it differs, so nothing that reads it runs again for an
/// equal value (a presence sync or a control message repeats most states).
pub fn set_if_changed<T: PartialEq + Send + Sync + 'static>(signal: RwSignal<T>, value: T) {
    if signal.with_untracked(|now| *now != value) {
        signal.set(value);
    }
}

/// Runs `f` now and again whenever a signal it read changes, until the current owner is
/// cleaned up.
pub fn watch(f: impl Fn() + 'static) {
    watch_dyn(Box::new(f));
}

fn watch_dyn(f: Box<dyn Fn()>) {
    let effect = RenderEffect::new(move |_: Option<()>| f());
    StoredValue::new_local(effect);
}

/// Runs `f` once the current task has ended, then again whenever a signal it read changes,
/// until the current owner is cleaned up (Leptos's `Effect::new`, behind one boxed closure:
/// each `Effect::new` of a closure type of its own is kilobytes of wasm).
pub fn effect(f: impl FnMut() + 'static) {
    effect_dyn(Box::new(f));
}

fn effect_dyn(mut f: Box<dyn FnMut()>) {
    leptos::prelude::Effect::new(move |_| f());
}

impl El {
    /// The DOM element.
    pub fn node(&self) -> &Element {
        &self.0
    }

    /// The element as its interface `T` (an `HtmlVideoElement`, …).
    pub fn cast<T: wasm_bindgen::JsCast>(&self) -> T {
        self.0.clone().unchecked_into()
    }

    pub fn attr(self, name: &str, value: &str) -> Self {
        let _ = self.0.set_attribute(name, value);
        self
    }

    pub fn class(self, class: &str) -> Self {
        self.attr("class", class)
    }

    /// `data-testid`: the contract's names (product.md).
    pub fn testid(self, id: &str) -> Self {
        self.attr("data-testid", id)
    }

    /// Appends text.
    pub fn text(self, text: &str) -> Self {
        let _ = self.0.append_child(&text_node(text));
        self
    }

    pub fn child(self, child: El) -> Self {
        let _ = self.0.append_child(&child.0);
        self
    }

    /// Appends each of `children` (`None`s are skipped).
    pub fn children(self, children: impl IntoIterator<Item = Option<El>>) -> Self {
        for child in children.into_iter().flatten() {
            let _ = self.0.append_child(&child.0);
        }
        self
    }

    /// Sets the element's markup (constant markup only, never anyone's data).
    pub fn markup(self, html: &'static str) -> Self {
        self.0.set_inner_html(html);
        self
    }

    /// Sets the attribute `name` now (for an element kept to be changed later).
    pub fn set(&self, name: &str, value: &str) {
        let _ = self.0.set_attribute(name, value);
    }

    /// Replaces the element's content with `text`.
    pub fn set_text(&self, text: &str) {
        self.0.set_text_content(Some(text));
    }

    /// Appends the element to `parent`.
    pub fn append_to(&self, parent: &Element) {
        let _ = parent.append_child(&self.0);
    }

    /// Makes the element `parent`'s only content.
    pub fn fill(&self, parent: &Element) {
        parent.replace_children_with_node_1(&self.0);
    }

    /// Calls `f` with each `event` as its interface `E` (a `KeyboardEvent`, …).
    pub fn on_as<E: wasm_bindgen::JsCast>(
        self,
        event: &str,
        mut f: impl FnMut(E) + 'static,
    ) -> Self {
        self.on(event, move |ev| f(ev.unchecked_into()))
    }

    /// Calls `f` with each `event` (the listener lives as long as the element).
    pub fn on(self, event: &str, f: impl FnMut(Event) + 'static) -> Self {
        listen(&self.0, event, false, Box::new(f));
        self
    }

    /// The attribute `name` follows `f` (absent while it returns `None`).
    pub fn bind_attr(self, name: &'static str, f: impl Fn() -> Option<String> + 'static) -> Self {
        bind_attr_dyn(self.0.clone(), name, Box::new(f));
        self
    }

    /// The attribute `name` follows `f`.
    pub fn bind_str(self, name: &'static str, f: impl Fn() -> &'static str + 'static) -> Self {
        bind_attr_dyn(self.0.clone(), name, Box::new(move || Some(f().to_owned())));
        self
    }

    /// A boolean attribute (`disabled`, …), present while `f` is true.
    pub fn bind_flag(self, name: &'static str, f: impl Fn() -> bool + 'static) -> Self {
        bind_attr_dyn(
            self.0.clone(),
            name,
            Box::new(move || f().then(String::new)),
        );
        self
    }

    /// The class `class` is on the element while `f` is true.
    pub fn bind_class(self, class: &'static str, f: impl Fn() -> bool + 'static) -> Self {
        let node = self.0.clone();
        watch_dyn(Box::new(move || {
            let _ = node.class_list().toggle_with_force(class, f());
        }));
        self
    }

    /// Appends text that follows `f`.
    pub fn bind_text(self, f: impl Fn() -> String + 'static) -> Self {
        bind_text_dyn(&self.0, Box::new(f));
        self
    }

    /// The DOM property `name` (`checked`, …) follows `f`.
    pub fn bind_prop(self, name: &'static str, f: impl Fn() -> bool + 'static) -> Self {
        let node = self.0.clone();
        watch_dyn(Box::new(move || {
            let _ = js_sys::Reflect::set(&node, &name.into(), &f().into());
        }));
        self
    }

    /// Appends a region whose content `build` makes from `key`: made again (under an owner of
    /// its own, the previous one cleaned up) each time the key changes, and only then. `build`
    /// runs untracked: what it makes follows its signals itself.
    pub fn region<K>(
        self,
        key: impl Fn() -> K + Send + Sync + 'static,
        build: impl Fn(K) -> Vec<El> + 'static,
    ) -> Self
    where
        K: PartialEq + Clone + Send + Sync + 'static,
    {
        let key = Memo::new(move |_| key());
        region_dyn(
            &self.0,
            Box::new(move || {
                let key = key.get();
                untrack(|| build(key))
            }),
        );
        self
    }

    /// Appends a row per item of `items`, in order: an item whose key (`key`) was there before
    /// keeps its row (its element, its bindings, focus inside it), a new one gets a row made
    /// by `row` (untracked, under an owner of its own), and a row whose key is gone is removed
    /// and its owner cleaned up. A row already in its place is not moved (a move blurs any
    /// focus inside it); a reorder may move more rows than the fewest it could.
    pub fn list<T, K>(
        self,
        items: impl Fn() -> Vec<T> + Send + Sync + 'static,
        key: fn(&T) -> K,
        row: impl Fn(&T) -> El + 'static,
    ) -> Self
    where
        T: PartialEq + Clone + Send + Sync + 'static,
        K: PartialEq + 'static,
    {
        let items = Memo::new(move |_| items());
        let rows = RefCell::new(Vec::<(K, Owner, Element)>::new());
        // The rows' owners are children of the owner current now, held weakly (it holds the
        // list); without one, of a root the list keeps.
        let (parent, root) = match Owner::current() {
            Some(owner) => (owner.downgrade(), None),
            None => {
                let root = Owner::new();
                (root.downgrade(), Some(root))
            }
        };
        let (start, end) = (text_node(""), text_node(""));
        let _ = self.0.append_child(&start);
        let _ = self.0.append_child(&end);
        let node = self.0.clone();
        watch_dyn(Box::new(move || {
            let items = items.get();
            let mut old = std::mem::take(&mut *rows.borrow_mut());
            let mut next = Vec::with_capacity(items.len());
            for item in &items {
                let k = key(item);
                match old.iter().position(|(had, ..)| *had == k) {
                    Some(i) => next.push(old.swap_remove(i)),
                    None => {
                        let _ = &root;
                        let Some(parent) = parent.upgrade() else {
                            // The list is going: nothing more to make.
                            return;
                        };
                        let owner = parent.with(Owner::new);
                        let El(element) = owner.with(|| untrack(|| row(item)));
                        next.push((k, owner, element));
                    }
                }
            }
            untrack(|| {
                for (_, owner, element) in old {
                    element.remove();
                    owner.cleanup();
                }
            });
            // In order, moving only what is out of place (a move would blur focus inside it).
            let mut at: Option<Node> = start.next_sibling();
            let end: &Node = &end;
            for (_, _, element) in &next {
                let element: &Node = element;
                if at.as_ref() == Some(element) {
                    at = element.next_sibling();
                } else {
                    let _ = node.insert_before(element, Some(at.as_ref().unwrap_or(end)));
                }
            }
            *rows.borrow_mut() = next;
        }));
        self
    }

    /// Appends the content of `build` while `when` is true.
    pub fn show(
        self,
        when: impl Fn() -> bool + Send + Sync + 'static,
        build: impl Fn() -> Vec<El> + 'static,
    ) -> Self {
        self.region(when, move |on| if on { build() } else { Vec::new() })
    }
}

/// A listener, removed (and its closure freed) when the owner it was made under is cleaned
/// up: a closure that holds its own element would otherwise keep both alive for good (the
/// JS collector cannot see through the wasm heap).
struct Listener {
    node: EventTarget,
    event: String,
    /// Listening in the capture phase (removed as it was added).
    capture: bool,
    callback: Closure<dyn FnMut(Event)>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.node.remove_event_listener_with_callback_and_bool(
            &self.event,
            self.callback.as_ref().unchecked_ref(),
            self.capture,
        );
    }
}

/// Calls `f` after layout each time `node`'s box changes size (and once when it is first laid
/// out with a size), until the current owner is cleaned up: what the window's `resize`
/// misses — a scrollbar coming or going, a panel or banner laid out beside or above it,
/// fullscreen.
pub fn on_resize(node: &Element, f: impl FnMut() + 'static) {
    let callback = Closure::<dyn FnMut()>::new(f);
    let Ok(observer) = web_sys::ResizeObserver::new(callback.as_ref().unchecked_ref()) else {
        return;
    };
    observer.observe(node);
    StoredValue::new_local(SizeWatch {
        observer,
        _callback: callback,
    });
}

struct SizeWatch {
    observer: web_sys::ResizeObserver,
    _callback: Closure<dyn FnMut()>,
}

impl Drop for SizeWatch {
    fn drop(&mut self) {
        self.observer.disconnect();
    }
}

/// Listens for the window's `event` until the current owner is cleaned up (as an element's
/// listener is; non-generic, unlike leptos's `window_event_listener`).
pub fn on_window(event: &str, f: impl FnMut(Event) + 'static) {
    if let Some(window) = web_sys::window() {
        listen(&window, event, false, Box::new(f));
    }
}

/// Listens for the window's `event` in its capture phase — before any element's handler
/// could stop it — until the current owner is cleaned up.
pub fn on_window_capture(event: &str, f: impl FnMut(Event) + 'static) {
    if let Some(window) = web_sys::window() {
        listen(&window, event, true, Box::new(f));
    }
}

fn listen(node: &EventTarget, event: &str, capture: bool, f: Box<dyn FnMut(Event)>) {
    let callback = Closure::wrap(f);
    let _ = node.add_event_listener_with_callback_and_bool(
        event,
        callback.as_ref().unchecked_ref(),
        capture,
    );
    StoredValue::new_local(Listener {
        node: node.clone(),
        event: event.to_owned(),
        capture,
        callback,
    });
}

fn bind_attr_dyn(node: Element, name: &'static str, f: Box<dyn Fn() -> Option<String>>) {
    watch_dyn(Box::new(move || {
        let _ = match f() {
            Some(value) => node.set_attribute(name, &value),
            None => node.remove_attribute(name),
        };
    }));
}

fn bind_text_dyn(parent: &Element, f: Box<dyn Fn() -> String>) {
    let node = text_node("");
    let _ = parent.append_child(&node);
    watch_dyn(Box::new(move || node.set_data(&f())));
}

/// `run` reads the region's key (tracked) and makes its content (untracked).
fn region_dyn(parent: &Element, run: Box<dyn Fn() -> Vec<El>>) {
    let end = text_node("");
    let _ = parent.append_child(&end);
    let parent = parent.clone();
    let shown = RefCell::new(Vec::<Element>::new());
    watch_dyn(Box::new(move || {
        for old in shown.borrow_mut().drain(..) {
            old.remove();
        }
        let content = run();
        let end: &Node = &end;
        for El(node) in content {
            let _ = parent.insert_before(&node, Some(end));
            shown.borrow_mut().push(node);
        }
    }));
}

/// Appends `el` to the page's body.
pub fn mount_to_body(el: &El) {
    if let Some(body) = DOC.with(web_sys::Document::body) {
        el.append_to(&body);
    }
}

/// Writes `value` into the text field `ev` came from.
pub fn set_value_of(ev: &Event, value: &str) {
    if let Some(input) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
    {
        input.set_value(value);
    }
}

/// The value of the input element an event came from (`""` for any other target).
pub fn value_of(ev: &Event) -> String {
    ev.target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        .map(|input| input.value())
        .unwrap_or_default()
}
