//! Faults the fake Argo CD can inject, set at run time on the [`super::FakeArgo`] handle:
//! the ways a real server, proxy or network fails a client (slow headers, an HTML 5xx from
//! the ingress, garbage, a reset mid-body, a dripping body, truncated JSON, an HTML page
//! where JSON was expected, `items: null`, an API error status with grpc-gateway's JSON body,
//! a 200 MB body streamed without being held, duplicated list items, and a watch stream that
//! answers with an in-stream error object). Applied by one middleware around every route.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};

/// One way to fail a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Wait this long before sending headers; then answer normally (combines with others).
    Delay(Duration),
    /// This status (e.g. 502) with an nginx-style HTML body, as an ingress sends it.
    ServerError(u16),
    /// `200 application/json` whose body is not JSON.
    Garbage,
    /// Send the first N bytes of the real body, then abort the connection.
    ResetAfter(usize),
    /// Send the real body one byte per interval.
    Drip(Duration),
    /// The first half of the real body, then a clean end: JSON that stops mid-value.
    Truncated,
    /// `200 text/html`: the Argo CD UI's index page, what a wrong base path or an SSO proxy returns.
    WrongContentType,
    /// `{"metadata":{...},"items":null}` (what Go writes for an empty list).
    NullItems,
    /// This status with grpc-gateway's JSON error body (`{"error","code","message"}`), as
    /// Argo CD itself answers (e.g. 403 `permission denied`, 404 `not found`).
    ApiError(u16),
    /// A list of this many bytes: one Application whose annotation value fills it (a
    /// proxy or server bug streaming garbage). Generated on the fly, never held whole.
    HugeItem(usize),
    /// The real list with this many bytes of extra, well-formed Applications put before
    /// its items, each padded by an unknown field (a huge but legal list). Streamed.
    HugeList(usize),
    /// The real list with every item sent twice (same name and namespace).
    DuplicateItems,
    /// The watch is refused before its first event: this status and grpc-gateway's stream
    /// error chunk `{"error":{"grpc_code",…}}` (no newline), filtered by the request's
    /// `fields` like every stream message, so `{}` unless `fields` names `error`.
    StreamError { http_code: u16, message: String },
    /// This status with grpc-gateway's JSON error body whose message repeats the request's
    /// `Authorization` header: not Argo CD itself, but what a debugging proxy or SSO
    /// middleware in front of it may answer. Hostile input for the client's redaction.
    EchoAuthorization(u16),
}

/// A fault, the paths it applies to, and how many times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    pub fault: Fault,
    /// `None`: every path. A path ending in `*` is a prefix; otherwise exact (no query).
    pub path: Option<String>,
    /// `None`: until cleared; `Some(n)`: the next n matching requests only.
    pub times: Option<usize>,
}

impl FaultRule {
    pub fn new(fault: Fault) -> FaultRule {
        FaultRule {
            fault,
            path: None,
            times: None,
        }
    }

    /// Restrict to one path (`/api/v1/applications`) or a prefix (`/api/v1/*`).
    pub fn on_path(mut self, path: &str) -> FaultRule {
        self.path = Some(path.to_owned());
        self
    }

    /// Apply to the next `n` matching requests only.
    pub fn times(mut self, n: usize) -> FaultRule {
        self.times = Some(n);
        self
    }

    pub(crate) fn matches(&self, path: &str) -> bool {
        match &self.path {
            None => true,
            Some(p) => match p.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => path == p,
            },
        }
    }
}

const NGINX_502: &str = "<html>\r\n<head><title>{code}</title></head>\r\n<body>\r\n<center><h1>{code}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

const ARGO_UI_INDEX: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"UTF-8\"><title>Argo CD</title><base href=\"/\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"></head><body><noscript><p>Your browser does not support JavaScript. Please enable JavaScript to view the site. Alternatively, Argo CD can be used with the <a href=\"https://argoproj.github.io/argo-cd/cli_installation/\">Argo CD CLI</a>.</p></noscript><div id=\"app\"></div></body><script defer=\"defer\" src=\"main.js\"></script></html>";

