//! The bounded pool for CPU-heavy request work (Chan analysis, nesting, marks, the chanvis
//! overlays, and rendering and compressing their answers; rendering and compressing answers of
//! [`HEAVY_ANSWER_BARS`] bars or more), so that it never runs on the async workers: health,
//! metrics and light reads stay fast whatever a burst of heavy requests does. `serve` has one
//! async worker per core, so 50 ms of computing on one holds up every request queued behind it.
//!
//! `cpu_workers` closures run at once, each on tokio's blocking threads; up to `cpu_queue` more
//! wait for a worker. A request beyond that is refused at once with 503 `busy` and `Retry-After`
//! instead of queueing without bound. A waiting request whose client goes away (or that times out)
//! leaves the queue; a closure that has started runs to its end and keeps its worker until then,
//! so the bound holds for the CPU as well as for the queue.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// Seconds a refused client is asked to wait.
const RETRY_AFTER_SECS: u64 = 1;

/// The pool is full: `cpu_workers` closures run and `cpu_queue` wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server is busy with other heavy requests")]
pub struct Busy;

impl From<Busy> for ApiError {
    fn from(_: Busy) -> Self {
        ApiError {
            retry_after: Some(RETRY_AFTER_SECS),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                format!("the server is busy with other heavy requests; try again in {RETRY_AFTER_SECS} s"),
            )
        }
    }
}

/// A bounded pool of CPU workers with a bounded queue. Cheap to clone (clones share the bound).
#[derive(Clone, Debug)]
pub struct CpuPool {
    /// One permit per worker: held while a closure runs.
    run: Arc<Semaphore>,
    /// One permit per worker or queue place: held from admission to the closure's end.
    admit: Arc<Semaphore>,
    workers: usize,
    queue: usize,
}

impl CpuPool {
    /// A pool running `workers` closures at once (at least 1) with `queue` more waiting.
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.clamp(1, Semaphore::MAX_PERMITS / 2);
        let queue = queue.min(Semaphore::MAX_PERMITS / 2);
        CpuPool {
            run: Arc::new(Semaphore::new(workers)),
            admit: Arc::new(Semaphore::new(workers + queue)),
            workers,
            queue,
        }
    }

    /// Workers for a `cpu_workers` setting: the setting, or the number of cores when it is 0.
    pub fn workers_for(setting: usize) -> usize {
        match setting {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            n => n,
        }
    }

    /// Runs `f` on the pool when `heavy`, else right here.
    pub async fn run_if<T, F>(&self, heavy: bool, f: F) -> Result<T, Busy>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if heavy { self.run(f).await } else { Ok(f()) }
    }

    /// How many closures may run at once.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// How many may wait for a worker.
    pub fn queue(&self) -> usize {
        self.queue
    }

    /// Closures admitted and not finished: running or waiting.
    pub fn admitted(&self) -> usize {
        self.workers + self.queue - self.admit.available_permits()
    }

    /// Takes a place in the pool for work to come, or refuses at once with [`Busy`] when every
    /// worker and queue place is taken. Heavy handlers take it before reading anything, so a
    /// refusal costs nothing; the place is given back when the ticket (or its work) ends.
    pub fn admit(&self) -> Result<Ticket, Busy> {
        match self.admit.clone().try_acquire_owned() {
            Ok(admitted) => Ok(Ticket { admitted, run: self.run.clone() }),
            Err(_) => {
                metrics::counter!("cpu_pool_refused_total").increment(1);
                Err(Busy)
            }
        }
    }

    /// [`CpuPool::admit`], then [`Ticket::run`].
    pub async fn run<T, F>(&self, f: F) -> Result<T, Busy>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.admit()?.run(f).await
    }
}

/// A place in the pool: work admitted, not yet running.
#[derive(Debug)]
pub struct Ticket {
    admitted: OwnedSemaphorePermit,
    run: Arc<Semaphore>,
}

impl Ticket {
    /// Runs `f` on a blocking thread once a worker is free. A panic in `f` resumes in the caller
    /// (the server's panic layer answers 500).
    pub async fn run<T, F>(self, f: F) -> Result<T, Busy>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let waiting = Counted::new("cpu_pool_queued");
        let worker = self.run.acquire_owned().await.map_err(|_| Busy)?;
        drop(waiting);
        let running = Counted::new("cpu_pool_running");
        let admitted = self.admitted;
        let task = tokio::task::spawn_blocking(move || {
            // The permits go with the closure: a request dropped mid-way still holds its worker
            // until the work is done.
            let _held = (admitted, worker, running);
            f()
        });
        match task.await {
            Ok(v) => Ok(v),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // The runtime is shutting down.
            Err(_) => Err(Busy),
        }
    }
}

