//! The Argo CD HTTP client: one [`Client`] per server, built from a resolved
//! [`ServerTarget`]. It owns TLS (rustls with the ring provider, the platform's roots plus an
//! optional `ca_cert`, `insecure` only when asked), timeouts, the system proxy, the
//! `Authorization` header (the only place the token is exposed), streaming the list body
//! through [`decode`](crate::argocd::decode), and turning every transport and HTTP failure
//! into a [`crate::error::Error`] that never carries the token. The watch stream is in
//! [`watch`](crate::argocd::watch).

use std::sync::Once;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use reqwest::{Response, StatusCode};
use serde::Deserialize;
use url::Url;

use crate::argocd::decode::{self, ListDecoder, StreamError, json_error_cause, json_error_offset};
use crate::argocd::model::{
    ApiError, AppList, Application, ApplicationSet, ApplicationSetList, ManagedResource,
    ManagedResources, Version,
};
use crate::error::{Error, Result};
use crate::server::{CaCert, ServerTarget};
use crate::token::Token;

/// A client for one Argo CD server (cheap to clone).
#[derive(Debug, Clone)]
pub struct Client {
    pub(super) http: reqwest::Client,
    /// Base URL with a trailing slash, so relative joins keep a root path (`/argocd/`).
    base: Url,
    /// The base URL as shown to people (no trailing slash).
    pub(super) server: String,
    /// What to pass to `argocd login` (host[:port], plus `--plaintext` for http).
    pub(super) login_host: String,
    token: Option<Token>,
    pub(super) timeout: Duration,
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

impl ListQuery {
    /// Adds `selector` and `name`, which the list and the watch take alike.
    pub(super) fn append_selection(
        &self,
        q: &mut url::form_urlencoded::Serializer<'_, url::UrlQuery<'_>>,
    ) {
        if let Some(s) = self.selector.as_deref().filter(|s| !s.is_empty()) {
            q.append_pair("selector", s);
        }
        if let Some(n) = self.name.as_deref().filter(|s| !s.is_empty()) {
            q.append_pair("name", n);
        }
    }
}

/// `GET /api/v1/session/userinfo`.
#[derive(Debug, Clone, Default)]
pub struct UserInfo {
    pub logged_in: bool,
    pub username: Option<String>,
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

/// TCP keepalive: the first probe after this much silence, then one per interval, and the
/// connection is dropped after this many unanswered ones (about 1.5 min for a dead peer
/// under an idle watch, instead of the kernel's 2 h).
const TCP_KEEPALIVE: Duration = Duration::from_secs(45);
const TCP_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
const TCP_KEEPALIVE_RETRIES: u32 = 3;

/// How much of an error body is read for the message.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Largest body read whole (everything but the streamed list and watch). One app's managed
/// resources, with every live and target manifest as a JSON string, is the largest real one
/// and stays far below this.
const MAX_BODY: usize = 64 * 1024 * 1024;

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

/// A TLS failure in words, then rustls' own: the common certificate problems named for
/// what they mean to someone setting up a private CA.
fn tls_words(cause: &str) -> String {
    let meaning = [
        (
            "UnknownIssuer",
            "the server's certificate is signed by an unknown issuer (a private CA or a self-signed certificate)",
        ),
        (
            "NotValidForName",
            "the server's certificate is not valid for this host name",
        ),
        ("Expired", "the server's certificate has expired"),
        (
            "InvalidContentType",
            "the server did not answer with TLS (is it plain http?)",
        ),
        (
            "CorruptMessage",
            "the server did not answer with TLS (is it plain http?)",
        ),
    ]
    .iter()
    .find(|(code, _)| cause.contains(code))
    .map(|(_, words)| *words);
    match meaning {
        Some(words) => format!("{words}: {cause}"),
        None => cause.to_owned(),
    }
}

/// Whether a transport error is a certificate or handshake failure.
fn is_tls_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        // io::Error::source() skips its payload (hyper-rustls nests io::Errors two deep),
        // so look inside explicitly.
        let mut io = e.downcast_ref::<std::io::Error>();
        while let Some(inner) = io.and_then(std::io::Error::get_ref) {
            if inner.downcast_ref::<rustls::Error>().is_some() {
                return true;
            }
            io = inner.downcast_ref::<std::io::Error>();
        }
        let s = e.to_string().to_ascii_lowercase();
        if s.contains("certificate") || s.contains("handshake") || s.contains("tls") {
            return true;
        }
        cur = e.source();
    }
    false
}

