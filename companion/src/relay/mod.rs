//! The team relay, `preview-switch serve`: one companion serving the preview list to a
//! whole team over HTTP, so people without Argo CD accounts (QA, design, product) need no
//! local companion, and Argo CD carries one watch per server whatever the team's size.
//!
//! It holds one [`Previews`] (the native host's listing, cache, watch and diff code) fed by
//! one watch per Argo CD server, started once; clients only read what it publishes and
//! never cause a list. Routes (under `--base-path`): `GET /v1/previews[?host=H]`,
//! `GET /v1/events` ([`sse`]), `GET /healthz`, `GET /metrics` ([`metrics`]), and `GET /`
//! (a sign-in landing page). Who may read is [`auth`]'s business, how often [`limits`]';
//! browsers are answered only from the extension's own origins. No Argo CD token ever
//! reaches a response, a header or a log: the relay only sees previews and error texts.

pub mod auth;
pub mod limits;
pub mod metrics;
pub mod sse;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::Sse;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use protocol::messages::{ErrorBody, ErrorCode, ServerFailure, ServerInfo};
use protocol::relay::{EVENTS_PATH, PREVIEWS_PATH, RelayList};
use serde::Deserialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Problem};
use crate::host::cache::Snapshot;
use crate::host::previews::{Previews, PreviewsOptions, ServerStats, WatchState, now_ms};
use crate::host::source::Source;
use auth::{Auth, AuthConfig, Client, Refusal};
use limits::{Limiter, Limits, Over};
use sse::EventLog;

/// What `serve` was started with.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    pub listen: SocketAddr,
    /// `""` or a path prefix such as `/previews` (no trailing slash).
    pub base_path: String,
    pub tls: Option<TlsFiles>,
    pub auth: AuthConfig,
    pub origins: Origins,
    pub limits: Limits,
    pub previews: PreviewsOptions,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The browser origins the relay answers: the extension's. Chrome's origin is fixed by the
/// extension id; Firefox gives every installation its own random `moz-extension://<uuid>`,
/// so unless exact Firefox origins are given, any `moz-extension://` origin is accepted (web
/// pages can never have one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origins {
    pub exact: Vec<String>,
    pub any_firefox: bool,
}

impl Default for Origins {
    fn default() -> Self {
        Origins {
            exact: vec![format!("chrome-extension://{}", crate::host::EXTENSION_ID)],
            any_firefox: true,
        }
    }
}

impl Origins {
    pub fn allows(&self, origin: &str) -> bool {
        self.exact.iter().any(|o| o == origin)
            || (self.any_firefox
                && origin
                    .strip_prefix("moz-extension://")
                    .is_some_and(|uuid| !uuid.is_empty() && !uuid.contains('/')))
    }
}

/// What the relay reads of the shared listing (object-safe, so tests and the metrics
/// collector need not know the [`Source`]).
pub trait Live: Send + Sync + 'static {
    fn servers(&self) -> &[ServerInfo];
    fn stats(&self) -> Vec<ServerStats>;
    fn subscribe(&self) -> watch::Receiver<Option<Arc<Snapshot>>>;
}

impl<S: Source> Live for Previews<S> {
    fn servers(&self) -> &[ServerInfo] {
        Previews::servers(self)
    }
    fn stats(&self) -> Vec<ServerStats> {
        Previews::stats(self)
    }
    fn subscribe(&self) -> watch::Receiver<Option<Arc<Snapshot>>> {
        Previews::subscribe(self)
    }
}

/// Everything a request may touch.
pub struct Relay {
    live: Arc<dyn Live>,
    events: Arc<EventLog>,
    metrics: metrics::Metrics,
    auth: Auth,
    limiter: Arc<Limiter>,
    origins: Origins,
    base_path: String,
    shutdown: CancellationToken,
}

/// `--base-path`: empty, or `/a/b` without a trailing slash.
pub fn parse_base_path(raw: &str) -> Result<String, Problem> {
    let trimmed = raw.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let valid = trimmed.starts_with('/')
        && trimmed[1..].split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        });
    if valid {
        Ok(trimmed.to_owned())
    } else {
        Err(Problem::new(
            format!("--base-path {raw:?} is not a plain URL path"),
            "give a path such as /previews (letters, digits, - . _ ~ between slashes)",
        ))
    }
}

