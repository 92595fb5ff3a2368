//! Remote-control UI: the host's requests, holders and diagnostics; the controller's bar; and
//! the surface overlay that draws remote cursors, click ripples and key badges exactly over
//! the shared picture (letterbox-aware, unscaled by zoom).

use pairux_core::vecmap::VecMap;

use leptos::html;
use leptos::prelude::*;
use pairux_core::agent::AgentState;
use pairux_core::control::{BudgetStats, GateStats, InputKind, Modifiers};
use pairux_core::display::fixed;
use pairux_core::roster::Roster;

use crate::platform;
use crate::session::agent_link::{AgentLink, AgentSignals};
use crate::session::host::HostRuntime;
use crate::session::host_control::{ControlSignals, CursorView, LogLine, Mark};

/// `id`'s name as the host reads it where control is granted: with a tag of its key when
/// someone else present shows the same name, so a controller that renames itself after
/// another person cannot be granted control in their name.
pub(crate) fn name_of(roster: &Roster, id: &str) -> String {
    let people = roster.participants();
    let Some(at) = people.iter().position(|p| p.id == id) else {
        return pairux_core::display::display_name(None);
    };
    pairux_core::roster::distinct_names(&people).swap_remove(at)
}

/// Host: pending requests as toasts with Grant / Deny, holders with Revoke, Revoke all.
#[component]
pub fn ControlPanel(
    control: ControlSignals,
    roster: RwSignal<Roster>,
    runtime: StoredValue<Option<HostRuntime>, LocalStorage>,
) -> impl IntoView {
    let act = move |f: &dyn Fn(&HostRuntime)| {
        runtime.with_value(|rt| {
            if let Some(rt) = rt {
                f(rt);
            }
        });
    };
    // A request waiting shows in the tab's title too: the host is often in another window.
    Effect::new(move |_| {
        let waiting = control.requests.with(Vec::len);
        crate::platform::dom::set_title(&match waiting {
            0 => "PairUX".to_owned(),
            n => format!("({n}) Control request — PairUX"),
        });
    });
    on_cleanup(|| crate::platform::dom::set_title("PairUX"));
    view! {
        <div class="control-panel">
            <For each=move || control.requests.get() key=|id| id.clone() let:id>
                {
                    let (g, d) = (id.clone(), id.clone());
                    let who = id.clone();
                    let name = Memo::new(move |_| roster.with(|r| name_of(r, &who)));
                    view! {
                        <div class="toast" role="alert" data-testid=format!("control-request-{id}")>
                            <span>
                                <strong>{name}</strong>
                                " asks for control of your screen"
                            </span>
                            <button class="primary" data-testid=format!("grant-control-{id}")
                                aria-label=move || format!("Grant control to {}", name.get())
                                on:click=move |_| act(&|rt| rt.grant(&g))>"Grant"</button>
                            <button data-testid=format!("deny-control-{id}")
                                aria-label=move || format!("Deny {} control", name.get())
                                on:click=move |_| act(&|rt| rt.deny(&d))>"Deny"</button>
                        </div>
                    }
                }
            </For>
            <Show when=move || !control.holders.get().is_empty()>
                <div class="holders" data-testid="control-holders">
                    <For each=move || control.holders.get() key=|id| id.clone() let:id>
                        {
                            let (r, who) = (id.clone(), id.clone());
                            let name = Memo::new(move |_| roster.with(|ro| name_of(ro, &who)));
                            view! {
                                <span class="holder">
                                    <strong>{name}</strong>
                                    " has control"
                                    <button data-testid=format!("revoke-control-{id}")
                                        aria-label=move || format!("Take control back from {}", name.get())
                                        on:click=move |_| act(&|rt| rt.revoke(&r))>"Revoke"</button>
                                </span>
                            }
                        }
                    </For>
                    <button class="danger" data-testid="revoke-all" title="Ctrl+Shift+Esc"
                        on:click=move |_| act(&|rt| rt.revoke_all())>
                        "Revoke all (Ctrl+Shift+Esc)"
                    </button>
                </div>
            </Show>
        </div>
    }
}