/// One unit of a gauge for as long as it lives.
struct Counted(metrics::Gauge);

impl Counted {
    fn new(name: &'static str) -> Self {
        let g = metrics::gauge!(name);
        g.increment(1.0);
        Counted(g)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// Answers smaller than this are left to the compression layer (cheap at that size).
const PRECOMPRESS_BYTES: usize = 8 * 1024;

/// Reads answering at least this many bars render (and compress) their answer on the pool: the
/// chart's usual windows (a few thousand bars) stay on the async workers and never wait.
pub const HEAVY_ANSWER_BARS: usize = 5_000;

/// Rendered answers at least this big are compressed on the pool (cached datafeed answers).
pub const HEAVY_BODY_BYTES: usize = 256 * 1024;

/// Marks a response the compression layer must leave alone: a big answer sent uncompressed
/// because the pool was full, since compressing it on an async worker is what the pool prevents.
#[derive(Debug, Clone, Copy)]
pub struct Uncompressed;

/// Whether the client takes gzip-compressed answers, read from `Accept-Encoding` as the
/// compression layer reads it: `gzip` (or `x-gzip`, or `*` when neither is listed) with a
/// q-value above 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Accepts {
    pub gzip: bool,
}

impl Accepts {
    pub fn of(headers: &axum::http::HeaderMap) -> Accepts {
        let (mut explicit, mut wildcard) = (None, None);
        for item in headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()) {
            for part in item.split(',') {
                let mut it = part.splitn(2, ';');
                let coding = it.next().unwrap_or("").trim();
                let q = it.next().map(|q| q.trim()).map_or(Some(true), |q| {
                    let v = q.strip_prefix("q=").or_else(|| q.strip_prefix("Q="))?;
                    Some(v.parse::<f32>().ok()? > 0.0)
                });
                let Some(q) = q else { continue };
                if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                    explicit = Some(explicit.unwrap_or(false) || q);
                } else if coding == "*" {
                    wildcard = Some(q);
                }
            }
        }
        Accepts { gzip: explicit.or(wildcard).unwrap_or(false) }
    }

    /// Serializes `value` as JSON, and compresses it when the client takes gzip and it is big:
    /// call it inside [`CpuPool::run`] so that neither happens on an async worker. The level is
    /// the compression layer's (the default), so answers are as small as they were.
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> Result<JsonBody, ApiError> {
        let body = serde_json::to_vec(value).map_err(ApiError::internal)?;
        self.body(body)
    }

    /// [`Accepts::json`] for an answer already serialized.
    pub fn body(self, body: impl Into<Bytes>) -> Result<JsonBody, ApiError> {
        let body: Bytes = body.into();
        if !self.gzip || body.len() < PRECOMPRESS_BYTES {
            return Ok(JsonBody { bytes: body, gzip: false });
        }
        use std::io::Write as _;
        let mut z = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 6), flate2::Compression::default());
        z.write_all(&body).map_err(ApiError::internal)?;
        Ok(JsonBody { bytes: Bytes::from(z.finish().map_err(ApiError::internal)?), gzip: true })
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Accepts {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Accepts::of(&parts.headers))
    }
}

/// A JSON answer rendered (and compressed, when the client takes gzip and it is big) ahead of
/// time, so that neither happens on an async worker: axum's `Json` serializes when the response
/// is built, and the compression layer compresses as the body is sent.
#[derive(Debug, Clone)]
pub struct JsonBody {
    bytes: Bytes,
    gzip: bool,
}

