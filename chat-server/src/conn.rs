//! Connection-level protection, below HTTP: [`ClientSocket`] wraps every accepted socket
//! with an idle timeout (HTTP/1 keep-alive, plaintext HTTP/2 and upgraded WebSockets alike:
//! hyper has no idle timeout of its own) and holds the connection's permit of the cap on
//! open connections, so the permit lives exactly as long as the socket, upgraded or not.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;

/// An accepted socket that fails with `TimedOut` once no byte has moved either way for
/// `timeout` (hyper then drops the connection; any progress — a request, a response, a
/// WebSocket ping — starts the clock again), holding its connection permit until dropped.
pub struct ClientSocket<T> {
    inner: T,
    timeout: Duration,
    /// Fires at the latest possible idle deadline; moved forward only when it fires (a
    /// reset of the timer on every read and write would cost more than the I/O).
    deadline: Pin<Box<Sleep>>,
    /// The last read or write that made progress.
    last_progress: Instant,
    _permit: Option<OwnedSemaphorePermit>,
}

impl<T> ClientSocket<T> {
    /// Wraps `inner`; the idle clock starts now.
    pub fn new(inner: T, timeout: Duration, permit: Option<OwnedSemaphorePermit>) -> Self {
        Self {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            last_progress: Instant::now(),
            _permit: permit,
        }
    }

    fn progressed(&mut self) {
        self.last_progress = Instant::now();
    }

    /// `Pending` while the socket has made progress within the timeout; the error once it
    /// has not.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            if self.deadline.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let idle_until = self.last_progress + self.timeout;
            if idle_until <= Instant::now() {
                return Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the connection was idle too long",
                ));
            }
            // Progress since the timer was set: wait for the rest of the timeout.
            self.deadline.as_mut().reset(idle_until);
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ClientSocket<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.progressed();
                Poll::Ready(result)
            }
            Poll::Pending => this.poll_idle(cx).map(Err),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ClientSocket<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(result) => {
                this.progressed();
                Poll::Ready(result)
            }
            Poll::Pending => this.poll_idle(cx).map(Err),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => {
                this.progressed();
                Poll::Ready(result)
            }
            Poll::Pending => this.poll_idle(cx).map(Err),
        }
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

/// The next connection on `listener`; `None` once `shutdown` is cancelled. A failed accept
/// (out of file descriptors and the like) is logged and retried after a pause: the server
/// keeps serving.
pub(crate) async fn accept(
    listener: &TcpListener,
    shutdown: &CancellationToken,
) -> Option<(TcpStream, SocketAddr)> {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Frames and answers go out as they are written: Nagle's algorithm would
                    // hold a small write until the client acknowledges the previous one, and
                    // a client delaying its ACKs turns that into 40 ms stalls.
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!(error = %e, "TCP_NODELAY could not be set");
                    }
                    return Some((stream, peer));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = shutdown.cancelled() => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn accepted_sockets_send_without_nagle_delays() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(TcpStream::connect(addr));
        let (stream, _) = accept(&listener, &CancellationToken::new()).await.unwrap();
        assert!(stream.nodelay().unwrap(), "TCP_NODELAY is set");
        drop(client.await.unwrap().unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_socket_times_out_and_traffic_keeps_it_alive() {
        let (near, mut far) = tokio::io::duplex(64);
        let mut conn = ClientSocket::new(near, Duration::from_secs(10), None);
        let mut buf = [0u8; 8];
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(8)).await;
            far.write_all(b"ping").await.unwrap();
            assert_eq!(conn.read(&mut buf).await.unwrap(), 4);
        }
        tokio::time::sleep(Duration::from_secs(8)).await;
        conn.write_all(b"pong").await.unwrap();
        let started = Instant::now();
        let err = conn.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(10));
    }

    #[tokio::test]
    async fn the_permit_is_returned_when_the_socket_is_dropped() {
        let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(1));
        let permit = permits.clone().try_acquire_owned().unwrap();
        let (near, _far) = tokio::io::duplex(64);
        let conn = ClientSocket::new(near, Duration::from_secs(10), Some(permit));
        assert_eq!(permits.available_permits(), 0);
        drop(conn);
        assert_eq!(permits.available_permits(), 1);
    }
}