/// Host: whether granted control drives this computer (the PairUX agent) or shows pointers
/// only, and pairing with the agent.
#[component]
pub fn AgentPanel(
    agent: AgentSignals,
    runtime: StoredValue<Option<HostRuntime>, LocalStorage>,
) -> impl IntoView {
    let code = RwSignal::new(String::new());
    let with_link = move |f: &dyn Fn(&AgentLink)| {
        runtime.with_value(|rt| {
            if let Some(link) = rt.as_ref().and_then(HostRuntime::agent) {
                f(&link);
            }
        });
    };
    let pair = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let typed = code.get_untracked();
        with_link(&|link| link.pair(&typed));
        code.set(String::new());
    };
    let paired = move || matches!(agent.state.get(), AgentState::Connected { .. });
    view! {
        <div class="agent-panel" data-agent=move || agent.state.get().testid_text()>
            <span class="sr-state">
                "Agent: "
                <span data-testid="agent-state">{move || agent.state.get().testid_text()}</span>
            </span>
            <p class="agent-sentence" data-testid="agent-sentence">{move || agent.state.get().sentence()}</p>
            <Show when=move || agent.error.get().is_some()>
                <p class="agent-error" role="alert" data-testid="agent-error">
                    {move || agent.error.get().unwrap_or_default()}
                </p>
            </Show>
            <Show
                when=paired
                fallback=move || view! {
                    <form class="row" on:submit=pair>
                        <input
                            data-testid="agent-code"
                            autocomplete="off"
                            spellcheck="false"
                            placeholder="Agent pairing code"
                            aria-label="Pairing code shown by the PairUX agent"
                            prop:value=move || code.get()
                            on:input=move |ev| code.set(event_target_value(&ev))
                        />
                        <button type="submit" data-testid="agent-pair">"Pair agent"</button>
                    </form>
                }
            >
                <button data-testid="agent-disconnect" on:click=move |_| with_link(&|l| l.disconnect())>
                    "Unpair agent"
                </button>
            </Show>
        </div>
    }
}

