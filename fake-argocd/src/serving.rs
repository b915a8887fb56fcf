//! How the real `argocd-server` wraps its API before a client sees it: gzip (or deflate)
//! compression with a flush per watch event ([`compress`], gorilla/handlers'
//! `CompressHandler` as `server/server.go` :: `compressHandler` applies it), the
//! `--rootpath` prefix ([`under_root_path`], `server/server.go` :: `withRootPath`), and
//! HTTPS with a certificate a test makes ([`TlsListener`]).

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;

use super::FakeArgo;

/// The encodings gorilla/handlers knows, in its terms.
#[derive(Clone, Copy)]
enum Encoding {
    Gzip,
    /// Raw DEFLATE (`compress/flate`), which gorilla sends for `deflate`.
    Deflate,
}

/// gorilla/handlers `compress.go` :: `CompressHandlerLevel`: the first exact `gzip` or
/// `deflate` token of `Accept-Encoding` split on commas (so `gzip;q=1` does not count).
fn pick(accept_encoding: Option<&HeaderValue>) -> Option<Encoding> {
    let value = accept_encoding?.to_str().ok()?;
    value.split(',').find_map(|e| match e.trim() {
        "gzip" => Some(Encoding::Gzip),
        "deflate" => Some(Encoding::Deflate),
        _ => None,
    })
}

/// An encoder that hands out what it has produced so far after each chunk.
enum Encoder {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Deflate(flate2::write::DeflateEncoder<Vec<u8>>),
}

impl Encoder {
    fn new(e: Encoding) -> Encoder {
        let level = flate2::Compression::default();
        match e {
            Encoding::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(Vec::new(), level)),
            Encoding::Deflate => {
                Encoder::Deflate(flate2::write::DeflateEncoder::new(Vec::new(), level))
            }
        }
    }

    /// Compresses `chunk` and sync-flushes (what `compressResponseWriter.Flush` does when
    /// `ForwardResponseStream` flushes after each event), so the bytes so far decode.
    fn chunk(&mut self, chunk: &[u8]) -> Bytes {
        let out = match self {
            Encoder::Gzip(e) => {
                let _ = e.write_all(chunk).and_then(|()| e.flush());
                e.get_mut()
            }
            Encoder::Deflate(e) => {
                let _ = e.write_all(chunk).and_then(|()| e.flush());
                e.get_mut()
            }
        };
        Bytes::from(std::mem::take(out))
    }

    fn finish(self) -> Bytes {
        let out = match self {
            Encoder::Gzip(e) => e.finish(),
            Encoder::Deflate(e) => e.finish(),
        };
        Bytes::from(out.unwrap_or_default())
    }
}

/// `server/server.go` :: `compressHandler` around the API (`--enable-gzip`, default on
/// since v2.8): skipped for `Accept: text/event-stream` exactly and for requests with an
/// `Upgrade` header; otherwise `Vary: Accept-Encoding` always, and, when the client
/// accepts one, the body compressed with `Content-Encoding` set and `Content-Length`
/// removed. Outside the fault layer here, so that a fault (which plays a proxy or the
/// network) corrupts the plain body and the client sees it as it would.
pub(crate) async fn compress(State(fake): State<FakeArgo>, req: Request, next: Next) -> Response {
    let on = fake.lock().gzip;
    let sse = req
        .headers()
        .get(header::ACCEPT)
        .is_some_and(|a| a.as_bytes() == b"text/event-stream");
    let api = req.uri().path().starts_with("/api/")
        && !["/api/badge", "/api/logout", "/api/webhook"].contains(&req.uri().path());
    if !on || sse || !api || req.headers().contains_key(header::UPGRADE) {
        return next.run(req).await;
    }
    let encoding = pick(req.headers().get(header::ACCEPT_ENCODING));
    let path = req.uri().path().to_owned();
    let mut resp = next.run(req).await;
    resp.headers_mut()
        .append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    let Some(encoding) = encoding else {
        return resp;
    };
    *fake.lock().compressed.entry(path).or_default() += 1;
    let (mut parts, body) = resp.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(match encoding {
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
        }),
    );
    let chunks = body.into_data_stream();
    let stream = futures_util::stream::unfold(
        (chunks, Some(Encoder::new(encoding))),
        |(mut chunks, encoder)| async move {
            let mut encoder = encoder?;
            match chunks.next().await {
                Some(Ok(chunk)) => {
                    let out = encoder.chunk(&chunk);
                    Some((Ok(out), (chunks, Some(encoder))))
                }
                // A body that fails (a reset fault) fails the compressed body too.
                Some(Err(e)) => Some((Err(e), (chunks, None))),
                None => Some((Ok(encoder.finish()), (chunks, None))),
            }
        },
    );
    Response::from_parts(parts, Body::from_stream(stream))
}

/// `server/server.go` :: `withRootPath`: the API moves under `/<root>/` (the prefix is
/// stripped before routing); un-prefixed paths are Go's `404 page not found`, except
/// `/healthz`, which answers `ok` at both places.
pub fn under_root_path(router: Router, root: &str) -> Router {
    let root = root.trim_matches('/');
    Router::new()
        .nest(&format!("/{root}"), router)
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found\n").into_response() })
}

/// A certificate chain and its private key (PEM), e.g. made by a test with `rcgen`.
#[derive(Clone)]
pub struct TlsIdentity {
    pub cert_chain_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity").finish_non_exhaustive()
    }
}

/// A TCP listener whose connections are TLS-accepted before axum sees them. A failed
/// handshake (a client that does not trust the certificate) is dropped and the next
/// connection accepted.
pub(crate) struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl TlsListener {
    pub(crate) fn new(
        tcp: tokio::net::TcpListener,
        identity: &TlsIdentity,
    ) -> std::io::Result<TlsListener> {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(identity.cert_chain_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| invalid(format!("certificate PEM: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(identity.key_pem.as_bytes())
            .map_err(|e| invalid(format!("key PEM: {e}")))?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid(e.to_string()))?;
        Ok(TlsListener {
            tcp,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            };
            // A client that connects and never speaks must not block the next one long.
            let handshake = self.acceptor.accept(tcp);
            if let Ok(Ok(tls)) =
                tokio::time::timeout(std::time::Duration::from_secs(5), handshake).await
            {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