/// A response that replaces the real one entirely, or `None` when the fault wraps it.
pub(crate) fn replacement(
    fault: &Fault,
    resource_version: &str,
    fields: Option<&super::fields::Fields>,
) -> Option<Response> {
    match fault {
        Fault::ServerError(code) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::BAD_GATEWAY);
            let line = format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("Error")
            );
            let body = NGINX_502.replace("{code}", &line);
            Some((status, [(header::CONTENT_TYPE, "text/html")], body).into_response())
        }
        Fault::Garbage => Some(
            (
                [(header::CONTENT_TYPE, "application/json")],
                Bytes::from_static(b"\x00\x1f\x8b garbage \xff\xfe{not json]]"),
            )
                .into_response(),
        ),
        Fault::WrongContentType => Some(
            (
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                ARGO_UI_INDEX,
            )
                .into_response(),
        ),
        Fault::NullItems => Some(
            (
                [(header::CONTENT_TYPE, "application/json")],
                format!(
                    r#"{{"metadata":{{"resourceVersion":"{resource_version}"}},"items":null}}"#
                ),
            )
                .into_response(),
        ),
        Fault::ApiError(code) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let (grpc, message) = match status.as_u16() {
                401 => (16, "invalid session: token has expired"),
                403 => (7, "permission denied"),
                404 => (5, "Not Found"),
                _ => (2, "internal error"),
            };
            let body = serde_json::json!({"error": message, "code": grpc, "message": message});
            Some(
                (
                    status,
                    [(header::CONTENT_TYPE, "application/json")],
                    body.to_string(),
                )
                    .into_response(),
            )
        }
        Fault::HugeItem(bytes) => {
            let head = format!(
                r#"{{"metadata":{{"resourceVersion":"{resource_version}"}},"items":[{{"metadata":{{"name":"huge-pr-1","namespace":"argocd","annotations":{{"pad":""#
            );
            let tail = r#""}}}]}"#;
            let fill = bytes.saturating_sub(head.len() + tail.len());
            Some(streamed(head, fill, tail.to_owned()))
        }
        Fault::StreamError { http_code, message } => {
            let grpc = match http_code {
                401 => 16,
                403 => 7,
                404 => 5,
                _ => 2,
            };
            let status =
                StatusCode::from_u16(*http_code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = super::server::stream_error_body(grpc, status, message, fields, false);
            Some((status, [(header::CONTENT_TYPE, "application/json")], body).into_response())
        }
        // Needs the request: answered by `echo_authorization`.
        Fault::EchoAuthorization(_)
        | Fault::Delay(_)
        | Fault::ResetAfter(_)
        | Fault::Drip(_)
        | Fault::Truncated
        | Fault::HugeList(_)
        | Fault::DuplicateItems => None,
    }
}

