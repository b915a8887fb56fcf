//! The application watch, `GET /api/v1/stream/applications`: a long-lived NDJSON (or SSE)
//! body turned into a stream of [`WatchEvent`]s, one per line, with keepalives skipped,
//! lines bounded, and grpc-gateway's in-stream errors mapped like HTTP ones.

use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, BoxStream, StreamExt};
use reqwest::header::ACCEPT;

use crate::argocd::client::{Client, ListQuery, shorten};
use crate::argocd::decode::{json_error_cause, json_error_offset};
use crate::argocd::model::{Application, WatchLine};
use crate::error::{Error, Result};

/// One event of the watch stream.
#[derive(Debug, Clone)]
pub enum WatchEvent {
    Added(Box<Application>),
    Modified(Box<Application>),
    Deleted(Box<Application>),
}

/// Longest watch line accepted: one Application is bounded by etcd's 1.5 MiB object limit.
const MAX_WATCH_LINE: usize = 16 * 1024 * 1024;

impl Client {
    /// `GET /api/v1/stream/applications` as a stream of events, one per NDJSON line.
    pub async fn watch_applications(
        &self,
        query: &ListQuery,
        resource_version: Option<&str>,
    ) -> Result<BoxStream<'static, Result<WatchEvent>>> {
        let what = "GET /api/v1/stream/applications";
        let mut url = self.url(&["api", "v1", "stream", "applications"]);
        {
            let mut q = url.query_pairs_mut();
            query.append_selection(&mut q);
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
                    cause: self.redacted(&json_error_cause(&e)),
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
        let detail = shorten(&self.redacted(message));
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

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::extract::RawQuery;
    use axum::routing::get;

    use super::*;
    use crate::argocd::client::tests::{app_json, client_for, no_secret};

    #[tokio::test]
    async fn watch_yields_one_event_per_line_and_skips_keepalives() {
        let router = Router::new().route(
            "/api/v1/stream/applications",
            get(|RawQuery(q): RawQuery| async move {
                let q = q.unwrap_or_default();
                assert!(q.contains("resourceVersion=77"), "{q}");
                assert!(q.contains("fields=result.type%2Cresult.application.metadata.name"), "{q}");
                assert!(!q.contains("result.application.metadata.resourceVersion"), "{q}");
                let app = app_json("a-pr-1").replace('\n', "");
                let added = format!(r#"{{"result":{{"type":"ADDED","application":{app}}}}}"#);
                let body = format!(
                    "{added}\n\n: keepalive\ndata: {{\"result\":{{\"type\":\"DELETED\",\"application\":{{\"metadata\":{{\"name\":\"b-pr-2\"}}}}}}}}\n\n\
                     {{\"error\":{{\"grpc_code\":16,\"http_code\":401,\"message\":\"token is expired\",\"http_status\":\"Unauthorized\"}}}}\n"
                );
                let chunks: Vec<std::io::Result<Vec<u8>>> = body.into_bytes().chunks(50).map(|c| Ok(c.to_vec())).collect();
                Body::from_stream(futures_util::stream::iter(chunks))
            }),
        );
        let client = client_for(router).await;
        let query = ListQuery {
            selector: Some("type=pr".into()),
            name: None,
            fields: Client::fields_for_version("v3.5.0"),
        };
        let events: Vec<Result<WatchEvent>> = client
            .watch_applications(&query, Some("77"))
            .await
            .unwrap()
            .collect()
            .await;
        assert_eq!(events.len(), 3, "{events:?}");
        assert!(matches!(&events[0], Ok(WatchEvent::Added(a)) if a.metadata.name == "a-pr-1"));
        assert!(matches!(&events[1], Ok(WatchEvent::Deleted(a)) if a.metadata.name == "b-pr-2"));
        match &events[2] {
            Err(e @ Error::Unauthorized { detail, .. }) => {
                assert_eq!(detail, "token is expired");
                no_secret(e);
            }
            other => panic!("{other:?}"),
        }
    }
}
