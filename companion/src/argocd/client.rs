//! The Argo CD HTTP client: one [`Client`] per server, built from a resolved
//! [`ServerTarget`]. It owns TLS (rustls with the ring provider, the platform's roots plus an
//! optional `ca_cert`, `insecure` only when asked), timeouts, the system proxy, the
//! `Authorization` header (the only place the token is exposed), streaming the list body
//! through [`decode`](crate::argocd::decode), the watch stream, and turning every transport
//! and HTTP failure into a [`crate::error::Error`] that names the fix and never the token.

use std::sync::Once;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, BoxStream, StreamExt};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use reqwest::{Response, StatusCode};
use serde::Deserialize;
use url::Url;

use crate::argocd::decode::{self, ListDecoder, StreamError, json_error_cause, json_error_offset};
use crate::argocd::model::{ApiError, Application, ManagedResource, ManagedResources, Version};
use crate::config::ServerTarget;
use crate::error::{Error, Result};
use crate::token::Token;

/// A client for one Argo CD server (cheap to clone).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// Base URL with a trailing slash, so relative joins keep a root path (`/argocd/`).
    base: Url,
    /// The base URL as shown to people (no trailing slash).
    server: String,
    /// What to pass to `argocd login` (host[:port], plus `--plaintext` for http).
    login_host: String,
    token: Option<Token>,
    timeout: Duration,
    connect_timeout: Duration,
}

/// What to list: `GET /api/v1/applications?selector=..&name=..&fields=..`.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub selector: Option<String>,
    pub name: Option<String>,
    /// The `fields` projection; `None` asks for the whole objects.
    pub fields: Option<String>,
}

/// A decoded ApplicationList.
#[derive(Debug, Clone, Default)]
pub struct AppList {
    pub resource_version: Option<String>,
    pub items: Vec<Application>,
}

/// `GET /api/v1/session/userinfo`.
#[derive(Debug, Clone, Default)]
pub struct UserInfo {
    pub logged_in: bool,
    pub username: Option<String>,
}

/// One event of the watch stream.
#[derive(Debug, Clone)]
pub enum WatchEvent {
    Added(Box<Application>),
    Modified(Box<Application>),
    Deleted(Box<Application>),
}

/// The keys of Argo CD's list allow-list that `core` reads.
///
/// Checked against argoproj/argo-cd `server/application/forwarder_overwrite.go` (v3.x,
/// `appFields`): since v2.6 the list endpoint builds each item from a hand-kept map whose
/// keys are `metadata.{name,namespace,annotations,labels,creationTimestamp,
/// deletionTimestamp}`, `spec` (whole, no sub-keys), `status.sync.status`, `status.health`,
/// `status.summary`, `status.operationState.{startedAt,finishedAt,phase}`,
/// `status.resources`, `operation.sync` and `status.sourceHydrator`; only exact matches of
/// `items.<key>` count, anything else is silently dropped. So `items.spec.source` would
/// return no spec at all: we ask for `items.spec`. The list's own `metadata` (with
/// `resourceVersion`) is always sent. `status.sync.revision` joined the map in v3.5
/// (PLATFORM D); `metadata.ownerReferences` is not in it (the generating ApplicationSet is
/// found another way).
const LIST_FIELDS: &[&str] = &[
    "metadata.resourceVersion",
    "items.metadata.name",
    "items.metadata.namespace",
    "items.metadata.labels",
    "items.metadata.annotations",
    "items.metadata.creationTimestamp",
    "items.spec",
    "items.status.sync.status",
    "items.status.health",
    "items.status.operationState.phase",
    "items.status.operationState.finishedAt",
    "items.status.summary",
];

/// Longest watch line accepted: one Application is bounded by etcd's 1.5 MiB object limit.
const MAX_WATCH_LINE: usize = 16 * 1024 * 1024;

/// How much of an error body is read for the message.
const MAX_ERROR_BODY: usize = 64 * 1024;

fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already installed process-wide: fine, use it.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// `(major, minor)` of a version such as `v3.1.5+abc` or `2.14.0-rc1`.
fn parse_version(version: &str) -> Option<(u32, u32)> {
    let v = version.trim();
    let v = v.strip_prefix('v').unwrap_or(v);
    let mut parts = v.split(['.', '+', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Every `Display` in an error's source chain, joined with `: `, repeats removed.
fn cause_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = Some(err);
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

/// Whether a transport error is a certificate or handshake failure.
fn is_tls_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        // io::Error::source() skips its payload, so look inside it explicitly.
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
        {
            return true;
        }
        let s = e.to_string().to_ascii_lowercase();
        if s.contains("certificate") || s.contains("handshake") || s.contains("tls") {
            return true;
        }
        cur = e.source();
    }
    false
}

/// One readable line out of an error body: Argo CD's `message`/`error`, else the text of an
/// HTML page (title first), else the raw text; whitespace collapsed, at most ~200 chars.
fn body_excerpt(body: &[u8]) -> String {
    if let Ok(api) = serde_json::from_slice::<ApiError>(body)
        && let Some(m) = api.message.or(api.error).filter(|m| !m.trim().is_empty())
    {
        return shorten(&m);
    }
    let text = String::from_utf8_lossy(body);
    let lower = text.to_ascii_lowercase();
    let text = if lower.contains("<html") || lower.contains("<!doctype") || lower.contains("<body")
    {
        let title = lower
            .find("<title>")
            .and_then(|s| lower[s..].find("</title>").map(|e| (s + 7, s + e)))
            .map(|(s, e)| text[s..e].to_owned());
        let body_start = lower.find("<body").unwrap_or(0);
        let stripped = strip_tags(&text[body_start..]);
        match title {
            Some(t) if !stripped.contains(t.trim()) => format!("{} {stripped}", t.trim()),
            _ => stripped,
        }
    } else {
        text.into_owned()
    };
    let line = shorten(&text);
    if line.is_empty() {
        "(empty body)".to_owned()
    } else {
        line
    }
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    while i < html.len() {
        // Drop script and style contents wholesale.
        for skip in ["<script", "<style"] {
            if lower[i..].starts_with(skip) {
                let close = if skip == "<script" {
                    "</script>"
                } else {
                    "</style>"
                };
                i = lower[i..]
                    .find(close)
                    .map_or(html.len(), |p| i + p + close.len());
                out.push(' ');
            }
        }
        let Some(c) = html[i..].chars().next() else {
            break;
        };
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
        i += c.len_utf8();
    }
    out.replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// Collapses whitespace and control characters and cuts at ~200 chars.
fn shorten(s: &str) -> String {
    let mut line = s
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if line.chars().count() > 200 {
        line = line.chars().take(199).collect::<String>() + "…";
    }
    line
}

impl Client {
    pub fn new(target: &ServerTarget) -> Result<Client> {
        install_crypto_provider();
        let server = target.url.as_str().trim_end_matches('/').to_owned();
        let mut base = target.url.clone();
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.set_query(None);
        base.set_fragment(None);
        let host = base.host_str().unwrap_or_default();
        let login_host = match (base.port(), base.scheme()) {
            (Some(p), "http") => format!("{host}:{p} --plaintext"),
            (None, "http") => format!("{host}:80 --plaintext"),
            (Some(p), _) => format!("{host}:{p}"),
            (None, _) => host.to_owned(),
        };

        let mut builder = reqwest::Client::builder()
            .connect_timeout(target.connect_timeout)
            .gzip(true)
            .user_agent(concat!("preview-switch/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &target.ca_cert {
            let pem = std::fs::read(path).map_err(|e| Error::Config {
                path: path.clone(),
                line: None,
                message: format!("cannot read the CA certificate ({e}): fix --ca-cert / ca_cert"),
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| Error::Config {
                path: path.clone(),
                line: None,
                message: format!(
                    "not a PEM certificate bundle ({}): pass a PEM file",
                    cause_chain(&e)
                ),
            })?;
            if certs.is_empty() {
                return Err(Error::Config {
                    path: path.clone(),
                    line: None,
                    message: "no PEM certificate found in the file: pass a PEM file".to_owned(),
                });
            }
            builder = builder.tls_certs_merge(certs);
        }
        if target.insecure {
            tracing::warn!(server = %server, "TLS certificate verification is off (--insecure)");
            builder = builder.danger_accept_invalid_certs(true);
        }
        let http = builder.build().map_err(|e| Error::Tls {
            server: server.clone(),
            cause: format!("cannot set up the HTTP client: {}", cause_chain(&e)),
        })?;
        Ok(Client {
            http,
            base,
            server,
            login_host,
            token: target.token.clone(),
            timeout: target.timeout,
            connect_timeout: target.connect_timeout,
        })
    }

    /// The server's base URL as given, for messages and `Preview::server`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// `GET /api/version` (no auth): e.g. `v3.1.5+abc`.
    pub async fn version(&self) -> Result<String> {
        let url = self.url(&["api", "version"]);
        let resp = self
            .send(self.http.get(url), "GET /api/version", false)
            .await?;
        let body = self.read_body(resp, "GET /api/version").await?;
        let v: Version = self.parse(&body, "the version")?;
        Ok(v.version)
    }

    pub async fn userinfo(&self) -> Result<UserInfo> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Raw {
            #[serde(default)]
            logged_in: bool,
            username: Option<String>,
        }
        let what = "GET /api/v1/session/userinfo";
        let url = self.url(&["api", "v1", "session", "userinfo"]);
        let resp = self.send(self.http.get(url), what, true).await?;
        let body = self.read_body(resp, what).await?;
        let raw: Raw = self.parse(&body, "the session userinfo")?;
        Ok(UserInfo {
            logged_in: raw.logged_in,
            username: raw.username.filter(|u| !u.is_empty()),
        })
    }

    /// The `fields` projection that this server version honours, covering everything
    /// `core` reads (PLATFORM D: allow-list since 2.6, `status.sync.revision` from 3.5,
    /// never `metadata.ownerReferences`).
    pub fn fields_for_version(version: &str) -> Option<String> {
        let (major, minor) = parse_version(version)?;
        if (major, minor) < (2, 6) {
            return None;
        }
        let mut fields = LIST_FIELDS.join(",");
        if (major, minor) >= (3, 5) {
            fields.push_str(",items.status.sync.revision");
        }
        Some(fields)
    }

    /// Streams the list body through the item decoder; never builds a whole-document tree.
    pub async fn list_applications(&self, query: &ListQuery) -> Result<AppList> {
        let what = "GET /api/v1/applications";
        let mut url = self.url(&["api", "v1", "applications"]);
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = query.selector.as_deref().filter(|s| !s.is_empty()) {
                q.append_pair("selector", s);
            }
            if let Some(n) = query.name.as_deref().filter(|s| !s.is_empty()) {
                q.append_pair("name", n);
            }
            if let Some(f) = query.fields.as_deref().filter(|s| !s.is_empty()) {
                q.append_pair("fields", f);
            }
        }
        let resp = self.send(self.http.get(url), what, true).await?;
        match decode::decode_stream(resp.bytes_stream(), ListDecoder::new()).await {
            Ok(list) => Ok(list),
            Err(StreamError::Transport(e)) => Err(self.transport_error(e, what)),
            Err(StreamError::Json(e)) => Err(Error::BadJson {
                server: self.server.clone(),
                what: "the application list".to_owned(),
                offset: e.offset,
                cause: e.cause,
            }),
        }
    }

    pub async fn managed_resources(&self, app: &Application) -> Result<Vec<ManagedResource>> {
        let name = &app.metadata.name;
        let what = format!("GET /api/v1/applications/{name}/managed-resources");
        let mut url = self.url(&["api", "v1", "applications", name, "managed-resources"]);
        if !app.metadata.namespace.is_empty() {
            url.query_pairs_mut()
                .append_pair("appNamespace", &app.metadata.namespace);
        }
        let resp = self.send(self.http.get(url), &what, true).await?;
        let body = self.read_body(resp, &what).await?;
        let parsed: ManagedResources =
            self.parse(&body, &format!("the managed resources of {name}"))?;
        Ok(parsed.items)
    }

    /// `GET /api/v1/stream/applications` as a stream of events, one per NDJSON line.
    pub async fn watch_applications(
        &self,
        query: &ListQuery,
        resource_version: Option<&str>,
    ) -> Result<futures_util::stream::BoxStream<'static, Result<WatchEvent>>> {
        let what = "GET /api/v1/stream/applications";
        let mut url = self.url(&["api", "v1", "stream", "applications"]);
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = query.selector.as_deref().filter(|s| !s.is_empty()) {
                q.append_pair("selector", s);
            }
            if let Some(n) = query.name.as_deref().filter(|s| !s.is_empty()) {
                q.append_pair("name", n);
            }
            if let Some(rv) = resource_version.filter(|s| !s.is_empty()) {
                q.append_pair("resourceVersion", rv);
            }
            if let Some(f) = query.fields.as_deref().and_then(watch_fields) {
                q.append_pair("fields", &f);
            }
        }
        // The stream is long-lived: only waiting for the response head is bounded.
        let request = self.authorize(self.http.get(url).header(ACCEPT, "application/json"));
        let resp = match tokio::time::timeout(self.timeout, request.send()).await {
            Err(_) => {
                return Err(Error::Timeout {
                    server: self.server.clone(),
                    after_secs: self.timeout.as_secs_f64(),
                });
            }
            Ok(r) => r.map_err(|e| self.transport_error(e, what))?,
        };
        let resp = self.check_status(resp, what).await?;
        Ok(watch_stream(self.clone(), resp.bytes_stream().boxed()))
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("http(s) URLs have a path")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// Adds the bearer token: the one place [`Token::expose`] is called.
    fn authorize(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => match HeaderValue::from_str(&format!("Bearer {}", token.expose())) {
                Ok(mut value) => {
                    value.set_sensitive(true);
                    rb.header(AUTHORIZATION, value)
                }
                // A token with control characters cannot be sent; the server will say 401.
                Err(_) => rb,
            },
            None => rb,
        }
    }

    async fn send(&self, rb: reqwest::RequestBuilder, what: &str, auth: bool) -> Result<Response> {
        let rb = rb.header(ACCEPT, "application/json").timeout(self.timeout);
        let rb = if auth { self.authorize(rb) } else { rb };
        let resp = rb.send().await.map_err(|e| self.transport_error(e, what))?;
        self.check_status(resp, what).await
    }

    /// Turns a non-2xx response into the matching error, reading a bounded body excerpt.
    async fn check_status(&self, mut resp: Response, what: &str) -> Result<Response> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let mut body = Vec::new();
        while body.len() < MAX_ERROR_BODY {
            match resp.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
        body.truncate(MAX_ERROR_BODY);
        let detail = body_excerpt(&body);
        Err(match status {
            StatusCode::UNAUTHORIZED => Error::Unauthorized {
                server: self.server.clone(),
                host: self.login_host.clone(),
                detail,
            },
            StatusCode::FORBIDDEN => Error::Forbidden {
                server: self.server.clone(),
                detail,
            },
            _ => Error::Http {
                server: self.server.clone(),
                status: status.as_u16(),
                what: what.to_owned(),
                detail,
            },
        })
    }

    async fn read_body(&self, resp: Response, what: &str) -> Result<Bytes> {
        resp.bytes()
            .await
            .map_err(|e| self.transport_error(e, what))
    }

    fn parse<T: serde::de::DeserializeOwned>(&self, body: &[u8], what: &str) -> Result<T> {
        serde_json::from_slice(body).map_err(|e| Error::BadJson {
            server: self.server.clone(),
            what: what.to_owned(),
            offset: json_error_offset(body, &e),
            cause: json_error_cause(&e),
        })
    }

    /// Maps a reqwest failure. The request URL is dropped from the error (we name the server
    /// ourselves), and request headers are never part of reqwest's messages.
    fn transport_error(&self, err: reqwest::Error, what: &str) -> Error {
        let err = err.without_url();
        if err.is_timeout() {
            let after = if err.is_connect() {
                self.connect_timeout
            } else {
                self.timeout
            };
            return Error::Timeout {
                server: self.server.clone(),
                after_secs: after.as_secs_f64(),
            };
        }
        if is_tls_error(&err) {
            return Error::Tls {
                server: self.server.clone(),
                cause: cause_chain(&err),
            };
        }
        let cause = cause_chain(&err);
        let cause = if err.is_body() || err.is_decode() {
            format!("the connection broke while reading the response to {what}: {cause}")
        } else {
            cause
        };
        Error::Unreachable {
            server: self.server.clone(),
            cause,
        }
    }
}

