//! A fault-injecting TCP proxy on loopback, put between two nodes so their sync sessions cross it.
//!
//! Every [`Proxy`] listens on `127.0.0.1:0` and forwards each accepted connection to its target
//! (which can be moved when the node behind it restarts on another port). Faults:
//! - [`Proxy::cut`] / [`Proxy::heal`]: while cut, open connections are torn down and new ones
//!   are closed as soon as they are accepted (the caller sees a refused or reset connection);
//! - [`Proxy::set_latency`]: every chunk is delivered that much later (in both directions,
//!   without limiting throughput);
//! - [`Proxy::drop_after`] / [`Proxy::drop_next_after`]: a connection is torn down once it has
//!   carried N bytes (both directions counted), so a session dies in the middle of a frame.
//!
//! A link between two nodes is two proxies, one in front of each node (see
//! `cluster::Link`): cutting one of them is a one-way cut (one node can still start sessions
//! with the other, but not the other way round).
//!
//! The proxies run on one small runtime of their own, so a test that blocks its own threads
//! (waiting for a child process, say) never stalls the traffic between nodes.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::Instant;

/// The runtime every proxy of this process runs on.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fault-proxy")
            .enable_all()
            .build()
            .expect("proxy runtime")
    })
}

/// The faults currently applied.
#[derive(Clone, Debug, Default)]
struct Faults {
    cut: bool,
    latency: Duration,
    /// Applies to every connection accepted from now on.
    drop_after: Option<u64>,
    /// Applies to the next connection accepted, then is cleared.
    drop_next_after: Option<u64>,
}

#[derive(Default)]
struct Shared {
    faults: Mutex<Faults>,
    target: Mutex<Option<SocketAddr>>,
    conns: Mutex<Vec<Conn>>,
    accepted: AtomicU64,
    refused: AtomicU64,
    dropped: AtomicU64,
    bytes: AtomicU64,
}

/// An open connection: its task and its remaining byte budget.
struct Conn {
    task: AbortHandle,
    left: Arc<AtomicU64>,
}

impl Shared {
    fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn kill_all(&self) {
        let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        for c in conns.drain(..) {
            c.task.abort();
        }
    }

    /// Gives every open connection a fresh budget of `bytes`.
    fn rebudget(&self, bytes: u64) {
        let conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        for c in conns.iter() {
            c.left.store(bytes, Ordering::SeqCst);
        }
    }
}

/// Counters of a proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections forwarded.
    pub accepted: u64,
    /// Connections closed at once because the link was cut (or the target was unreachable).
    pub refused: u64,
    /// Connections torn down by a drop-after-N-bytes fault.
    pub dropped: u64,
    /// Bytes forwarded, both directions.
    pub bytes: u64,
}

/// A proxy listening on loopback.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: AbortHandle,
}