impl IntoResponse for JsonBody {
    fn into_response(self) -> Response {
        let mut res =
            ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], self.bytes).into_response();
        if self.gzip {
            // The compression layer leaves answers that carry an encoding alone.
            let h = res.headers_mut();
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            h.append(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    /// Occupies a worker until the returned sender is used (or dropped).
    async fn occupy(pool: &CpuPool) -> (mpsc::Sender<()>, tokio::task::JoinHandle<Result<(), Busy>>) {
        let (release, gate) = mpsc::channel::<()>();
        let (started, running) = tokio::sync::oneshot::channel();
        let p = pool.clone();
        let task = tokio::spawn(async move {
            p.run(move || {
                let _ = started.send(());
                let _ = gate.recv();
            })
            .await
        });
        running.await.unwrap();
        (release, task)
    }

    async fn until(what: impl Fn() -> bool) {
        while !what() {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_beyond_the_workers_and_the_queue_is_refused_at_once() {
        let pool = CpuPool::new(1, 2);
        let (release, blocker) = occupy(&pool).await;
        let waiters: Vec<_> = (0..2)
            .map(|i| {
                let p = pool.clone();
                tokio::spawn(async move { p.run(move || i * 10).await })
            })
            .collect();
        until(|| pool.admitted() == 3).await;
        for _ in 0..5 {
            assert_eq!(pool.run(|| 1).await, Err(Busy), "every worker and queue place is taken");
        }
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        let mut done = Vec::new();
        for w in waiters {
            done.push(w.await.unwrap().unwrap());
        }
        done.sort();
        assert_eq!(done, vec![0, 10], "the queued work ran once a worker was free");
        assert_eq!(pool.admitted(), 0);
        assert_eq!(pool.run(|| 7).await, Ok(7));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiter_that_goes_away_gives_its_place_back() {
        let pool = CpuPool::new(1, 1);
        let (release, blocker) = occupy(&pool).await;
        let p = pool.clone();
        let waiter = tokio::spawn(async move { p.run(|| ()).await });
        until(|| pool.admitted() == 2).await;
        assert_eq!(pool.run(|| ()).await, Err(Busy));
        waiter.abort();
        let _ = waiter.await;
        assert_eq!(pool.admitted(), 1, "only the running work holds a place");
        let p = pool.clone();
        let next = tokio::spawn(async move { p.run(|| 5).await });
        until(|| pool.admitted() == 2).await;
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        assert_eq!(next.await.unwrap(), Ok(5));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_reaches_the_caller_and_frees_the_worker() {
        let pool = CpuPool::new(1, 0);
        let p = pool.clone();
        let crashed = tokio::spawn(async move { p.run(|| -> u8 { panic!("boom") }).await }).await;
        assert!(crashed.unwrap_err().is_panic());
        assert_eq!(pool.admitted(), 0);
        assert_eq!(pool.run(|| 3).await, Ok(3));
    }

    #[test]
    fn refusals_are_503_busy_with_retry_after() {
        let e = ApiError::from(Busy);
        assert_eq!((e.status, e.code, e.retry_after), (StatusCode::SERVICE_UNAVAILABLE, "busy", Some(1)));
        let res = e.into_response();
        assert_eq!(res.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn gzip_is_taken_as_the_compression_layer_takes_it() {
        let of = |v: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            Accepts::of(&h).gzip
        };
        assert!(of("gzip, deflate, br, zstd"));
        assert!(of("br;q=1.0, gzip;q=0.8"));
        assert!(of("*"));
        assert!(!of("gzip;q=0"));
        assert!(!of("gzip;q=0, *"), "an explicit refusal beats the wildcard");
        assert!(!of("identity"));
        assert!(!Accepts::of(&axum::http::HeaderMap::new()).gzip);
    }

    #[test]
    fn big_answers_are_compressed_for_clients_that_take_gzip() {
        let big: Vec<u32> = (0..10_000).collect();
        let plain = Accepts { gzip: false }.json(&big).unwrap();
        assert!(!plain.gzip);
        let packed = Accepts { gzip: true }.json(&big).unwrap();
        assert!(packed.gzip && packed.bytes.len() < plain.bytes.len());
        let mut back = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&packed.bytes[..]), &mut back).unwrap();
        assert_eq!(back.as_bytes(), &plain.bytes[..]);
        let res = packed.into_response();
        assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
        assert!(!Accepts { gzip: true }.json(&[1, 2, 3]).unwrap().gzip, "small answers are left to the layer");
    }

    #[test]
    fn zero_workers_means_one_per_core() {
        assert!(CpuPool::workers_for(0) >= 1);
        assert_eq!(CpuPool::workers_for(3), 3);
        assert_eq!(CpuPool::new(0, 4).workers(), 1);
    }
}