impl Relay {
    /// The relay over a live listing; starts its event publisher.
    pub fn new(
        live: Arc<dyn Live>,
        opts: &RelayOptions,
        shutdown: CancellationToken,
    ) -> Arc<Relay> {
        let events = Arc::new(EventLog::new());
        tokio::spawn(sse::publish(events.clone(), live.clone()));
        let limiter = Arc::new(Limiter::new(opts.limits));
        let metrics = metrics::Metrics::new(metrics::State {
            live: live.clone(),
            open_streams: Box::new({
                let limiter = limiter.clone();
                move || limiter.open_streams()
            }),
            previews: Box::new({
                let events = events.clone();
                move || events.published().map_or(0, |p| p.snapshot.previews.len())
            }),
        });
        // Clients that went quiet are forgotten, so memory does not grow with every client
        // ever seen.
        tokio::spawn({
            let limiter = limiter.clone();
            let shutdown = shutdown.clone();
            async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                while shutdown.run_until_cancelled(tick.tick()).await.is_some() {
                    limiter.forget_quiet();
                }
            }
        });
        Arc::new(Relay {
            live,
            events,
            metrics,
            auth: Auth::new(opts.auth.clone()),
            limiter,
            origins: opts.origins.clone(),
            base_path: opts.base_path.clone(),
            shutdown,
        })
    }

    /// Ready once every configured server has been listed or has failed with a reason.
    fn ready(&self) -> bool {
        self.live.stats().iter().all(|s| s.lists > 0)
    }

    /// The data may be behind Argo CD: a server failed, or a watch is not open.
    fn stale(&self, snap: &Snapshot) -> bool {
        snap.kept_previous
            || !snap.failures.is_empty()
            || self
                .live
                .stats()
                .iter()
                .any(|s| s.watch != WatchState::Open)
    }
}

/// The relay's routes, with its middleware, under the base path.
pub fn router(relay: Arc<Relay>) -> Router {
    let api = Router::new()
        .route("/", get(landing))
        .route(PREVIEWS_PATH, get(previews))
        .route(EVENTS_PATH, get(events))
        .layer(middleware::from_fn_with_state(relay.clone(), authenticate))
        .layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(tower_http::cors::AllowOrigin::predicate({
                    let origins = relay.origins.clone();
                    move |origin: &HeaderValue, _| origin.to_str().is_ok_and(|o| origins.allows(o))
                }))
                .allow_credentials(true)
                .allow_methods([Method::GET])
                .allow_headers([
                    header::AUTHORIZATION,
                    HeaderName::from_static("last-event-id"),
                ])
                .expose_headers([header::RETRY_AFTER])
                .max_age(Duration::from_secs(600)),
        )
        .layer(middleware::from_fn_with_state(
            relay.clone(),
            refuse_origins,
        ));
    let ops = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text));
    let app = api
        .merge(ops)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(relay.clone(), observe))
        .with_state(relay.clone());
    if relay.base_path.is_empty() {
        app
    } else {
        Router::new().nest(&relay.base_path, app)
    }
}

fn error(status: StatusCode, code: ErrorCode, message: String, fix: impl Into<String>) -> Response {
    (
        status,
        axum::Json(ErrorBody {
            code,
            message,
            fix: fix.into(),
        }),
    )
        .into_response()
}

/// The path below the base path, for the endpoint label.
fn local_path<'a>(relay: &Relay, path: &'a str) -> &'a str {
    path.strip_prefix(relay.base_path.as_str()).unwrap_or(path)
}

/// Counts and times every answer.
async fn observe(State(relay): State<Arc<Relay>>, request: Request, next: Next) -> Response {
    let endpoint = metrics::endpoint(local_path(&relay, request.uri().path()));
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status();
    relay
        .metrics
        .observe(endpoint, status.as_u16(), started.elapsed());
    tracing::debug!(
        "{method} {endpoint} {} in {:?}",
        status.as_u16(),
        started.elapsed()
    );
    response
}

/// Browsers may read the relay only from the extension: a web page's origin is refused
/// outright (and gets no CORS headers).
async fn refuse_origins(State(relay): State<Arc<Relay>>, request: Request, next: Next) -> Response {
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("(not text)");
        if !relay.origins.allows(origin) {
            return error(
                StatusCode::FORBIDDEN,
                ErrorCode::OriginNotAllowed,
                format!(
                    "the team relay does not answer pages from {origin}: it serves the Preview Switch extension"
                ),
                "open the previews in the Preview Switch extension; an operator can add an origin with --cors-origin",
            );
        }
    }
    next.run(request).await
}