impl Proxy {
    /// Starts a proxy in front of `target`.
    pub fn start(target: SocketAddr) -> Proxy {
        let shared = Arc::new(Shared::default());
        *shared.target.lock().unwrap_or_else(|p| p.into_inner()) = Some(target);
        // Bound here (not inside the runtime) so `start` works from sync and async code alike.
        let std_listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy on 127.0.0.1:0");
        std_listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = std_listener.local_addr().expect("proxy address");
        let s = shared.clone();
        let accept = runtime()
            .spawn(async move {
                let Ok(listener) = TcpListener::from_std(std_listener) else {
                    return;
                };
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        // Out of descriptors, say: back off instead of spinning.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    let cut = s.faults().cut;
                    if cut {
                        s.refused.fetch_add(1, Ordering::Relaxed);
                        drop(client);
                        continue;
                    }
                    let (latency, budget) = {
                        let mut f = s.faults();
                        let budget = f.drop_next_after.take().or(f.drop_after);
                        (f.latency, budget)
                    };
                    // Both directions draw from one budget.
                    let left = Arc::new(AtomicU64::new(budget.unwrap_or(u64::MAX)));
                    let h = tokio::spawn(connection(client, s.clone(), latency, left.clone()));
                    let mut conns = s.conns.lock().unwrap_or_else(|p| p.into_inner());
                    conns.retain(|c| !c.task.is_finished());
                    conns.push(Conn {
                        task: h.abort_handle(),
                        left,
                    });
                }
            })
            .abort_handle();
        Proxy {
            addr,
            shared,
            accept,
        }
    }

    /// Where peers connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://ADDR`, for registering as a peer URL (node links are TLS; the proxy relays
    /// bytes and sees only ciphertext).
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Forwards new connections to `target` (the node behind it restarted elsewhere); open ones
    /// are torn down.
    pub fn set_target(&self, target: SocketAddr) {
        *self.shared.target.lock().unwrap_or_else(|p| p.into_inner()) = Some(target);
        self.shared.kill_all();
    }

    /// Cuts the link: open connections are torn down, new ones closed on accept.
    pub fn cut(&self) {
        self.shared.faults().cut = true;
        self.shared.kill_all();
    }

    /// Heals a cut.
    pub fn heal(&self) {
        self.shared.faults().cut = false;
    }

    /// Whether the link is cut.
    pub fn is_cut(&self) -> bool {
        self.shared.faults().cut
    }

    /// Delays every chunk of connections opened from now on by `latency` (zero for none).
    pub fn set_latency(&self, latency: Duration) {
        self.shared.faults().latency = latency;
    }

    /// Tears down every connection once it has carried `bytes` more bytes (`None`: no limit):
    /// open connections get that budget from now on, new ones from their start. Open
    /// connections are kept, not torn down: a client's pooled keep-alive connection that dies
    /// just before it is reused fails the request before any byte is sent, which would
    /// measure nothing.
    pub fn drop_after(&self, bytes: Option<u64>) {
        self.shared.faults().drop_after = bytes;
        self.shared.rebudget(bytes.unwrap_or(u64::MAX));
    }

    /// Tears down the next connection accepted once it has carried `bytes` bytes.
    pub fn drop_next_after(&self, bytes: u64) {
        self.shared.faults().drop_next_after = Some(bytes);
    }

    /// Tears down every open connection (a TCP reset in the middle of whatever is going on).
    pub fn reset(&self) {
        self.shared.kill_all();
    }

    /// Removes every fault (open connections lose their byte budgets too).
    pub fn clear(&self) {
        *self.shared.faults() = Faults::default();
        self.shared.rebudget(u64::MAX);
    }

    /// Counters so far.
    pub fn stats(&self) -> ProxyStats {
        ProxyStats {
            accepted: self.shared.accepted.load(Ordering::Relaxed),
            refused: self.shared.refused.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            bytes: self.shared.bytes.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.shared.kill_all();
    }
}

/// Why a connection ended early.
enum Ended {
    /// The byte budget ran out.
    Budget,
    /// An IO error on either side.
    Io,
}

/// Forwards one connection until both sides are done, a fault ends it, or it is aborted.
async fn connection(client: TcpStream, s: Arc<Shared>, latency: Duration, left: Arc<AtomicU64>) {
    let target = *s.target.lock().unwrap_or_else(|p| p.into_inner());
    let Some(target) = target else {
        s.refused.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let server =
        match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(target)).await {
            Ok(Ok(server)) => server,
            _ => {
                s.refused.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
    s.accepted.fetch_add(1, Ordering::Relaxed);
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = pump(cr, sw, latency, left.clone(), s.clone());
    let down = pump(sr, cw, latency, left, s.clone());
    if let Err(Ended::Budget) = tokio::try_join!(up, down) {
        s.dropped.fetch_add(1, Ordering::Relaxed);
    }
    // Dropping both halves of both sockets here closes the connection in the middle of
    // whatever was in flight.
}

/// Copies one direction: a reader stamps each chunk with its delivery time, a writer delivers
/// it then. Ends `Ok` at a clean end of stream (after half-closing the other side).
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    latency: Duration,
    left: Arc<AtomicU64>,
    s: Arc<Shared>,
) -> Result<(), Ended> {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = from.read(&mut buf).await.map_err(|_| Ended::Io)?;
            if n == 0 {
                return Ok::<(), Ended>(());
            }
            let chunk = buf[..n].to_vec();
            if tx.send((Instant::now() + latency, chunk)).is_err() {
                return Err(Ended::Io);
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            // Take what the budget allows of this chunk; the rest never arrives.
            let want = chunk.len() as u64;
            let mut granted = 0;
            let _ = left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| {
                granted = l.min(want);
                Some(l - granted)
            });
            let granted = granted as usize;
            if granted > 0 {
                to.write_all(&chunk[..granted])
                    .await
                    .map_err(|_| Ended::Io)?;
                s.bytes.fetch_add(granted as u64, Ordering::Relaxed);
            }
            if granted < chunk.len() {
                let _ = to.flush().await;
                return Err(Ended::Budget);
            }
        }
        let _ = to.shutdown().await;
        Ok::<(), Ended>(())
    };
    tokio::try_join!(reader, writer).map(|_| ())
}