/// Rewrites a list projection (`items.x`) into the watch's (`result.application.x`). The
/// stream uses the generic JSON field filter, so any key works there.
fn watch_fields(list_fields: &str) -> Option<String> {
    let mut out = vec!["result.type".to_owned()];
    out.extend(
        list_fields
            .split(',')
            .filter_map(|f| f.trim().strip_prefix("items."))
            .map(|f| format!("result.application.{f}")),
    );
    (out.len() > 1).then(|| out.join(","))
}

/// One NDJSON (or SSE `data:`) line of the watch stream.
#[derive(Deserialize)]
struct WatchLine {
    result: Option<WatchResult>,
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct WatchResult {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    application: Application,
}

impl Client {
    /// Decodes one line; `None` for blank lines, SSE comments/keepalives and unknown types.
    fn watch_line(&self, line: &[u8], offset: u64) -> Option<Result<WatchEvent>> {
        let mut line = line.trim_ascii();
        if let Some(rest) = line.strip_prefix(b"data:") {
            line = rest.trim_ascii();
        }
        if line.is_empty()
            || line.starts_with(b":")
            || !line.starts_with(b"{") && line.starts_with(b"event:")
        {
            return None;
        }
        let parsed: WatchLine = match serde_json::from_slice(line) {
            Ok(p) => p,
            Err(e) => {
                return Some(Err(Error::BadJson {
                    server: self.server.clone(),
                    what: "the application watch stream".to_owned(),
                    offset: offset + json_error_offset(line, &e),
                    cause: json_error_cause(&e),
                }));
            }
        };
        if let Some(err) = parsed.error {
            return Some(Err(self.stream_error(&err)));
        }
        let result = parsed.result?;
        let app = Box::new(result.application);
        match result.kind.as_str() {
            "ADDED" => Some(Ok(WatchEvent::Added(app))),
            "MODIFIED" => Some(Ok(WatchEvent::Modified(app))),
            "DELETED" => Some(Ok(WatchEvent::Deleted(app))),
            other => {
                tracing::debug!(kind = other, "ignoring unknown watch event type");
                None
            }
        }
    }

