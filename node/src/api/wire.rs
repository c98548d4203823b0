//! The connection under the API: the answers hyper makes by itself become problem+json too.
//!
//! A request hyper cannot parse (a malformed request line or header, more than 100 headers, a
//! URI of 64 KiB) never reaches the router: hyper answers it directly, with a status and an empty
//! body, and closes the connection. [`ProblemListener`] hands hyper connections whose writes are
//! watched: a response head that starts a write, has an error status and no `Content-Type` can
//! only be one of those (every answer of the router carries a content type, see
//! [`super::app_with`]'s fallback layer), and is replaced by the same status with a
//! problem+json body. Limits below hyper's, which the router can answer itself, are in
//! [`check_limits`].

use super::error::ApiError;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Longest request URI, in bytes (414 beyond).
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most bytes of request headers, names and values (431 beyond). hyper itself refuses more than
/// 100 headers.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Middleware: a URI or headers beyond the limits are 414 or 431 problems.
pub async fn check_limits(req: Request, next: Next) -> Result<Response, ApiError> {
    if req.uri().to_string().len() > MAX_URI_BYTES {
        return Err(ApiError::for_status(
            StatusCode::URI_TOO_LONG,
            Some(format!(
                "the request URI is longer than {MAX_URI_BYTES} bytes"
            )),
        ));
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Err(ApiError::for_status(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Some(format!(
                "the request headers are larger than {MAX_HEADER_BYTES} bytes"
            )),
        ));
    }
    Ok(next.run(req).await)
}

/// A TCP listener whose connections turn hyper's bare error answers into problems.
pub struct ProblemListener(pub TcpListener);

impl axum::serve::Listener for ProblemListener {
    type Io = ProblemIo<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (ProblemIo::new(io), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A connection whose writes are watched for bare error answers (see the module docs).
pub struct ProblemIo<T> {
    inner: T,
    /// A replacement answer not yet written, and how much of it is.
    pending: Vec<u8>,
    written: usize,
}

impl<T> ProblemIo<T> {
    /// Wraps a connection.
    pub fn new(inner: T) -> Self {
        ProblemIo {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

impl<T: AsyncWrite + Unpin> ProblemIo<T> {
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

/// The problem+json answer that replaces `buf`, when `buf` is a bare error answer of hyper's.
pub fn replacement(buf: &[u8]) -> Option<Vec<u8>> {
    let rest = buf
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let code = std::str::from_utf8(rest.get(..3)?)
        .ok()?
        .parse::<u16>()
        .ok()?;
    let status = StatusCode::from_u16(code).ok()?;
    if !(status.is_client_error() || status.is_server_error()) {
        return None;
    }
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    if head.contains("\r\ncontent-type:") {
        return None;
    }
    let detail = match status {
        StatusCode::BAD_REQUEST => "the request line or a header could not be parsed",
        StatusCode::URI_TOO_LONG => "the request URI is too long",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            "the request has too many headers, or headers too large"
        }
        _ => "the request could not be read",
    };
    let problem = ApiError::for_status(status, Some(detail.to_string())).problem();
    let body = serde_json::to_vec(&problem).ok()?;
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        super::openapi::PROBLEM_JSON,
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    Some(out)
}

impl<T: AsyncRead + Unpin> AsyncRead for ProblemIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ProblemIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        if let Some(answer) = replacement(buf) {
            this.pending = answer;
            this.written = 0;
            // The replacement stands for all of `buf`; what is not written yet goes out on the
            // next write, flush or shutdown.
            return match this.poll_drain(cx) {
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                _ => Poll::Ready(Ok(buf.len())),
            };
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bare_error_answers_are_replaced() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Sun, 06 Dec 2026 20:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(replacement(bare).expect("replaced")).unwrap();
        assert!(
            out.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{out}"
        );
        assert!(out.contains("content-type: application/problem+json\r\n"));
        let body: serde_json::Value =
            serde_json::from_str(out.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(body["code"], "headers_too_large");
        assert_eq!(body["status"], 431);
        let bad = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        assert!(String::from_utf8(replacement(bad).unwrap())
            .unwrap()
            .contains("\"code\":\"bad_request\""));
        // The router's own answers carry a content type; successes are never touched.
        for kept in [
            &b"HTTP/1.1 404 Not Found\r\ncontent-type: application/problem+json\r\ncontent-length: 2\r\n\r\n{}"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"{\"items\":[]}",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
        ] {
            assert!(replacement(kept).is_none());
        }
    }

    #[tokio::test]
    async fn a_replaced_answer_is_written_in_full() {
        let (client, server) = tokio::io::duplex(16);
        let mut io = ProblemIo::new(server);
        let bare = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            io.write_all(bare).await.unwrap();
            io.shutdown().await.unwrap();
        });
        let mut got = Vec::new();
        let mut client = client;
        tokio::io::AsyncReadExt::read_to_end(&mut client, &mut got)
            .await
            .unwrap();
        writer.await.unwrap();
        let got = String::from_utf8(got).unwrap();
        assert!(got.ends_with('}'), "{got}");
        assert!(got.contains("application/problem+json"));
    }
}