/// What a server said, as one short line; errors take it through [`Client::said`], which
/// redacts the body first, so that whatever must be done to a server's words (redaction of
/// what looks like a credential, shortening here) happens in one place. Reads Argo CD's unary error body
/// (`{"error","code","message"}`: its `message`, else `error`), the stream error chunk
/// (`{"error":{"grpc_code","message",…}}`: its `message`), else the text of an HTML page
/// (title first), else the raw text; whitespace collapsed, at most ~200 chars.
pub(crate) fn server_words(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body)
        && value.is_object()
    {
        let text = |v: Option<&serde_json::Value>| {
            v.and_then(serde_json::Value::as_str)
                .filter(|m| !m.trim().is_empty())
                .map(shorten)
        };
        let said = text(value.get("message"))
            .or_else(|| text(value.get("error")))
            .or_else(|| text(value.pointer("/error/message")));
        return said.unwrap_or_else(|| {
            // `{}`: a stream error whose `message` a `fields` projection filtered out.
            "(the server gave no message)".to_owned()
        });
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
pub(super) fn shorten(s: &str) -> String {
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

/// At most [`MAX_ERROR_BODY`] bytes of an error response's body.
async fn read_error_body(mut resp: Response) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY {
        match resp.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(MAX_ERROR_BODY);
    body
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
        let mut login_host = match (base.port(), base.scheme()) {
            (Some(p), "http") => format!("{host}:{p} --plaintext"),
            (None, "http") => format!("{host}:80 --plaintext"),
            (Some(p), _) => format!("{host}:{p}"),
            (None, _) => host.to_owned(),
        };
        // Argo CD served under `--rootpath`: the CLI reaches it through gRPC-web there
        // (`--grpc-web-root-path`, which `argocd login` also names the context after).
        let root = base.path().trim_matches('/');
        if !root.is_empty() {
            login_host.push_str(&format!(" --grpc-web-root-path {root}"));
        }

        // No overall request timeout on the client: the watch may rightly wait hours for
        // its first byte (upstream sends no header before the first event). Unary calls set
        // theirs per request; TCP keepalive finds a dead peer under an idle watch.
        let mut builder = reqwest::Client::builder()
            .connect_timeout(target.connect_timeout)
            .tcp_keepalive(TCP_KEEPALIVE)
            .tcp_keepalive_interval(TCP_KEEPALIVE_INTERVAL)
            .tcp_keepalive_retries(TCP_KEEPALIVE_RETRIES)
            .gzip(true)
            .user_agent(concat!("preview-switch/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &target.ca_cert {
            let ca_error = |cause: String| Error::CaCert {
                path: ca.path().to_owned(),
                cause,
            };
            let pem = match ca {
                CaCert::File(path) => {
                    std::fs::read(path).map_err(|e| ca_error(format!("cannot read it ({e})")))?
                }
                CaCert::Inline { pem, .. } => pem.clone(),
            };
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                ca_error(format!(
                    "not a PEM certificate bundle ({})",
                    cause_chain(&e)
                ))
            })?;
            if certs.is_empty() {
                return Err(ca_error("no PEM certificate in the file".to_owned()));
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

    /// What to pass to `argocd login` for this server.
    pub fn login_host(&self) -> &str {
        &self.login_host
    }

    /// `GET /api/version` (no auth): e.g. `v3.1.5+abc`.
    pub async fn version(&self) -> Result<String> {
        let url = self.url(&["api", "version"]);
        let resp = self
            .send(self.http.get(url), "GET /api/version", false)
            .await?;
        let body = self.read_body(resp, "GET /api/version").await?;
        let v: Version = self.parse(&body, "the version")?;
        // Shown by `doctor`: the server's words.
        Ok(self.redacted(&v.version))
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
            username: raw
                .username
                .filter(|u| !u.is_empty())
                .map(|u| self.redacted(&u)),
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
            query.append_selection(&mut q);
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
                cause: self.redacted(&e.cause),
            }),
        }
    }

    /// `GET /api/v1/applications/{name}/managed-resources`; `None` when the application is
    /// gone since it was listed (see [`Client::per_app`]).
    pub async fn managed_resources(
        &self,
        app: &Application,
    ) -> Result<Option<Vec<ManagedResource>>> {
        let name = &app.metadata.name;
        let what = format!("GET /api/v1/applications/{name}/managed-resources");
        let url = self.per_app_url(AppId::of(app), &["managed-resources"]);
        let Some(resp) = self.per_app(self.http.get(url), &what).await? else {
            return Ok(None);
        };
        let body = self.read_body(resp, &what).await?;
        let parsed: ManagedResources =
            self.parse(&body, &format!("the managed resources of {name}"))?;
        Ok(Some(parsed.items))
    }

    /// `GET /api/v1/applicationsets` (Argo CD 2.5+; no `fields` projection, RBAC-filtered).
    pub async fn list_applicationsets(&self) -> Result<Vec<ApplicationSet>> {
        let what = "GET /api/v1/applicationsets";
        let url = self.url(&["api", "v1", "applicationsets"]);
        let resp = self.send(self.http.get(url), what, true).await?;
        let body = self.read_body(resp, what).await?;
        let parsed: ApplicationSetList = self.parse(&body, "the ApplicationSet list")?;
        Ok(parsed.items)
    }

    /// `GET /api/v1/applications/{name}`: the whole object, for what the list projection
    /// never returns (`metadata.ownerReferences`, `status.history`); `None` when it is gone
    /// since it was listed.
    pub async fn get_application(&self, app: AppId<'_>) -> Result<Option<Application>> {
        let name = app.name;
        let what = format!("GET /api/v1/applications/{name}");
        let url = self.per_app_url(app, &[]);
        let Some(resp) = self.per_app(self.http.get(url), &what).await? else {
            return Ok(None);
        };
        let body = self.read_body(resp, &what).await?;
        self.parse(&body, &format!("the application {name}"))
            .map(Some)
    }

    /// `/api/v1/applications/{name}/{rest…}?appNamespace=…&project=…` for a listed app. The
    /// project and namespace it was listed with go along, so that the server answers 404
    /// for an app deleted since (v2.8+; `server/application/application.go` ::
    /// `getAppEnforceRBAC`) and looks in the right namespace.
    fn per_app_url(&self, app: AppId<'_>, rest: &[&str]) -> Url {
        let mut segments = vec!["api", "v1", "applications", app.name];
        segments.extend_from_slice(rest);
        let mut url = self.url(&segments);
        with_app_query(&mut url, &app, "appNamespace");
        url
    }

    /// Sends a per-application request. `Ok(None)` means the application is gone: Argo CD
    /// answers a listed app that was deleted (or moved out of reach) since with its own
    /// 403 `permission denied` (without `project=`, or before v2.8) or 404 `… not found`
    /// (with it): one preview less, not a failed server and not a missing role. A 403/404
    /// without Argo CD's error body (a proxy, a wrong path) is an error as usual.
    async fn per_app(&self, rb: reqwest::RequestBuilder, what: &str) -> Result<Option<Response>> {
        let rb = self.authorize(rb.header(ACCEPT, "application/json").timeout(self.timeout));
        let resp = rb.send().await.map_err(|e| self.transport_error(e, what))?;
        let status = resp.status();
        if status != StatusCode::FORBIDDEN && status != StatusCode::NOT_FOUND {
            return self.check_status(resp, what).await.map(Some);
        }
        let body = read_error_body(resp).await;
        let code = serde_json::from_slice::<ApiError>(&body)
            .ok()
            .and_then(|e| e.code);
        match code {
            Some(5 | 7) => Ok(None),
            _ => Err(self.status_error(status, &body, what)),
        }
    }

    pub(super) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("http(s) URLs have a path")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// Adds the bearer token: the one place [`Token::expose`] is called.
    pub(super) fn authorize(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
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
    pub(super) async fn check_status(&self, resp: Response, what: &str) -> Result<Response> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = read_error_body(resp).await;
        Err(self.status_error(status, &body, what))
    }

    /// The error for a non-2xx status and its (bounded) body.
    fn status_error(&self, status: StatusCode, body: &[u8], what: &str) -> Error {
        let detail = self.said(body);
        match status {
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
        }
    }

    /// Reads a whole (small) response body, refusing one over [`MAX_BODY`]: these answers
    /// (version, userinfo, one app's resources, the ApplicationSets) are read into memory,
    /// so a broken proxy or hostile server streaming without end must not grow it unbounded.
    pub(super) async fn read_body(&self, mut resp: Response, what: &str) -> Result<Bytes> {
        let too_large = |offset: u64| Error::BadJson {
            server: self.server.clone(),
            what: what.to_owned(),
            offset,
            cause: format!(
                "the response is larger than {} MiB, far beyond any real answer to it",
                MAX_BODY / (1024 * 1024)
            ),
        };
        if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
            return Err(too_large(MAX_BODY as u64));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.transport_error(e, what))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(too_large(MAX_BODY as u64));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(body))
    }

    pub(super) fn parse<T: serde::de::DeserializeOwned>(
        &self,
        body: &[u8],
        what: &str,
    ) -> Result<T> {
        serde_json::from_slice(body).map_err(|e| Error::BadJson {
            server: self.server.clone(),
            what: what.to_owned(),
            offset: json_error_offset(body, &e),
            cause: self.redacted(&json_error_cause(&e)),
        })
    }

    /// A server's words as they may enter an error: without the token or anything shaped
    /// like a credential ([`crate::token::redact`]). Every place where server text becomes
    /// part of an error calls this.
    pub(super) fn redacted(&self, said: &str) -> String {
        crate::token::redact(said, self.token.as_ref())
    }

    /// [`server_words`] of a body, redacted whole before it is read and shortened: the one
    /// way a server's error words enter one of our errors.
    pub(super) fn said(&self, body: &[u8]) -> String {
        server_words(self.redacted(&String::from_utf8_lossy(body)).as_bytes())
    }

    /// Maps a reqwest failure. The request URL is dropped from the error (we name the server
    /// ourselves), and request headers are never part of reqwest's messages.
    pub(super) fn transport_error(&self, err: reqwest::Error, what: &str) -> Error {
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
                cause: tls_words(&cause_chain(&err)),
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

/// Which Application a call is about: its name, namespace and project (both may be empty).
#[derive(Debug, Clone, Copy)]
pub struct AppId<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub project: &'a str,
}

