//! The browser console: server-rendered Leptos pages, their server functions, and the
//! WASM/JS/CSS bundle embedded in the binary.

use crate::state::ServerState;
use app::{shell, App};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_sessions::Session;

/// The site built by `cargo xtask build` (`target/site`): `pkg/provisr.{js,wasm,css}`
/// with `.br`/`.gz` siblings, and the public assets. Release builds embed the files;
/// debug builds read them from disk, so a rebuilt site is served without relinking.
#[derive(rust_embed::RustEmbed)]
#[folder = "$CARGO_MANIFEST_DIR/../target/site"]
#[allow_missing = true]
struct Site;

/// True when the bundle the pages reference is present.
pub fn bundle_present() -> bool {
    Site::get("pkg/provisr.wasm").is_some() && Site::get("pkg/provisr.js").is_some()
}

/// Console routes: pages (rendered with the state in context) and server functions.
pub fn router(state: &ServerState) -> Router<ServerState> {
    let routes = generate_route_list(App);
    let context = {
        let st = state.clone();
        move || {
            provide_context(st.app.clone());
            provide_context(st.console.clone());
        }
    };
    let options = state.leptos_options.clone();
    Router::new().leptos_routes_with_context(state, routes, context, move || shell(options.clone()))
}

/// Serves an embedded asset, precompressed when the browser accepts it; else the
/// console's "not found" page.
pub async fn static_or_not_found(State(st): State<ServerState>, req: Request) -> Response {
    let path = req.uri().path().trim_start_matches('/').to_string();
    if matches!(*req.method(), Method::GET | Method::HEAD) && !path.is_empty() {
        if let Some(res) = asset(&path, req.headers()) {
            return res;
        }
    }
    let options = st.leptos_options.clone();
    let context = {
        let st = st.clone();
        move || {
            provide_context(st.app.clone());
            provide_context(st.console.clone());
        }
    };
    let handler = leptos_axum::render_app_to_stream_with_context(context, move || shell(options.clone()));
    let mut res = handler(req).await.into_response();
    *res.status_mut() = StatusCode::NOT_FOUND;
    res
}

fn asset(path: &str, headers: &HeaderMap) -> Option<Response> {
    let file = Site::get(path)?;
    let mime = file.metadata.mimetype().to_string();
    let accepts = headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (body, encoding) = [("br", "br"), ("gzip", "gz")]
        .into_iter()
        .filter(|(enc, _)| accepts.split(',').any(|a| a.trim().split(';').next() == Some(enc)))
        .find_map(|(enc, ext)| Site::get(&format!("{path}.{ext}")).map(|f| (f.data, Some(enc))))
        .unwrap_or((file.data, None));
    let etag =
        format!("\"{}\"", file.metadata.sha256_hash().iter().take(12).map(|b| format!("{b:02x}")).collect::<String>());
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return Some(StatusCode::NOT_MODIFIED.into_response());
    }
    let mut res = Response::new(Body::from(body.into_owned()));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    // File names are stable across releases: revalidate every time (cheap with the ETag).
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Some(enc) = encoding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(enc));
    }
    Some(res)
}

/// Pages need a signed-in session: anonymous visitors are sent to `/login`, and a
/// signed-in visitor of `/login` to the Processes page. Server functions, assets and
/// the API are left alone (they check credentials themselves).
pub async fn require_sign_in(State(st): State<ServerState>, session: Session, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let is_page = matches!(*req.method(), Method::GET | Method::HEAD)
        && !path.starts_with("/pkg/")
        && !path.starts_with("/rpc/")
        && !path.starts_with(&format!("{}/", st.console.api_base))
        && path != "/metrics"
        // Process names may contain dots (`/processes/web.api`): only an embedded file is an asset.
        && Site::get(path.trim_start_matches('/')).is_none();
    if !is_page || !st.app.auth.enabled() {
        return next.run(req).await;
    }
    let signed_in = matches!(app::server_fns::ssr::principal_of_session(&st.app, &session).await, Ok(Some(_)));
    match (path == "/login", signed_in) {
        (true, true) => Redirect::to("/").into_response(),
        (false, false) => Redirect::to("/login").into_response(),
        _ => next.run(req).await,
    }
}
