//! Accepting connections on the gRPC port, with bounds a hostile or broken
//! client cannot get around: at most `MAX_CONNECTIONS` open at once (more
//! are closed at once), and a connection that sends nothing (or does not
//! finish its TLS handshake) within `FIRST_BYTES_WITHIN` is closed. Each
//! handshake runs in its own task, so a slow one holds up no other. The
//! web UI's port takes its connections the same way (`Incoming`).

use crate::security::tls::Tls;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;

/// Open connections at most; SDK workers and clients keep one or a few.
pub const MAX_CONNECTIONS: usize = 4096;
/// A client sends its first bytes (or completes TLS) within this.
pub const FIRST_BYTES_WITHIN: Duration = Duration::from_secs(10);

/// A connection that frees its place when it closes.
pub struct Counted<IO> {
    io: IO,
    _place: OwnedSemaphorePermit,
}

impl<IO: Connected> Connected for Counted<IO> {
    type ConnectInfo = IO::ConnectInfo;
    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Counted<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Counted<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Plain connections on `listener`, as a stream for tonic.
pub fn plain(listener: TcpListener) -> ReceiverStream<io::Result<Counted<TcpStream>>> {
    accept(listener, |stream| async move {
        // `peek` waits for a byte (readiness alone can be spurious).
        tokio::time::timeout(FIRST_BYTES_WITHIN, stream.peek(&mut [0u8; 1])).await.ok()?.ok()?;
        Some(stream)
    })
}

/// TLS connections on `listener`, handshaken with the configuration in
/// force when each arrives.
pub fn tls(
    listener: TcpListener,
    tls: Arc<Tls>,
) -> ReceiverStream<io::Result<Counted<tokio_rustls::server::TlsStream<TcpStream>>>> {
    accept(listener, move |stream| {
        let acceptor = tls.acceptor();
        async move {
            match tokio::time::timeout(FIRST_BYTES_WITHIN, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => Some(stream),
                Ok(Err(e)) => {
                    tracing::debug!("TLS handshake failed: {e}");
                    None
                }
                Err(_) => None,
            }
        }
    })
}

/// Connections from `plain` or `tls` as axum's `serve` takes them (the
/// web UI's port). The address given with each is the port's own: nothing
/// there reads a peer's.
pub struct Incoming<IO> {
    connections: ReceiverStream<io::Result<Counted<IO>>>,
    local: std::net::SocketAddr,
}

impl<IO> Incoming<IO> {
    pub fn new(connections: ReceiverStream<io::Result<Counted<IO>>>, local: std::net::SocketAddr) -> Self {
        Incoming { connections, local }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin + Send + 'static> axum::serve::Listener for Incoming<IO> {
    type Io = Counted<IO>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        use tokio_stream::StreamExt;
        loop {
            match self.connections.next().await {
                Some(Ok(io)) => return (io, self.local),
                Some(Err(_)) => continue,
                // The acceptor stopped: the server is stopping.
                None => std::future::pending::<()>().await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

fn accept<IO, F, Fut>(listener: TcpListener, open: F) -> ReceiverStream<io::Result<Counted<IO>>>
where
    IO: Send + 'static,
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = Option<IO>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(64);
    let places = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                // The server stopped serving.
                _ = tx.closed() => return,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before
                    // it was taken: keep serving the others.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(place) = places.clone().try_acquire_owned() else {
                tracing::warn!("{MAX_CONNECTIONS} connections are open: a new one is closed");
                continue;
            };
            // Without TCP_NODELAY, small responses wait on delayed ACKs
            // (tens of milliseconds per round trip).
            let _ = stream.set_nodelay(true);
            let opening = open(stream);
            let tx = tx.clone();
            tokio::spawn(async move {
                if let Some(io) = opening.await {
                    let _ = tx.send(Ok(Counted { io, _place: place })).await;
                }
            });
        }
    });
    ReceiverStream::new(rx)
}