impl<'a> AppId<'a> {
    pub fn of(app: &'a Application) -> AppId<'a> {
        AppId {
            name: &app.metadata.name,
            namespace: &app.metadata.namespace,
            project: &app.spec.project,
        }
    }

    /// `project/name`, the object Argo CD's RBAC names.
    pub(super) fn rbac_object(&self) -> String {
        if self.project.is_empty() {
            self.name.to_owned()
        } else {
            format!("{}/{}", self.project, self.name)
        }
    }
}

/// Adds the app's namespace (under `namespace_key`: `appNamespace` for most calls,
/// `namespace` for links) and project.
pub(super) fn with_app_query(url: &mut url::Url, app: &AppId<'_>, namespace_key: &str) {
    let mut q = url.query_pairs_mut();
    if !app.namespace.is_empty() {
        q.append_pair(namespace_key, app.namespace);
    }
    if !app.project.is_empty() {
        q.append_pair("project", app.project);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Body;
    use axum::extract::{RawQuery, Request};
    use axum::http::{HeaderMap, StatusCode as AxStatus, header};
    use axum::response::{IntoResponse, Response as AxResponse};
    use axum::routing::get;

    use futures_util::stream::{self, StreamExt};

    use super::*;
    use crate::error::Surface;

    const SECRET: &str = "SECRET-token-never-shown";

    /// Serves `router` on 127.0.0.1:0; the server task dies with the test's runtime.
    async fn serve(router: Router) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        addr
    }

    pub(in crate::argocd) fn target(url: &str) -> ServerTarget {
        ServerTarget {
            name: "test".into(),
            url: Url::parse(url).unwrap(),
            token: Token::new(SECRET),
            selector: "type=pr".into(),
            ca_cert: None,
            insecure: false,
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
            route_template: None,
            origin: "test".into(),
        }
    }

    pub(in crate::argocd) async fn client_for(router: Router) -> Client {
        let addr = serve(router).await;
        Client::new(&target(&format!("http://{addr}"))).unwrap()
    }

    /// Every error must be free of the token, in both its forms.
    pub(in crate::argocd) fn no_secret(err: &Error) -> String {
        // What each surface shows: the message and both fixes.
        let text = format!(
            "{err} {err:?} {} {}",
            err.fix(Surface::Cli),
            err.fix(Surface::Popup)
        );
        assert!(!text.contains(SECRET), "token leaked: {text}");
        text
    }

    pub(in crate::argocd) fn app_json(name: &str) -> String {
        format!(
            r#"{{"metadata":{{"name":"{name}","namespace":"argocd","labels":{{"type":"pr"}}}},
               "spec":{{"destination":{{"namespace":"{name}"}}}},
               "status":{{"sync":{{"status":"Synced"}},"health":{{"status":"Healthy"}},"history":[{{"x":"{}"}}]}}}}"#,
            "y".repeat(3000)
        )
    }

    #[tokio::test]
    async fn list_streams_a_chunked_body_and_sends_query_and_token() {
        // (Authorization header, raw query) of each request.
        type Seen = Arc<Mutex<Vec<(Option<String>, Option<String>)>>>;
        let seen: Seen = Arc::default();
        let seen2 = seen.clone();
        let router = Router::new().route(
            "/api/v1/applications",
            get(move |headers: HeaderMap, RawQuery(q): RawQuery| {
                let seen = seen2.clone();
                async move {
                    let auth = headers
                        .get(header::AUTHORIZATION)
                        .map(|v| v.to_str().unwrap().to_owned());
                    seen.lock().unwrap().push((auth, q));
                    let body = format!(
                        r#"{{"metadata":{{"resourceVersion":"77"}},"items":[{},{},{}]}}"#,
                        app_json("a-pr-1"),
                        app_json("b-pr-2"),
                        app_json("c-pr-3")
                    );
                    // Small chunks so items and strings straddle chunk boundaries.
                    let chunks: Vec<std::io::Result<Vec<u8>>> = body
                        .into_bytes()
                        .chunks(700)
                        .map(|c| Ok(c.to_vec()))
                        .collect();
                    Body::from_stream(futures_util::stream::iter(chunks))
                }
            }),
        );
        let client = client_for(router).await;
        let query = ListQuery {
            selector: Some("type=pr".into()),
            name: None,
            fields: Client::fields_for_version("v3.1.0"),
        };
        let list = client.list_applications(&query).await.unwrap();
        assert_eq!(list.resource_version.as_deref(), Some("77"));
        let names: Vec<&str> = list
            .items
            .iter()
            .map(|a| a.metadata.name.as_str())
            .collect();
        assert_eq!(names, ["a-pr-1", "b-pr-2", "c-pr-3"]);
        assert_eq!(
            list.items[1].status.health.status.as_deref(),
            Some("Healthy")
        );
        let seen = seen.lock().unwrap();
        let (auth, q) = &seen[0];
        assert_eq!(auth.as_deref(), Some(format!("Bearer {SECRET}").as_str()));
        let q = q.as_deref().unwrap();
        assert!(
            q.starts_with(
                "selector=type%3Dpr&fields=metadata.resourceVersion%2Citems.metadata.name"
            ),
            "{q}"
        );
    }

    #[tokio::test]
    async fn items_null_is_an_empty_list() {
        let router = Router::new().route(
            "/api/v1/applications",
            get(|| async { r#"{"metadata":{"resourceVersion":"5"},"items":null}"# }),
        );
        let list = client_for(router)
            .await
            .list_applications(&ListQuery::default())
            .await
            .unwrap();
        assert!(list.items.is_empty());
        assert_eq!(list.resource_version.as_deref(), Some("5"));
    }

    #[tokio::test]
    async fn expired_token_says_to_log_in_again() {
        let router = Router::new().route(
            "/api/v1/applications",
            get(|| async {
                (
                    AxStatus::UNAUTHORIZED,
                    r#"{"error":"invalid session: token is expired","code":16,"message":"invalid session: token is expired"}"#,
                )
            }),
        );
        let client = client_for(router).await;
        let err = client
            .list_applications(&ListQuery::default())
            .await
            .unwrap_err();
        let text = no_secret(&err);
        let port = client.base.port().unwrap();
        assert!(matches!(err, Error::Unauthorized { .. }));
        assert!(
            text.contains("401 invalid session: token is expired"),
            "{text}"
        );
        assert!(
            text.contains(&format!("argocd login 127.0.0.1:{port} --plaintext")),
            "{text}"
        );
        assert_eq!(err.exit_code(), 1);
    }

    #[tokio::test]
    async fn forbidden_mentions_rbac() {
        let router = Router::new().route(
            "/api/v1/applications",
            get(|| async {
                (
                    AxStatus::FORBIDDEN,
                    r#"{"error":"permission denied","code":7,"message":"permission denied"}"#,
                )
            }),
        );
        let err = client_for(router)
            .await
            .list_applications(&ListQuery::default())
            .await
            .unwrap_err();
        let text = no_secret(&err);
        assert!(matches!(err, Error::Forbidden { .. }));
        assert!(
            text.contains("403 permission denied") && text.contains("RBAC"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn html_502_becomes_one_short_line() {
        let page = format!(
            "<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title>\n<style>body {{ color: red }}</style></head>\n<body>\n<center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx</center>\n<p>{}</p></body>\n</html>\n",
            "filler ".repeat(100)
        );
        let router = Router::new().route(
            "/api/v1/applications",
            get(move || async move {
                (
                    AxStatus::BAD_GATEWAY,
                    [(header::CONTENT_TYPE, "text/html")],
                    page,
                )
                    .into_response()
            }),
        );
        let err = client_for(router)
            .await
            .list_applications(&ListQuery::default())
            .await
            .unwrap_err();
        no_secret(&err);
        match &err {
            Error::Http {
                status,
                detail,
                what,
                ..
            } => {
                assert_eq!((*status, what.as_str()), (502, "GET /api/v1/applications"));
                assert!(
                    detail.starts_with("502 Bad Gateway nginx filler"),
                    "{detail}"
                );
                assert!(
                    !detail.contains('<') && !detail.contains('\n') && !detail.contains("color"),
                    "{detail}"
                );
                assert!(detail.chars().count() <= 200, "{detail}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn garbage_json_reports_the_byte_offset() {
        let router = Router::new()
            .route(
                "/api/v1/applications",
                get(|| async { r#"{"items":[{"metadata":{}} oops]}"# }),
            )
            .route("/api/version", get(|| async { "not json" }));
        let client = client_for(router).await;
        let err = client
            .list_applications(&ListQuery::default())
            .await
            .unwrap_err();
        let text = no_secret(&err);
        assert!(matches!(err, Error::BadJson { offset: 26, .. }), "{text}");
        assert!(text.contains("at byte 26"), "{text}");
        let err = client.version().await.unwrap_err();
        assert!(matches!(err, Error::BadJson { offset: 0 | 1, .. }), "{err}");
    }

    #[tokio::test]
    async fn connection_refused_is_unreachable_with_the_cause() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let client = Client::new(&target(&format!("http://{addr}"))).unwrap();
        let err = client
            .list_applications(&ListQuery::default())
            .await
            .unwrap_err();
        let text = no_secret(&err);
        assert!(matches!(err, Error::Unreachable { .. }), "{text}");
        assert!(
            text.contains(&format!("cannot reach http://{addr}")),
            "{text}"
        );
        assert!(text.to_lowercase().contains("refused"), "{text}");
    }

    #[tokio::test]
    async fn slow_server_times_out() {
        let router = Router::new().route(
            "/api/v1/applications",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "{}"
            }),
        );
        let addr = serve(router).await;
        let mut t = target(&format!("http://{addr}"));
        t.timeout = Duration::from_millis(300);
        let err = Client::new(&t)
            .unwrap()
            .list_applications(&ListQuery::default())
            .await
            .unwrap_err();
        let text = no_secret(&err);
        assert!(matches!(err, Error::Timeout { .. }), "{text}");
        assert!(text.contains("did not answer within 0.3 s"), "{text}");
    }

    #[tokio::test]
    async fn https_to_a_plain_server_is_a_tls_error_naming_ca_cert() {
        let router = Router::new().route("/api/version", get(|| async { "{}" }));
        let addr = serve(router).await;
        let client = Client::new(&target(&format!("https://{addr}"))).unwrap();
        let err = client.version().await.unwrap_err();
        let text = no_secret(&err);
        assert!(matches!(err, Error::Tls { .. }), "{text}");
        assert!(text.contains("--ca-cert"), "{text}");
    }

    #[tokio::test]
    async fn unreadable_ca_cert_is_a_config_error() {
        let mut t = target("https://argocd.invalid");
        t.ca_cert = Some("/nonexistent/ca.pem".into());
        let err = Client::new(&t).unwrap_err();
        assert!(
            matches!(err, Error::CaCert { .. }) && err.to_string().contains("/nonexistent/ca.pem"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ca.pem");
        std::fs::write(&p, "not a certificate").unwrap();
        t.ca_cert = Some(p.into());
        assert!(matches!(Client::new(&t), Err(Error::CaCert { .. })));
    }

    #[tokio::test]
    async fn version_userinfo_and_managed_resources() {
        let router = Router::new()
            .route(
                "/api/version",
                get(|headers: HeaderMap| async move {
                    // /api/version needs no auth: we do not send the token there.
                    assert!(headers.get(header::AUTHORIZATION).is_none());
                    r#"{"Version":"v3.1.5+abc","BuildDate":"x"}"#
                }),
            )
            .route("/api/v1/session/userinfo", get(|| async { r#"{"loggedIn":true,"username":"admin","iss":"argocd"}"# }))
            .route(
                "/argocd/api/v1/applications/{name}/managed-resources",
                get(|req: Request| async move {
                    let path = req.uri().path().to_owned();
                    let q = req.uri().query().unwrap_or_default().to_owned();
                    AxResponse::new(Body::from(format!(
                        r#"{{"items":[{{"kind":"HTTPRoute","name":"{path}","namespace":"{q}","liveState":"null"}}]}}"#
                    )))
                }),
            );
        let addr = serve(router).await;
        let client = Client::new(&target(&format!("http://{addr}/argocd"))).unwrap();
        assert_eq!(client.server(), format!("http://{addr}/argocd"));
        let plain = Client::new(&target(&format!("http://{addr}"))).unwrap();
        assert_eq!(plain.version().await.unwrap(), "v3.1.5+abc");
        let who = plain.userinfo().await.unwrap();
        assert!(who.logged_in);
        assert_eq!(who.username.as_deref(), Some("admin"));

        let mut app = Application::default();
        app.metadata.name = "svc pr/1".into();
        app.metadata.namespace = "argo cd".into();
        let res = client.managed_resources(&app).await.unwrap().unwrap();
        assert_eq!(res[0].kind, "HTTPRoute");
        // The name is one encoded path segment; the namespace an encoded query value.
        assert_eq!(
            res[0].name,
            "/argocd/api/v1/applications/svc%20pr%2F1/managed-resources"
        );
        assert_eq!(res[0].namespace, "appNamespace=argo+cd");
        assert_eq!(res[0].live_state.as_deref(), Some("null"));
    }

    #[tokio::test]
    async fn an_endless_small_answer_is_cut_off_at_the_body_cap() {
        // A chunked body with no length that never ends: refused once past MAX_BODY, long
        // before the timeout, with memory bounded by the cap.
        let router = Router::new().route(
            "/api/v1/applications/{name}/managed-resources",
            get(|| async {
                let chunk = Bytes::from(vec![b' '; 1024 * 1024]);
                Body::from_stream(stream::repeat(chunk).map(Ok::<_, std::io::Error>))
            }),
        );
        let addr = serve(router).await;
        let mut t = target(&format!("http://{addr}"));
        t.timeout = Duration::from_secs(60);
        let client = Client::new(&t).unwrap();
        let mut app = Application::default();
        app.metadata.name = "courses-fe-pr-1".into();
        let err = client.managed_resources(&app).await.unwrap_err();
        let text = no_secret(&err);
        assert!(matches!(err, Error::BadJson { .. }), "{text}");
        assert!(text.contains("larger than 64 MiB"), "{text}");
        assert!(
            text.contains("check that the URL points at the Argo CD API"),
            "{text}"
        );
    }

    #[test]
    fn projection_follows_the_server_version() {
        assert_eq!(Client::fields_for_version("v2.5.9"), None);
        assert_eq!(Client::fields_for_version("garbage"), None);
        assert_eq!(Client::fields_for_version(""), None);
        for v in [
            "v2.6.0",
            "v3.4.2+0123abc",
            "2.14.0-rc1",
            "v3.5.0",
            "v3.6.0+x",
        ] {
            let f = Client::fields_for_version(v).unwrap();
            let keys: Vec<&str> = f.split(',').collect();
            assert!(
                keys.contains(&"items.spec") && keys.contains(&"items.metadata.labels"),
                "{v}"
            );
            // Never sub-keys of spec next to spec, never exclusions, never ownerReferences.
            assert!(
                !keys
                    .iter()
                    .any(|k| k.starts_with("items.spec.") || k.starts_with('-')),
                "{v}"
            );
            assert!(!f.contains("ownerReferences"), "{v}");
            let revision = keys.contains(&"items.status.sync.revision");
            assert_eq!(
                revision,
                v.starts_with("v3.5") || v.starts_with("v3.6"),
                "{v}"
            );
        }
    }

    #[test]
    fn excerpts_prefer_the_api_message_and_stay_short() {
        assert_eq!(
            server_words(br#"{"error":"e","code":2,"message":"m"}"#),
            "m"
        );
        assert_eq!(server_words(br#"{"error":"only error"}"#), "only error");
        assert_eq!(server_words(b""), "(empty body)");
        // The stream error chunk, whole or emptied by a `fields` projection.
        assert_eq!(
            server_words(
                br#"{"error":{"grpc_code":16,"http_code":401,"http_status":"Unauthorized","message":"no session information"}}"#
            ),
            "no session information"
        );
        assert_eq!(server_words(b"{}"), "(the server gave no message)");
        let long = "word ".repeat(100);
        let s = server_words(long.as_bytes());
        assert!(s.chars().count() == 200 && s.ends_with('…'), "{s}");
    }
}