/// [`Fault::EchoAuthorization`]: the error body quotes the request's `Authorization`
/// header, as a proxy that logs the request into its answer would.
pub(crate) fn echo_authorization(code: u16, authorization: Option<&str>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let grpc = if code == 401 { 16 } else { 2 };
    let message = format!(
        "request rejected: Authorization: {}",
        authorization.unwrap_or("(none)")
    );
    let body = serde_json::json!({"error": message, "code": grpc, "message": message});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `200 application/json`: `head`, then `fill` bytes of `a` in 64 KiB chunks, then `tail`.
fn streamed(head: String, fill: usize, tail: String) -> Response {
    const CHUNK: usize = 64 * 1024;
    let block = Bytes::from(vec![b'a'; CHUNK]);
    let body = futures_util::stream::iter([Bytes::from(head)])
        .chain(futures_util::stream::unfold(fill, move |left| {
            let block = block.clone();
            async move {
                (left > 0).then(|| {
                    let n = left.min(CHUNK);
                    (block.slice(..n), left - n)
                })
            }
        }))
        .chain(futures_util::stream::iter([Bytes::from(tail)]))
        .map(Ok::<_, Infallible>);
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response()
}

/// Filler Applications totalling about `bytes`, each ~64 KiB with an unknown padding field
/// (no labels, no PR: a client must decode and drop them), generated one at a time.
fn filler_items(bytes: usize) -> impl Stream<Item = Bytes> + Send {
    const PAD: usize = 64 * 1024;
    let pad = "a".repeat(PAD);
    futures_util::stream::unfold((0usize, 0usize), move |(i, sent)| {
        let item = format!(
            r#"{{"metadata":{{"name":"filler-{i}","namespace":"argocd"}},"spec":{{"project":"default"}},"padding":"{pad}"}},"#
        );
        async move {
            (sent < bytes).then(|| {
                let n = item.len();
                (Bytes::from(item), (i + 1, sent + n))
            })
        }
    })
}

/// Applies a body-wrapping fault to a real response.
pub(crate) async fn wrap(fault: &Fault, response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = match fault {
        Fault::ResetAfter(n) => Body::from_stream(reset_after(body.into_data_stream(), *n)),
        Fault::Drip(interval) => Body::from_stream(drip(body.into_data_stream(), *interval)),
        Fault::HugeList(bytes) => {
            let real = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let mut list: serde_json::Value = serde_json::from_slice(&real).unwrap_or_default();
            let items = match list.get_mut("items").map(serde_json::Value::take) {
                Some(serde_json::Value::Array(items)) => items,
                _ => Vec::new(),
            };
            let meta = list.get("metadata").cloned().unwrap_or_default();
            let head = Bytes::from(format!(r#"{{"metadata":{meta},"items":["#));
            let tail = Bytes::from(format!(
                "{}]}}",
                items
                    .iter()
                    .map(serde_json::Value::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ));
            // A list whose real items are empty must not end in a dangling comma.
            let tail = if items.is_empty() {
                Bytes::from_static(br#"{"metadata":{"name":"filler-end"}}]}"#)
            } else {
                tail
            };
            let stream = futures_util::stream::iter([head])
                .chain(filler_items(*bytes))
                .chain(futures_util::stream::iter([tail]))
                .map(Ok::<_, Infallible>);
            Body::from_stream(stream)
        }
        Fault::DuplicateItems => {
            let real = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let mut list: serde_json::Value = serde_json::from_slice(&real).unwrap_or_default();
            if let Some(items) = list
                .get_mut("items")
                .and_then(serde_json::Value::as_array_mut)
            {
                let twice: Vec<_> = items.iter().flat_map(|i| [i.clone(), i.clone()]).collect();
                *items = twice;
            }
            Body::from(list.to_string())
        }
        Fault::Truncated => {
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let cut = bytes.slice(..bytes.len() / 2);
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(cut.len() as u64));
            Body::from(cut)
        }
        _ => body,
    };
    Response::from_parts(parts, body)
}

type Chunks = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, axum::Error>> + Send>>;

/// Passes `limit` bytes, then fails the body, which makes hyper abort the connection.
fn reset_after(
    inner: impl Stream<Item = Result<Bytes, axum::Error>> + Send + 'static,
    limit: usize,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    let inner: Chunks = Box::pin(inner);
    futures_util::stream::unfold(
        (inner, limit, false),
        |(mut inner, left, failed)| async move {
            if failed {
                return None;
            }
            let reset = || std::io::Error::new(std::io::ErrorKind::ConnectionReset, "fault: reset");
            if left == 0 {
                // Let hyper flush the headers and the bytes so far, so the client sees
                // a response that breaks mid-body rather than no response at all.
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Some((Err(reset()), (inner, 0, true)));
            }
            match inner.next().await {
                Some(Ok(chunk)) if chunk.len() <= left => {
                    let left = left - chunk.len();
                    Some((Ok(chunk), (inner, left, false)))
                }
                Some(Ok(chunk)) => Some((Ok(chunk.slice(..left)), (inner, 0, false))),
                // The real body was shorter than the limit: still fail at its end.
                Some(Err(_)) | None => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Some((Err(reset()), (inner, 0, true)))
                }
            }
        },
    )
}

/// Re-emits the body one byte at a time, `interval` apart.
fn drip(
    inner: impl Stream<Item = Result<Bytes, axum::Error>> + Send + 'static,
    interval: Duration,
) -> impl Stream<Item = Result<Bytes, Infallible>> {
    let inner: Chunks = Box::pin(inner);
    futures_util::stream::unfold(
        (inner, VecDeque::<u8>::new()),
        move |(mut inner, mut pending)| async move {
            while pending.is_empty() {
                match inner.next().await {
                    Some(Ok(chunk)) => pending.extend(chunk.iter().copied()),
                    Some(Err(_)) | None => return None,
                }
            }
            tokio::time::sleep(interval).await;
            let byte = pending.pop_front()?;
            Some((Ok(Bytes::copy_from_slice(&[byte])), (inner, pending)))
        },
    )
}
