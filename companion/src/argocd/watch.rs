//! The application watch, `GET /api/v1/stream/applications`: a long-lived NDJSON (or SSE)
//! body turned into a stream of [`WatchEvent`]s, one per line, with keepalives skipped,
//! lines bounded, and grpc-gateway's in-stream errors mapped like HTTP ones.
//!
//! Upstream sends no status line until the first event (the gateway blocks in
//! `stream.Header()` until the gRPC server's first `Send`), so a watch on a quiet server is
//! a request that has not been answered yet: no timeout applies to it, only the connect
//! timeout and TCP keepalive. It asks for the list's `fields` projection and the list's
//! `resourceVersion`, so upstream's per-app de-duplication drops reconcile-only changes
//! and a reopened watch replays nothing.

use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, BoxStream, StreamExt};
use reqwest::header::ACCEPT;

use crate::argocd::client::{Client, ListQuery};
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
        // Unbounded on purpose: the response head comes with the first event, which on a
        // quiet server may be hours away (the client has a connect timeout and keepalive).
        let request = self.authorize(self.http.get(url).header(ACCEPT, "application/json"));
        let resp = request
            .send()
            .await
            .map_err(|e| self.transport_error(e, what))?;
        let resp = self.check_status(resp, what).await?;
        Ok(watch_stream(self.clone(), resp.bytes_stream().boxed()))
    }
}

/// Rewrites a list projection (`items.x`) into the watch's (`result.application.x`). The
/// stream uses the generic JSON field filter (argoproj/pkg `messageMarshaler.processItem`),
/// so any key works there; it filters the stream error chunk too, so `error` is asked for,
/// or a refused watch would say only `{}`. A leading `-` (processItem's exclusion) keeps
/// everything but the keys named, the error chunk included.
fn watch_fields(list_fields: &str) -> Option<String> {
    if let Some(excluded) = list_fields.strip_prefix('-') {
        let keys: Vec<String> = excluded
            .split(',')
            .filter_map(|f| f.trim().strip_prefix("items."))
            .map(|f| format!("result.application.{f}"))
            .collect();
        return (!keys.is_empty()).then(|| format!("-{}", keys.join(",")));
    }
    let mut out = vec!["result.type".to_owned(), "error".to_owned()];
    out.extend(
        list_fields
            .split(',')
            .filter_map(|f| f.trim().strip_prefix("items."))
            .map(|f| format!("result.application.{f}")),
    );
    (out.len() > 2).then(|| out.join(","))
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
            return Some(Err(self.stream_error(line, &err)));
        }
        let Some(result) = parsed.result else {
            // grpc-gateway's stream error chunk through a `fields` projection that does not
            // name `error` is `{}`, and the stream ends after it (`ForwardResponseStream`):
            // a broken watch, not an event to skip.
            return Some(Err(Error::Http {
                server: self.server.clone(),
                status: 500,
                what: "the application watch stream".to_owned(),
                detail:
                    "it broke with an error whose words the `fields` projection left out (`{}`)"
                        .to_owned(),
            }));
        };
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

    /// grpc-gateway's in-stream error: `{"error":{"grpc_code":16,"http_code":401,"message":..}}`,
    /// its words through [`Client::said`] like every error body.
    fn stream_error(&self, line: &[u8], err: &serde_json::Value) -> Error {
        let detail = self.said(line);
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

    /// Every event of a v3.5 watch of `type=pr` from resourceVersion 77, served by `router`.
    async fn events_from(router: Router) -> Vec<Result<WatchEvent>> {
        let client = client_for(router).await;
        let query = ListQuery {
            selector: Some("type=pr".into()),
            name: None,
            fields: Client::fields_for_version("v3.5.0"),
        };
        client
            .watch_applications(&query, Some("77"))
            .await
            .unwrap()
            .collect()
            .await
    }

    #[test]
    fn a_list_projection_becomes_the_watch_projection_keeping_the_error_chunk() {
        assert_eq!(
            watch_fields("items.metadata.name,items.status.sync").as_deref(),
            Some(
                "result.type,error,result.application.metadata.name,result.application.status.sync"
            )
        );
        // Exclusion keeps everything else, `error` included.
        assert_eq!(
            watch_fields("-items.status.reconciledAt,items.status.observedAt").as_deref(),
            Some("-result.application.status.reconciledAt,result.application.status.observedAt")
        );
        assert_eq!(watch_fields("metadata.name"), None);
    }

    #[tokio::test]
    async fn watch_yields_one_event_per_line_and_skips_keepalives() {
        let router = Router::new().route(
            "/api/v1/stream/applications",
            get(|RawQuery(q): RawQuery| async move {
                let q = q.unwrap_or_default();
                assert!(q.contains("resourceVersion=77"), "{q}");
                assert!(q.contains("fields=result.type%2Cerror%2Cresult.application.metadata.name"), "{q}");
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
        let events = events_from(router).await;
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

    /// A stream error chunk emptied by a projection without `error` (`{}`, grpc-gateway
    /// v1 `handleForwardResponseStreamError` through argoproj/pkg's field filter) breaks the
    /// watch, which the host then reopens; it is not an event to skip.
    #[tokio::test]
    async fn an_error_chunk_emptied_by_the_projection_is_a_broken_watch() {
        let router = Router::new().route(
            "/api/v1/stream/applications",
            get(|| async move {
                let app = app_json("a-pr-1").replace('\n', "");
                format!(r#"{{"result":{{"type":"ADDED","application":{app}}}}}"#) + "\n{}"
            }),
        );
        let events = events_from(router).await;
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(matches!(&events[0], Ok(WatchEvent::Added(a)) if a.metadata.name == "a-pr-1"));
        match &events[1] {
            Err(Error::Http {
                status: 500,
                detail,
                ..
            }) => assert!(detail.contains("`{}`")),
            other => panic!("{other:?}"),
        }
    }

    /// Upstream refuses a watch before its first event with the stream error chunk
    /// (`{"error":{"grpc_code":16,…,"message":…}}`, grpc-gateway v1
    /// `handleForwardResponseStreamError`), filtered by the same `fields` projection as the
    /// events: the client shows its `message`, not raw JSON and not `{}`.
    #[tokio::test]
    async fn a_refused_watch_shows_the_servers_message() {
        let fake = fake_argocd::demo_scenario();
        let running = fake_argocd::serve(fake.clone(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let mut t = crate::argocd::client::tests::target(&running.url());
        t.token = crate::token::Token::new("revoked-token");
        let client = Client::new(&t).unwrap();
        for fields in [None, Client::fields_for_version("v3.1.0")] {
            let query = ListQuery {
                selector: Some("type=pr".into()),
                name: None,
                fields,
            };
            let err = match client.watch_applications(&query, Some("1")).await {
                Err(e) => e,
                Ok(_) => panic!("a revoked token was accepted"),
            };
            match &err {
                Error::Unauthorized { detail, .. } => {
                    assert_eq!(detail, "invalid session: token signature is invalid");
                }
                other => panic!("{other:?}"),
            }
        }
        running.shutdown().await;
    }
}
