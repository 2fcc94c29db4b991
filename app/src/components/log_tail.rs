//! The live log tail of one instance: stdout and stderr, ANSI colours rendered as
//! spans, a follow toggle and a stream filter.
//!
//! The data comes from the log routes (`server/src/api/logs.rs`): first
//! `GET <api>/processes/{name}/logs?limit=N`, which answers
//! `{"lines": [{"offset", "stream", "text", "at"}], "next_offset", "first_offset"}`, then
//! the WebSocket `<api>/processes/{name}/logs/ws?since=<next_offset>`, whose messages are
//! the same object with `"type": "lines"` (so no line arrives twice). A 404 means the
//! instance is gone: the tail says so. Browser only; the session cookie authenticates.

use crate::ansi::{self, Segment};
use crate::model::LogLine;
use leptos::prelude::*;

/// How many lines the tail keeps.
pub const KEEP_LINES: usize = 1000;
/// How many lines are fetched on open.
pub const INITIAL_LINES: usize = 200;

/// Where the tail stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TailStatus {
    /// Not started (on the server, before hydration).
    Idle,
    /// Streaming.
    Live,
    /// Log capture is not available for this process (the routes answered 404).
    Unavailable,
    /// The connection failed or closed.
    Disconnected,
}

/// Parses a message of the log routes: one line or a list, bare or under `lines`.
pub fn parse_lines(text: &str) -> Vec<LogLine> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Msg {
        Many(Vec<LogLine>),
        Wrapped { lines: Vec<LogLine> },
        One(LogLine),
    }
    match serde_json::from_str::<Msg>(text) {
        Ok(Msg::Many(v) | Msg::Wrapped { lines: v }) => v,
        Ok(Msg::One(l)) => vec![l],
        Err(_) => Vec::new(),
    }
}

/// The `next_offset` of a message of the log routes (where the live tail continues).
pub fn next_offset(text: &str) -> Option<u64> {
    serde_json::from_str::<serde_json::Value>(text).ok()?.get("next_offset")?.as_u64()
}

/// The lines as styled segments, carrying colours from one line to the next per stream.
pub fn render_lines(lines: &[LogLine]) -> Vec<(String, Vec<Segment>)> {
    let (mut out_style, mut err_style) = (ansi::Style::default(), ansi::Style::default());
    lines
        .iter()
        .map(|l| {
            let style = if l.stream == "stderr" { &mut err_style } else { &mut out_style };
            (l.stream.clone(), ansi::parse(&l.message, style))
        })
        .collect()
}

