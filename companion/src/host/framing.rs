//! Native-messaging framing over any tokio stream: a u32 length in native byte order, then
//! that many bytes of UTF-8 JSON (PLATFORM C). Generic over `AsyncRead`/`AsyncWrite` so
//! tests drive it with literal bytes over `tokio::io::duplex`.
//!
//! Why not the `native_messaging` crate: its decoder is blocking `std::io::Read`, its async
//! loop is welded to the real stdin/stdout via threads, and an oversized frame is an error
//! that leaves the body unread, so the stream cannot be resynchronised. This is ~100 lines.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub use protocol::messages::MAX_FRAME_BYTES;

/// Frames longer than this cannot come from a browser (Chrome caps browser→host at 64 MiB):
/// the length is garbage, so the stream is closed instead of skipping gigabytes.
pub const MAX_SKIPPABLE_BYTES: usize = 64 * 1024 * 1024;

/// What one read from the stream produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Inbound {
    /// One whole frame body (not yet checked for UTF-8 or JSON).
    Frame(Vec<u8>),
    /// A frame over [`MAX_FRAME_BYTES`] whose body was read and dropped; the stream is in sync.
    Skipped { len: usize },
    /// A length no browser sends; the stream cannot be trusted any more.
    Garbage { len: usize },
    /// Clean end of stream between frames.
    Eof,
    /// The stream ended inside a frame (header or body).
    Truncated,
}

/// Reads one frame. I/O errors other than an early end are returned as errors.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Inbound> {
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = r.read(&mut header[got..]).await?;
        if n == 0 {
            return Ok(if got == 0 {
                Inbound::Eof
            } else {
                Inbound::Truncated
            });
        }
        got += n;
    }
    let len = u32::from_ne_bytes(header) as usize;
    if len > MAX_SKIPPABLE_BYTES {
        return Ok(Inbound::Garbage { len });
    }
    if len > MAX_FRAME_BYTES {
        // Drain the body so the next frame starts where the browser thinks it does.
        let copied =
            tokio::io::copy(&mut (&mut *r).take(len as u64), &mut tokio::io::sink()).await?;
        return Ok(if copied == len as u64 {
            Inbound::Skipped { len }
        } else {
            Inbound::Truncated
        });
    }
    let mut body = vec![0u8; len];
    match r.read_exact(&mut body).await {
        Ok(_) => Ok(Inbound::Frame(body)),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(Inbound::Truncated),
        Err(e) => Err(e),
    }
}

/// Writes one frame and flushes it. Refuses bodies over [`MAX_FRAME_BYTES`]: the browser
/// would drop the whole port, so callers page instead.
pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, body: &[u8]) -> std::io::Result<()> {
    if body.len() > MAX_FRAME_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "outbound frame of {} bytes exceeds the 1 MiB native-messaging limit",
                body.len()
            ),
        ));
    }
    let len = u32::try_from(body.len()).expect("checked against MAX_FRAME_BYTES");
    w.write_all(&len.to_ne_bytes()).await?;
    w.write_all(body).await?;
    w.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut v = (body.len() as u32).to_ne_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    #[tokio::test]
    async fn reads_frames_and_reports_eof_between_them() {
        let mut bytes = framed(br#"{"a":1}"#);
        bytes.extend(framed(b""));
        let mut r = bytes.as_slice();
        assert_eq!(
            read_frame(&mut r).await.unwrap(),
            Inbound::Frame(br#"{"a":1}"#.to_vec())
        );
        assert_eq!(read_frame(&mut r).await.unwrap(), Inbound::Frame(vec![]));
        assert_eq!(read_frame(&mut r).await.unwrap(), Inbound::Eof);
    }

    #[tokio::test]
    async fn oversized_frame_is_skipped_and_the_next_one_read() {
        let mut bytes = framed(&vec![b' '; MAX_FRAME_BYTES + 1]);
        bytes.extend(framed(b"{}"));
        let mut r = bytes.as_slice();
        assert_eq!(
            read_frame(&mut r).await.unwrap(),
            Inbound::Skipped {
                len: MAX_FRAME_BYTES + 1
            }
        );
        assert_eq!(
            read_frame(&mut r).await.unwrap(),
            Inbound::Frame(b"{}".to_vec())
        );
    }

    #[tokio::test]
    async fn truncated_header_body_and_garbage_length() {
        let mut r: &[u8] = &[5, 0];
        assert_eq!(read_frame(&mut r).await.unwrap(), Inbound::Truncated);
        let mut r: &[u8] = &[5, 0, 0, 0, b'{'];
        assert_eq!(read_frame(&mut r).await.unwrap(), Inbound::Truncated);
        let mut r: &[u8] = &[0xff, 0xff, 0xff, 0xff, b'{'];
        assert_eq!(
            read_frame(&mut r).await.unwrap(),
            Inbound::Garbage {
                len: u32::MAX as usize
            }
        );
    }

    #[tokio::test]
    async fn write_refuses_frames_over_one_mebibyte() {
        let mut out = Vec::new();
        let err = write_frame(&mut out, &vec![b'x'; MAX_FRAME_BYTES + 1])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("1 MiB"), "{err}");
        assert!(out.is_empty(), "nothing half-written");
        write_frame(&mut out, b"{}").await.unwrap();
        assert_eq!(out, framed(b"{}"));
    }
}