/// Who is asking (auth), and whether they are within their limits.
async fn authenticate(
    State(relay): State<Arc<Relay>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    // Preflights carry no credentials by design; the CORS layer answers them.
    if request.method() == Method::OPTIONS {
        return next.run(request).await;
    }
    let peer: IpAddr = peer.ip().to_canonical();
    let client = match relay.auth.authenticate(peer, request.headers()).await {
        Ok(client) => client,
        Err(refusal) => {
            let code = match refusal {
                Refusal::KeysUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::UNAUTHORIZED,
            };
            tracing::info!("refused a request from {peer}: {}", refusal.message());
            let mut response = error(
                code,
                ErrorCode::Unauthenticated,
                refusal.message(),
                refusal.fix(),
            );
            if relay.auth.takes_bearer() {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"preview-switch\""),
                );
            }
            return response;
        }
    };
    if let Err(over) = relay.limiter.request(&client) {
        return too_many(&client, &over);
    }
    request.extensions_mut().insert(client);
    next.run(request).await
}

fn too_many(client: &Client, over: &Over) -> Response {
    tracing::info!("{}", over.message(client));
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::RateLimited,
        over.message(client),
        over.fix(),
    );
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(over.retry_after_secs()),
    );
    response
}

fn not_ready(relay: &Relay) -> Response {
    let waiting: Vec<String> = relay
        .live
        .servers()
        .iter()
        .zip(relay.live.stats())
        .filter(|(_, s)| s.lists == 0)
        .map(|(server, _)| server.url.clone())
        .collect();
    let mut response = error(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::NotReady,
        format!(
            "the team relay is still listing {}",
            if waiting.is_empty() {
                "its servers".to_owned()
            } else {
                waiting.join(", ")
            }
        ),
        "try again in a few seconds",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// A server's failure as the relay's users see it: the relay's operator fixes it, not them.
fn for_users(failure: &ServerFailure) -> ServerFailure {
    let mut failure = failure.clone();
    failure.error.fix = format!(
        "the team relay's operator can fix this (preview-switch doctor on the relay): {}",
        failure.error.fix
    );
    failure
}

#[derive(Deserialize)]
struct PreviewsQuery {
    host: Option<String>,
}

async fn previews(State(relay): State<Arc<Relay>>, Query(query): Query<PreviewsQuery>) -> Response {
    if let Some(host) = &query.host
        && let Err(why) = crate::core::cookie::validate_host(host)
    {
        return error(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            format!("the host filter is not one exact host name: {why}"),
            "give ?host= the tab's host name, e.g. courses.dev.example.com",
        );
    }
    // The listing publishes before the event stream has taken its snapshot (a task later):
    // in between, the listing itself is what there is, and a client that follows events from
    // the stream's start gets the same snapshot again as its first event.
    let listed = || relay.live.subscribe().borrow().clone();
    let (snapshot, last_event_id) = match relay.events.published() {
        Some(p) => (p.snapshot, p.last_event_id),
        None if let Some(snapshot) = listed() => (snapshot, relay.events.start_id()),
        None if relay.ready() => {
            // Every server failed before any list succeeded: no previews, and why.
            let failures = relay
                .live
                .servers()
                .iter()
                .zip(relay.live.stats())
                .filter_map(|(server, stat)| {
                    stat.last_error.map(|error| ServerFailure {
                        server: server.url.clone(),
                        error,
                    })
                })
                .collect();
            let snapshot = Arc::new(Snapshot {
                fetched_at_ms: 0,
                previews: Vec::new(),
                failures,
                kept_previous: false,
            });
            (snapshot, relay.events.start_id())
        }
        None => return not_ready(&relay),
    };
    let previews = snapshot
        .previews
        .iter()
        .filter(|p| query.host.as_deref().is_none_or(|h| p.routes_host(h)))
        .cloned()
        .collect();
    let body = RelayList {
        previews,
        fetched_at_ms: snapshot.fetched_at_ms,
        age_ms: now_ms().saturating_sub(snapshot.fetched_at_ms),
        stale: relay.stale(&snapshot),
        failures: snapshot.failures.iter().map(for_users).collect(),
        last_event_id,
    };
    let mut response = axum::Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn events(
    State(relay): State<Arc<Relay>>,
    axum::Extension(client): axum::Extension<Client>,
    headers: HeaderMap,
) -> Response {
    let slot = match relay.limiter.open_stream(&client) {
        Ok(slot) => slot,
        Err(over) => return too_many(&client, &over),
    };
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let start = relay.events.start(last);
    // The slot lives as long as the stream: the client's disconnect frees it.
    let body = sse::stream(start, relay.shutdown.clone()).map(move |e| {
        let _ = &slot;
        e
    });
    let mut response = Sse::new(body).keep_alive(sse::keep_alive()).into_response();
    // Reverse proxies (nginx, ingress-nginx) would otherwise hold events back.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// Where a person lands after signing in through the proxy: says it worked.
async fn landing(axum::Extension(client): axum::Extension<Client>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!(
            "Preview Switch team relay. You are signed in as {}: the extension can read the previews now; you can close this tab.\n",
            client.0
        ),
    )
        .into_response()
}

async fn healthz(State(relay): State<Arc<Relay>>) -> Response {
    let servers: Vec<serde_json::Value> = relay
        .live
        .servers()
        .iter()
        .zip(relay.live.stats())
        .map(|(server, stat)| {
            serde_json::json!({
                "name": server.name,
                "url": server.url,
                "listed": stat.lists > 0,
                "watch": stat.watch.as_str(),
                "error": stat.last_error.map(|e| e.message),
            })
        })
        .collect();
    let ready = relay.ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(serde_json::json!({
            "status": if ready { "ready" } else { "starting" },
            "servers": servers,
        })),
    )
        .into_response()
}

async fn metrics_text(State(relay): State<Arc<Relay>>) -> Response {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        relay.metrics.render(),
    )
        .into_response()
}

async fn not_found(uri: axum::http::Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        ErrorCode::BadRequest,
        format!("the team relay has no {}", uri.path()),
        format!("use {PREVIEWS_PATH} or {EVENTS_PATH} under the relay's base path"),
    )
}