/// Host: what was dropped and why, and the latest input the sink received. Every part is bound
/// to what it shows: an input event changes the counters' attributes and adds one line to the
/// log (while open), it does not rebuild the panel.
#[component]
pub fn Diagnostics(control: ControlSignals) -> impl IntoView {
    // The log is drawn only while someone is looking.
    let open = RwSignal::new(false);
    // Each figure a memo: an event changes `accepted` and touches nothing else on the page.
    let stats = control.stats;
    let budget = control.budget;
    let gate = move |f: fn(&GateStats) -> u64| {
        let value = Memo::new(move |_| stats.with(f));
        move || value.get()
    };
    let limits = move |f: fn(&BudgetStats) -> u64| {
        let value = Memo::new(move |_| budget.with(f));
        move || value.get()
    };
    // Everything the log holds, as JSON, when asked for ("Input log as JSON"): read after the
    // fact (the input benchmark reads its stamps here, so the page draws no list meanwhile).
    let exported = RwSignal::new(None::<String>);
    let export =
        move |_| exported.set(Some(control.log.with_untracked(|log| log_json(log.iter()))));
    // The latest batches holding 50 lines or a few more, newest first.
    let batches = move || {
        control.log.with(|log| {
            let mut shown = 0;
            log.iter()
                .rev()
                .take_while(|b| {
                    let more = shown < 50;
                    shown += b.lines.len();
                    more
                })
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    view! {
        <details
            class="diagnostics"
            data-testid="diagnostics"
            // As the element is (Chromium may fold an open and a close into one event).
            on:toggle=move |ev: leptos::ev::Event| {
                let now_open = ev
                    .target()
                    .and_then(|t| js_sys::Reflect::get(&t, &"open".into()).ok())
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false);
                open.set(now_open);
            }
        >
            <summary>
                "Diagnostics — "
                <span data-testid="dropped-count">{gate(|s| s.dropped())}</span>
                " input events dropped"
            </summary>
            <p
                class="counters"
                data-testid="gate-counters"
                data-accepted=gate(|s| s.accepted)
                data-not-holder=gate(|s| s.not_holder)
                data-replay=gate(|s| s.replay)
                data-rate-limited=gate(|s| s.rate_limited)
                data-out-of-bounds=gate(|s| s.out_of_bounds)
                data-malformed=gate(|s| s.malformed)
            >
                {move || {
                    let s = stats.get();
                    format!(
                        "accepted {} · not holder {} · replay {} · rate limited {} · out of bounds {} · malformed {}",
                        s.accepted, s.not_holder, s.replay, s.rate_limited, s.out_of_bounds, s.malformed
                    )
                }}
            </p>
            <p
                class="counters"
                data-testid="budget-counters"
                data-over-rate=limits(|b| b.over_rate)
                data-oversize=limits(|b| b.oversize)
                data-pings-limited=limits(|b| b.pings_limited)
                data-requests-limited=limits(|b| b.requests_limited)
            >
                {move || {
                    let b = budget.get();
                    format!(
                        "data-channel messages dropped: over rate {} · oversize {} · pings limited {} · requests limited {}",
                        b.over_rate, b.oversize, b.pings_limited, b.requests_limited
                    )
                }}
            </p>
            <ol class="sink-log" data-testid="sink-log">
                <Show when=move || open.get()>
                    <For each=batches key=|batch| batch.n let:batch>
                        {batch.lines.iter().rev().map(log_line).collect_view()}
                    </For>
                </Show>
            </ol>
            <button type="button" data-testid="export-log" on:click=export>"Input log as JSON"</button>
            <Show when=move || exported.with(Option::is_some)>
                <pre class="log-json" data-testid="sink-log-json">
                    {move || exported.get().unwrap_or_default()}
                </pre>
            </Show>
        </details>
    }
}

fn log_line(line: &LogLine) -> impl IntoView {
    let (kind, x, y, detail) = describe(&line.event.kind);
    view! {
        <li
            data-from=line.from.clone()
            data-seq=line.event.seq.to_string()
            data-received=fixed(line.received, 3)
            data-kind=kind
            data-x=x.map(exact)
            data-y=y.map(exact)
        >
            {format!("#{} {kind} {detail}", line.event.seq)}
        </li>
    }
}

/// Every line of the log, oldest first, as a JSON array of `{from, seq, kind, x, y, received,
/// detail}` (the list's data attributes and text).
fn log_json<'a>(
    batches: impl Iterator<Item = &'a crate::session::host_control::LogBatch>,
) -> String {
    let lines: Vec<serde_json::Value> = batches
        .flat_map(|b| b.lines.iter())
        .map(|line| {
            let (kind, x, y, detail) = describe(&line.event.kind);
            serde_json::json!({
                "from": line.from,
                "seq": line.event.seq,
                "kind": kind,
                "x": x,
                "y": y,
                "received": line.received,
                "detail": detail,
            })
        })
        .collect();
    serde_json::Value::Array(lines).to_string()
}

/// The shortest text that reads back as `v` (serde_json's, already in the app: `core::fmt`'s
/// float formatting would add ~10 KB).
pub(crate) fn exact(v: f64) -> String {
    serde_json::to_string(&v).unwrap_or_default()
}

/// A pointer event's modifiers in the log, where its page said them.
fn mods(m: Option<Modifiers>) -> String {
    m.map(|m| format!(" m{}", m.0)).unwrap_or_default()
}

fn describe(kind: &InputKind) -> (&'static str, Option<f64>, Option<f64>, String) {
    let at = |x: f64, y: f64| format!("{},{}", fixed(x, 3), fixed(y, 3));
    match kind {
        InputKind::Move { x, y } => ("move", Some(*x), Some(*y), at(*x, *y)),
        InputKind::Down { x, y, b, m }
        | InputKind::Up { x, y, b, m }
        | InputKind::Dbl { x, y, b, m } => {
            let kind = match kind {
                InputKind::Down { .. } => "down",
                InputKind::Up { .. } => "up",
                _ => "dbl",
            };
            (
                kind,
                Some(*x),
                Some(*y),
                format!("{b:?} {}{}", at(*x, *y), mods(*m)),
            )
        }
        InputKind::Wheel { x, y, dx, dy, m } => (
            "wheel",
            Some(*x),
            Some(*y),
            format!("{},{}{}", exact(*dx), exact(*dy), mods(*m)),
        ),
        InputKind::KeyDown { key, code, m, .. } => {
            ("key_down", None, None, format!("{key} {code} m{}", m.0))
        }
        InputKind::KeyUp { key, code, .. } => ("key_up", None, None, format!("{key} {code}")),
        InputKind::Text { text } => ("text", None, None, text.clone()),
    }
}

/// The rectangle the picture occupies in its box, as CSS percentages.
pub(crate) fn content_style(box_w: f64, box_h: f64, video_w: f64, video_h: f64) -> String {
    if box_w <= 0.0 || box_h <= 0.0 || video_w <= 0.0 || video_h <= 0.0 {
        return "display:none".to_owned();
    }
    let (box_ratio, video_ratio) = (box_w / box_h, video_w / video_h);
    let (w, h) = if video_ratio > box_ratio {
        (100.0, 100.0 * box_ratio / video_ratio)
    } else {
        (100.0 * video_ratio / box_ratio, 100.0)
    };
    format!(
        "left:{}%;top:{}%;width:{}%;height:{}%",
        fixed((100.0 - w) / 2.0, 4),
        fixed((100.0 - h) / 2.0, 4),
        fixed(w, 4),
        fixed(h, 4)
    )
}

/// `id`'s cursor, as a memo of its own: a move of another cursor leaves it alone.
pub(crate) fn cursor_at(
    cursors: RwSignal<VecMap<String, CursorView>>,
    id: String,
) -> Memo<Option<CursorView>> {
    Memo::new(move |_| cursors.with(|c| c.get(&id).cloned()))
}

/// One part of a cursor (`f`), as a memo of its own: a move leaves the name untouched.
pub(crate) fn field_of(
    at: Memo<Option<CursorView>>,
    f: fn(&CursorView) -> String,
) -> impl Fn() -> Option<String> + Copy {
    let value = Memo::new(move |_| at.with(|c| c.as_ref().map(f)));
    move || value.get()
}

/// The style that lays a surface exactly over the picture of the `<video>` that `video`
/// returns (letterbox-aware), kept up to date as the picture or the element's box changes
/// size: each bumps `bump` (the video's `resize`, and [`bump_on_resize`]). Host and guest alike.
pub(crate) fn surface_style(
    video: impl Fn() -> Option<web_sys::HtmlVideoElement> + 'static,
    bump: RwSignal<u32>,
) -> impl Fn() -> String {
    move || {
        bump.track();
        let Some(v) = video() else {
            return "display:none".to_owned();
        };
        // No picture yet (its `resize` bumps this): nothing to lay over, and the box is not
        // measured — that would lay the page out in the middle of building it.
        let (vw, vh) = platform::media::video_size(&v);
        if vw == 0 || vh == 0 {
            return "display:none".to_owned();
        }
        let (_, _, bw, bh) = platform::dom::rect(&v);
        content_style(bw, bh, f64::from(vw), f64::from(vh))
    }
}

/// Bumps `bump` whenever `video`'s box changes size — the window, fullscreen, or the page's
/// layout alone (a scrollbar, a banner) — until the current owner is cleaned up.
pub(crate) fn bump_on_resize(video: &web_sys::Element, bump: RwSignal<u32>) {
    platform::el::on_resize(video, move || {
        bump.try_update(|n| *n += 1);
    });
}

/// Host: the controllers' cursors and their click ripples and key badges over the preview,
/// drawn by a worker on canvases (`platform::overlay`): a pointer move leaves the page's style,
/// layout and paint alone, so the host's main thread stays free for the next input. Each
/// cursor is a canvas of its own carrying the contract's `remote-cursor-<id>` with its position
/// in `data-x` / `data-y` (no style reads those, so setting them restyles nothing).
#[component]
pub fn HostSurface(
    video: NodeRef<html::Video>,
    bump: RwSignal<u32>,
    cursors: RwSignal<VecMap<String, CursorView>>,
    marks: RwSignal<Vec<Mark>>,
    /// Where the drawing worker is kept, for the sink to post moves to as they arrive.
    overlay: StoredValue<Option<platform::overlay::Overlay>, LocalStorage>,
) -> impl IntoView {
    let ids = Memo::new(move |_| cursors.with(|c| c.keys().cloned().collect::<Vec<_>>()));
    let style = surface_style(move || video.get(), bump);
    Effect::new(move |_| {
        if let Some(v) = video.get() {
            bump_on_resize(&v, bump);
        }
    });
    let started = platform::overlay::Overlay::start(crate::session::host_control::MARKS_SHOWN);
    let mine = started.as_ref().map(|o| o.id().to_owned());
    overlay.set_value(started);
    // Ends this surface's worker, not one a later surface started.
    on_cleanup(move || {
        overlay.try_update_value(|o| {
            if o.as_ref().map(|o| o.id()) == mine.as_deref() {
                drop(o.take());
            }
        });
    });
    let with_overlay = move |f: &dyn Fn(&platform::overlay::Overlay)| {
        overlay.try_with_value(|o| o.as_ref().map(f));
    };
    // The canvases' size follows the surface's.
    let surface = NodeRef::<html::Div>::new();
    Effect::new(move |_| {
        if let Some(el) = surface.get() {
            with_overlay(&|o| o.follow_size(&el));
        }
    });
    // Each mark is handed over once, by its number; the worker animates and ends it.
    let marks_canvas = NodeRef::<html::Canvas>::new();
    let posted = StoredValue::new(0u64);
    Effect::new(move |adopted: Option<bool>| {
        let Some(el) = marks_canvas.get() else {
            return false;
        };
        if adopted != Some(true) {
            with_overlay(&|o| o.adopt(platform::overlay::MARKS, &el));
        }
        let last = posted.get_value();
        marks.with(|m| {
            for mark in m.iter().filter(|m| m.n > last) {
                with_overlay(&|o| o.mark(mark.x, mark.y, &mark.label));
                posted.set_value(mark.n);
            }
        });
        true
    });
    view! {
        <div class="surface" node_ref=surface style=style aria-hidden="true">
            <For each=move || ids.get() key=|id| id.clone() let:id>
                {
                    let at = cursor_at(cursors, id.clone());
                    let field = move |f| field_of(at, f);
                    let canvas = NodeRef::<html::Canvas>::new();
                    let me = id.clone();
                    Effect::new(move |adopted: Option<bool>| {
                        let cursor = at.get();
                        let Some(el) = canvas.get() else {
                            return false;
                        };
                        if adopted != Some(true) {
                            with_overlay(&|o| o.adopt(&me, &el));
                        }
                        if let Some(c) = cursor {
                            with_overlay(&|o| o.cursor(&me, c.x, c.y, &c.name, &c.color));
                        }
                        true
                    });
                    let me = id.clone();
                    on_cleanup(move || with_overlay(&|o| o.forget(&me)));
                    view! {
                        <canvas
                            class="overlay"
                            node_ref=canvas
                            data-testid=format!("remote-cursor-{id}")
                            data-x=field(|c| exact(c.x))
                            data-y=field(|c| exact(c.y))
                        >
                            // Drawn on the canvas; here as its text, as a guest's cursor has it.
                            {field(|c| c.name.clone())}
                        </canvas>
                    }
                }
            </For>
            <canvas class="overlay" node_ref=marks_canvas></canvas>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::content_style;

    #[test]
    fn letterbox_percentages() {
        assert_eq!(
            content_style(1600.0, 900.0, 1280.0, 720.0),
            "left:0.0000%;top:0.0000%;width:100.0000%;height:100.0000%"
        );
        // A 4:3 picture in a 16:9 box is pillarboxed.
        assert_eq!(
            content_style(1600.0, 900.0, 1024.0, 768.0),
            "left:12.5000%;top:0.0000%;width:75.0000%;height:100.0000%"
        );
        assert_eq!(content_style(0.0, 900.0, 1.0, 1.0), "display:none");
    }
}