    /// grpc-gateway's in-stream error: `{"error":{"grpc_code":16,"http_code":401,"message":..}}`.
    fn stream_error(&self, err: &serde_json::Value) -> Error {
        let message = err
            .get("message")
            .and_then(|m| m.as_str())
            .or_else(|| err.as_str())
            .unwrap_or("stream error");
        let detail = shorten(message);
        let http = err.get("http_code").and_then(|c| c.as_u64());
        let grpc = err
            .get("grpc_code")
            .or_else(|| err.get("code"))
            .and_then(|c| c.as_u64());
        match (http, grpc) {
            (Some(401), _) | (None, Some(16)) => Error::Unauthorized {
                server: self.server.clone(),
                host: self.login_host.clone(),
                detail,
            },
            (Some(403), _) | (None, Some(7)) => Error::Forbidden {
                server: self.server.clone(),
                detail,
            },
            (status, _) => Error::Http {
                server: self.server.clone(),
                status: status.and_then(|s| u16::try_from(s).ok()).unwrap_or(500),
                what: "the application watch stream".to_owned(),
                detail,
            },
        }
    }
}

struct WatchState {
    client: Client,
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    buf: BytesMut,
    /// Absolute offset of `buf[0]` in the stream.
    offset: u64,
    done: bool,
}

fn watch_stream(
    client: Client,
    body: BoxStream<'static, reqwest::Result<Bytes>>,
) -> BoxStream<'static, Result<WatchEvent>> {
    let state = WatchState {
        client,
        body,
        buf: BytesMut::new(),
        offset: 0,
        done: false,
    };
    stream::unfold(state, |mut st| async move {
        loop {
            if let Some(nl) = memchr::memchr(b'\n', &st.buf) {
                let line = st.buf.split_to(nl + 1);
                let at = st.offset;
                st.offset += line.len() as u64;
                if let Some(item) = st.client.watch_line(&line, at) {
                    return Some((item, st));
                }
                continue;
            }
            if st.done {
                if st.buf.is_empty() {
                    return None;
                }
                // A last line without a newline.
                let line = st.buf.split();
                let at = st.offset;
                st.offset += line.len() as u64;
                match st.client.watch_line(&line, at) {
                    Some(item) => return Some((item, st)),
                    None => return None,
                }
            }
            if st.buf.len() > MAX_WATCH_LINE {
                st.done = true;
                st.buf.clear();
                let err = Error::BadJson {
                    server: st.client.server.clone(),
                    what: "the application watch stream".to_owned(),
                    offset: st.offset,
                    cause: format!("a line longer than {MAX_WATCH_LINE} bytes"),
                };
                return Some((Err(err), st));
            }
            match st.body.next().await {
                Some(Ok(chunk)) => st.buf.extend_from_slice(&chunk),
                Some(Err(e)) => {
                    st.done = true;
                    st.buf.clear();
                    let err = st
                        .client
                        .transport_error(e, "GET /api/v1/stream/applications");
                    return Some((Err(err), st));
                }
                None => st.done = true,
            }
        }
    })
    .boxed()
}