/// A relay bound to its address, ready to serve.
pub struct Bound {
    listener: std::net::TcpListener,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    app: Router,
    relay: Arc<Relay>,
    /// Kept for the relay's lifetime: the one watch per server.
    _watches: tokio::task::JoinSet<()>,
}

impl std::fmt::Debug for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound")
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

/// Binds the address, loads the certificate, starts the listing and its watches.
pub async fn bind(source: impl Source, opts: RelayOptions) -> Result<Bound, Error> {
    auth::check(&opts.auth).map_err(Error::Usage)?;
    let tls = match &opts.tls {
        Some(files) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            Some(
                axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key)
                    .await
                    .map_err(|e| {
                        Error::Usage(Problem::new(
                            format!(
                                "cannot use {} and {} as the relay's certificate and key: {e}",
                                files.cert.display(),
                                files.key.display()
                            ),
                            "give a PEM certificate chain with --tls-cert and its PEM private key with --tls-key",
                        ))
                    })?,
            )
        }
        None => None,
    };
    let listener = std::net::TcpListener::bind(opts.listen).map_err(|source| Error::Io {
        what: format!("cannot listen on {}", opts.listen),
        source,
    })?;
    let previews = Previews::new(source, opts.previews.clone());
    drop(previews.refresh(false));
    let watches = previews.watch_all();
    let relay = Relay::new(previews, &opts, CancellationToken::new());
    relay.auth.warm_up().await;
    Ok(Bound {
        listener,
        tls,
        app: router(relay.clone()),
        relay,
        _watches: watches,
    })
}

impl Bound {
    /// The address it listens on (the port, when `--listen` asked for 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves until `stop` resolves, then ends every event stream and lets requests
    /// in flight finish (up to 10 s).
    pub async fn serve(self, stop: impl std::future::Future<Output = ()>) -> Result<(), Error> {
        let handle = axum_server::Handle::new();
        let service = self.app.into_make_service_with_connect_info::<SocketAddr>();
        let io = |source| Error::Io {
            what: "the relay stopped serving".into(),
            source,
        };
        let shutdown = self.relay.shutdown.clone();
        let stopper = {
            let handle = handle.clone();
            async move {
                stop.await;
                tracing::info!("stopping: closing event streams, finishing requests");
                shutdown.cancel();
                handle.graceful_shutdown(Some(Duration::from_secs(10)));
            }
        };
        let server = async {
            match self.tls {
                Some(tls) => axum_server::from_tcp_rustls(self.listener, tls)
                    .map_err(io)?
                    .handle(handle.clone())
                    .serve(service)
                    .await
                    .map_err(io),
                None => axum_server::from_tcp(self.listener)
                    .map_err(io)?
                    .handle(handle.clone())
                    .serve(service)
                    .await
                    .map_err(io),
            }
        };
        tokio::pin!(server);
        tokio::select! {
            result = &mut server => result,
            () = stopper => server.await,
        }
    }
}
