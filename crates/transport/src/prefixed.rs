//! A stream that first replays bytes already read from it.
//!
//! Deciding what a connection carries sometimes means reading the start of it (the HTTP
//! request head on the device port); whoever handles the connection next must still see
//! those bytes, so they are put back in front of the stream.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// `inner`, with `prefix` read before anything else. Writes go straight to `inner`.
pub struct PrefixedStream<S> {
    prefix: Bytes,
    inner: S,
}

impl<S> PrefixedStream<S> {
    /// Reads `prefix` first, then `inner`.
    pub fn new(prefix: Bytes, inner: S) -> Self {
        PrefixedStream { prefix, inner }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped stream; reading from it directly skips the unread prefix.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The replayed bytes not read yet.
    pub fn unread_prefix(&self) -> &[u8] {
        &self.prefix
    }
}

impl<S> std::fmt::Debug for PrefixedStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrefixedStream")
            .field("unread_prefix", &self.prefix.len())
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for PrefixedStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.prefix.is_empty() {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let n = this.prefix.len().min(buf.remaining());
        buf.put_slice(&this.prefix[..n]);
        this.prefix.advance(n);
        if this.prefix.is_empty() {
            // An emptied `Bytes` still holds its allocation; a long-lived connection
            // should not keep the request head it was sniffed with.
            this.prefix = Bytes::new();
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for PrefixedStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn replays_the_prefix_then_the_stream() {
        let (mut far, near) = tokio::io::duplex(64);
        far.write_all(b" world").await.expect("write");
        drop(far);
        let mut s = PrefixedStream::new(Bytes::from_static(b"hello"), near);
        let mut small = [0u8; 3];
        s.read_exact(&mut small).await.expect("read");
        assert_eq!(&small, b"hel");
        assert_eq!(s.unread_prefix(), b"lo");
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).await.expect("read");
        assert_eq!(rest, b"lo world");
        assert!(s.unread_prefix().is_empty());
    }

    #[tokio::test]
    async fn writes_pass_through() {
        let (mut far, near) = tokio::io::duplex(64);
        let mut s = PrefixedStream::new(Bytes::from_static(b"unread"), near);
        s.write_all(b"out").await.expect("write");
        s.flush().await.expect("flush");
        let mut buf = [0u8; 3];
        far.read_exact(&mut buf).await.expect("read");
        assert_eq!(&buf, b"out");
        assert_eq!(s.unread_prefix(), b"unread");
    }
}