/// The tail of instance `name` (which only the browser uses).
#[component]
#[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
pub fn LogTail(
    /// Instance name.
    name: String,
) -> impl IntoView {
    let lines = RwSignal::new(Vec::<LogLine>::new());
    let follow = RwSignal::new(true);
    let stream = RwSignal::new("all".to_string());
    let status = RwSignal::new(TailStatus::Idle);
    let area = NodeRef::<leptos::html::Pre>::new();
    #[cfg(feature = "hydrate")]
    {
        // Closed when the tail goes (another page, or another instance picked).
        let socket = browser::Socket::default();
        on_cleanup({
            let socket = socket.clone();
            move || socket.close()
        });
        Effect::new(move |prev: Option<()>| {
            if prev.is_none() {
                browser::start(name.clone(), lines, status, socket.clone());
            }
        });
        // Follow: keep the newest line in view.
        Effect::new(move |_| {
            lines.track();
            if follow.get() {
                if let Some(el) = area.get() {
                    el.set_scroll_top(el.scroll_height());
                }
            }
        });
    }
    let shown = Memo::new(move |_| {
        let which = stream.get();
        lines.with(|all| {
            render_lines(all).into_iter().filter(|(s, _)| which == "all" || *s == which).collect::<Vec<_>>()
        })
    });
    view! {
        <div class="log-controls">
            <label class="check">
                <input type="checkbox" prop:checked=move || follow.get() on:change=move |ev| follow.set(event_target_checked(&ev)) />
                " Follow"
            </label>
            <label>
                "Stream "
                <select on:change=move |ev| stream.set(event_target_value(&ev))>
                    <option value="all">"stdout + stderr"</option>
                    <option value="stdout">"stdout"</option>
                    <option value="stderr">"stderr"</option>
                </select>
            </label>
            <span class="muted" role="status">
                {move || match status.get() {
                    TailStatus::Idle => "Log tail starts once the page is interactive.",
                    TailStatus::Live => "Live",
                    TailStatus::Unavailable => "Log capture is not available for this process.",
                    TailStatus::Disconnected => "Disconnected from the log stream.",
                }}
            </span>
        </div>
        <pre class="log" node_ref=area aria-label="Log output" tabindex="0">
            {move || {
                shown
                    .get()
                    .into_iter()
                    .map(|(s, segs)| {
                        view! {
                            <div class=format!("log-line {s}")>
                                {segs
                                    .into_iter()
                                    .map(|seg| {
                                        let class = seg.style.classes();
                                        let css = seg.style.inline_css();
                                        view! {
                                            <span
                                                class=(!class.is_empty()).then_some(class)
                                                style=(!css.is_empty()).then_some(css)
                                            >
                                                {seg.text}
                                            </span>
                                        }
                                    })
                                    .collect_view()}
                            </div>
                        }
                    })
                    .collect_view()
            }}
        </pre>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::{next_offset, parse_lines, TailStatus, INITIAL_LINES, KEEP_LINES};
    use crate::model::LogLine;
    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{MessageEvent, WebSocket};

    fn api_base() -> String {
        document()
            .query_selector("meta[name=provisr-api-base]")
            .ok()
            .flatten()
            .and_then(|m| m.get_attribute("content"))
            .unwrap_or_else(|| "/api".to_string())
    }

    fn push(lines: RwSignal<Vec<LogLine>>, new: Vec<LogLine>) {
        if new.is_empty() {
            return;
        }
        lines.update(|l| {
            l.extend(new);
            if l.len() > KEEP_LINES {
                let extra = l.len() - KEEP_LINES;
                l.drain(..extra);
            }
        });
    }

    /// The tail's WebSocket, once open; closed at most once, by [`Socket::close`].
    #[derive(Clone)]
    pub(super) struct Socket(send_wrapper::SendWrapper<std::rc::Rc<std::cell::RefCell<SocketState>>>);

    impl Default for Socket {
        fn default() -> Self {
            Self(send_wrapper::SendWrapper::new(Default::default()))
        }
    }

    #[derive(Default)]
    struct SocketState {
        ws: Option<WebSocket>,
        closed: bool,
    }

    impl Socket {
        /// Closes the socket, and keeps one from being opened later (the first fetch may still
        /// be on its way).
        pub(super) fn close(&self) {
            let mut st = self.0.borrow_mut();
            st.closed = true;
            if let Some(ws) = st.ws.take() {
                quiet_close(&ws);
            }
        }

        /// Keeps `ws` for [`Socket::close`] (the caller checked [`Socket::is_closed`] in the
        /// same turn of the event loop, so nothing can have closed it since).
        fn hold(&self, ws: WebSocket) {
            self.0.borrow_mut().ws = Some(ws);
        }

        fn is_closed(&self) -> bool {
            self.0.borrow().closed
        }
    }

    /// Closes `ws` without its handlers running again: the tail's signals may be gone.
    fn quiet_close(ws: &WebSocket) {
        ws.set_onopen(None);
        ws.set_onmessage(None);
        ws.set_onclose(None);
        let _ = ws.close();
    }

    pub(super) fn start(name: String, lines: RwSignal<Vec<LogLine>>, status: RwSignal<TailStatus>, socket: Socket) {
        let base = api_base();
        let path = format!("{base}/processes/{}/logs", js_sys::encode_uri_component(&name));
        leptos::task::spawn_local(async move {
            let url = format!("{path}?limit={INITIAL_LINES}");
            let mut since = None;
            match fetch_text(&url).await {
                Ok((404, _)) => {
                    status.set(TailStatus::Unavailable);
                    return;
                }
                Ok((200, text)) => {
                    since = next_offset(&text);
                    push(lines, parse_lines(&text));
                }
                Ok(_) | Err(_) => {}
            }
            let query = match since {
                Some(n) => format!("?since={n}"),
                None => format!("?limit={INITIAL_LINES}"),
            };
            if !socket.is_closed() {
                open_socket(&path, &query, lines, status, &socket);
            }
        });
    }

    async fn fetch_text(url: &str) -> Result<(u16, String), wasm_bindgen::JsValue> {
        let resp = wasm_bindgen_futures::JsFuture::from(window().fetch_with_str(url)).await?;
        let resp: web_sys::Response = resp.dyn_into()?;
        let text = wasm_bindgen_futures::JsFuture::from(resp.text()?).await?;
        Ok((resp.status(), text.as_string().unwrap_or_default()))
    }

    fn open_socket(
        path: &str,
        query: &str,
        lines: RwSignal<Vec<LogLine>>,
        status: RwSignal<TailStatus>,
        socket: &Socket,
    ) {
        let loc = window().location();
        let proto = if loc.protocol().ok().as_deref() == Some("https:") { "wss:" } else { "ws:" };
        let Ok(host) = loc.host() else { return };
        let Ok(ws) = WebSocket::new(&format!("{proto}//{host}{path}/ws{query}")) else {
            status.set(TailStatus::Disconnected);
            return;
        };
        let onopen = Closure::<dyn FnMut()>::new(move || status.set(TailStatus::Live));
        ws.set_onopen(Some(onopen.as_ref().unchecked_ref()));
        onopen.forget();
        let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if let Some(text) = e.data().as_string() {
                push(lines, parse_lines(&text));
            }
        });
        ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        onmessage.forget();
        let onclose = Closure::<dyn FnMut()>::new(move || {
            if status.get_untracked() != TailStatus::Unavailable {
                status.set(TailStatus::Disconnected);
            }
        });
        ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
        onclose.forget();
        socket.hold(ws);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_in_every_shape() {
        assert_eq!(parse_lines(r#"{"stream":"stderr","line":"x"}"#).len(), 1);
        assert_eq!(parse_lines(r#"[{"line":"a"},{"line":"b"}]"#).len(), 2);
        assert_eq!(parse_lines(r#"{"lines":[{"message":"a"}]}"#)[0].message, "a");
        assert!(parse_lines("not json").is_empty());
        // The routes' own shape (server/src/api/logs.rs).
        let wire = r#"{"type":"lines","lines":[{"offset":0,"stream":"stderr","text":"\u001b[31mboom","at":"2026-01-01T00:00:00Z"}],"next_offset":9,"first_offset":0}"#;
        let got = parse_lines(wire);
        assert_eq!((got[0].stream.as_str(), got[0].message.as_str()), ("stderr", "\x1b[31mboom"));
        assert_eq!(next_offset(wire), Some(9));
    }

    #[test]
    fn colours_carry_per_stream() {
        let l = |stream: &str, m: &str| LogLine { stream: stream.into(), message: m.into(), at: None };
        let out = render_lines(&[l("stdout", "\x1b[31mred"), l("stderr", "plain"), l("stdout", "still red")]);
        assert_eq!(out[1].1[0].style, ansi::Style::default());
        assert_eq!(out[2].1[0].style.fg, Some(ansi::Color::Indexed(1)));
    }
}
