//! A fault-injecting HTTPS proxy on loopback, between the core and the
//! reference insurer (issue 5: "dropped connections, delays, 500, 503 and
//! 429 answers, truncated bodies").
//!
//! It terminates TLS with the insurer's own server certificate (so the
//! phone keeps trusting the insurer's CA, as in production), forwards each
//! request to the insurer, and before or after forwarding may, per request,
//! from a seeded random plan:
//! - drop the connection before forwarding (the insurer never sees it);
//! - forward, then drop the connection instead of answering (the insurer
//!   acted, the phone does not know: the case idempotency keys exist for);
//! - answer 500, 503 or 429 (with `Retry-After`) without forwarding;
//! - forward, then cut the answer's body in half;
//! - delay the answer.
//!
//! The upstream can be switched while it runs ([`FaultProxy::set_upstream`]),
//! so a test can restart the insurer on another port behind the same URL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_server::tls_rustls::RustlsConfig;
use parking_lot::Mutex;

/// Largest request body forwarded (a chunk is at most 1 MiB).
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// How often each fault happens, in requests per thousand. What is left of
/// the thousand passes untouched.
#[derive(Debug, Clone, Copy, Default)]
pub struct FaultPlan {
    /// Seed of the proxy's choices: a run can be repeated.
    pub seed: u64,
    /// Connection dropped before forwarding.
    pub drop_before: u32,
    /// Forwarded, then the connection dropped instead of the answer.
    pub drop_after: u32,
    /// 500 without forwarding.
    pub error_500: u32,
    /// 503 with `Retry-After: 1`, without forwarding.
    pub error_503: u32,
    /// 429 with `Retry-After: 1`, without forwarding.
    pub error_429: u32,
    /// Forwarded; the answer's body cut in half.
    pub truncate: u32,
    /// Forwarded; the answer delayed by up to `max_delay`.
    pub delay: u32,
    /// The longest delay.
    pub max_delay: Duration,
}

impl FaultPlan {
    /// No faults: every request passes.
    pub fn none() -> Self {
        Self::default()
    }

    /// Every kind of fault, each on a few percent of requests (about 40 %
    /// of requests meet one).
    pub fn hostile(seed: u64) -> Self {
        Self {
            seed,
            drop_before: 60,
            drop_after: 80,
            error_500: 50,
            error_503: 50,
            error_429: 50,
            truncate: 60,
            delay: 60,
            max_delay: Duration::from_millis(300),
        }
    }
}

/// What the proxy did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Requests received.
    pub requests: u64,
    /// Requests forwarded to the insurer.
    pub forwarded: u64,
    /// Connections dropped before forwarding.
    pub dropped_before: u64,
    /// Connections dropped after the insurer answered.
    pub dropped_after: u64,
    /// 500, 503 and 429 answers made up.
    pub error_answers: u64,
    /// Answers cut short.
    pub truncated: u64,
    /// Answers delayed.
    pub delayed: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    forwarded: AtomicU64,
    dropped_before: AtomicU64,
    dropped_after: AtomicU64,
    error_answers: AtomicU64,
    truncated: AtomicU64,
    delayed: AtomicU64,
}

#[derive(Clone, Copy)]
enum Fault {
    None,
    DropBefore,
    DropAfter,
    Status(StatusCode),
    Truncate,
    Delay(Duration),
}

struct Shared {
    http: reqwest::Client,
    upstream: Mutex<String>,
    plan: Mutex<(FaultPlan, u64)>,
    counters: Counters,
}

impl Shared {
    /// The next fault, from a xorshift generator seeded by the plan.
    fn next_fault(&self) -> Fault {
        let mut guard = self.plan.lock();
        let (plan, state) = &mut *guard;
        let mut x = *state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *state = x;
        let roll = (x % 1000) as u32;
        let delay_roll = x >> 32;
        let mut edge = 0;
        let mut hit = |share: u32| {
            edge += share;
            roll < edge
        };
        if hit(plan.drop_before) {
            Fault::DropBefore
        } else if hit(plan.drop_after) {
            Fault::DropAfter
        } else if hit(plan.error_500) {
            Fault::Status(StatusCode::INTERNAL_SERVER_ERROR)
        } else if hit(plan.error_503) {
            Fault::Status(StatusCode::SERVICE_UNAVAILABLE)
        } else if hit(plan.error_429) {
            Fault::Status(StatusCode::TOO_MANY_REQUESTS)
        } else if hit(plan.truncate) {
            Fault::Truncate
        } else if hit(plan.delay) {
            let max = plan.max_delay.as_millis().max(1) as u64;
            Fault::Delay(Duration::from_millis(delay_roll % max))
        } else {
            Fault::None
        }
    }
}

/// A running proxy; stop it with [`FaultProxy::shutdown`].
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    handle: axum_server::Handle<SocketAddr>,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream_url`, trusting `upstream_ca_pem`,
    /// serving TLS with the insurer's certificate from `insurer_data_dir`
    /// (`server.pem`, `server-key.pem`).
    pub async fn start(
        upstream_url: &str,
        upstream_ca_pem: &str,
        insurer_data_dir: &Path,
        plan: FaultPlan,
    ) -> Self {
        let tls = RustlsConfig::from_pem_file(
            insurer_data_dir.join("server.pem"),
            insurer_data_dir.join("server-key.pem"),
        )
        .await
        .expect("the insurer's TLS identity");
        let shared = Arc::new(Shared {
            http: crate::https_client(upstream_ca_pem),
            upstream: Mutex::new(upstream_url.trim_end_matches('/').to_owned()),
            plan: Mutex::new((plan, plan.seed | 1)),
            counters: Counters::default(),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let handle = axum_server::Handle::new();
        let app = Router::new()
            .fallback(relay)
            .with_state(Arc::clone(&shared));
        let server = axum_server::from_tcp_rustls(listener, tls)
            .expect("a TLS listener")
            .handle(handle.clone());
        tokio::spawn(server.serve(app.into_make_service()));
        Self {
            addr,
            shared,
            handle,
        }
    }

    /// The URL the phone should use.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    /// Sends what follows to another insurer URL (e.g. after a restart).
    pub fn set_upstream(&self, url: &str) {
        *self.shared.upstream.lock() = url.trim_end_matches('/').to_owned();
    }

    /// Replaces the plan (e.g. [`FaultPlan::none`] for a final clean sync).
    pub fn set_plan(&self, plan: FaultPlan) {
        *self.shared.plan.lock() = (plan, plan.seed | 1);
    }

    /// What it did so far.
    pub fn counts(&self) -> FaultCounts {
        let c = &self.shared.counters;
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        FaultCounts {
            requests: read(&c.requests),
            forwarded: read(&c.forwarded),
            dropped_before: read(&c.dropped_before),
            dropped_after: read(&c.dropped_after),
            error_answers: read(&c.error_answers),
            truncated: read(&c.truncated),
            delayed: read(&c.delayed),
        }
    }

    /// Stops accepting and closes open connections.
    pub async fn shutdown(self) {
        self.handle.shutdown();
    }
}

/// A body that fails at once, after `prefix`: hyper then resets the
/// connection, which the client sees as a dropped connection (no prefix)
/// or a truncated answer.
fn broken_body(prefix: Bytes) -> Body {
    let parts: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(prefix),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault proxy: connection dropped",
        )),
    ];
    Body::from_stream(futures_util::stream::iter(parts))
}

fn dropped(length_claimed: usize, prefix: Bytes) -> Response {
    let mut response = Response::new(broken_body(prefix));
    if let Ok(length) = HeaderValue::from_str(&length_claimed.to_string()) {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, length);
    }
    response
}

async fn relay(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let counters = &shared.counters;
    counters.requests.fetch_add(1, Ordering::Relaxed);
    let fault = shared.next_fault();
    match fault {
        Fault::DropBefore => {
            counters.dropped_before.fetch_add(1, Ordering::Relaxed);
            return dropped(64, Bytes::new());
        }
        Fault::Status(status) => {
            counters.error_answers.fetch_add(1, Ordering::Relaxed);
            let mut response = (
                status,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>upstream trouble</body></html>",
            )
                .into_response();
            if status != StatusCode::INTERNAL_SERVER_ERROR {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            return response;
        }
        _ => {}
    }

    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let path = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let upstream = shared.upstream.lock().clone();
    let mut forward = shared
        .http
        .request(parts.method.clone(), format!("{upstream}{path}"))
        .body(body);
    for name in [header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT] {
        if let Some(value) = parts.headers.get(&name) {
            forward = forward.header(name, value);
        }
    }
    let answer = match forward.send().await {
        Ok(answer) => answer,
        // The insurer is down (e.g. restarting): what a gateway answers.
        Err(_) => return StatusCode::BAD_GATEWAY.into_response(),
    };
    counters.forwarded.fetch_add(1, Ordering::Relaxed);
    let status = answer.status();
    let mut headers = HeaderMap::new();
    for name in [header::CONTENT_TYPE, header::RETRY_AFTER] {
        if let Some(value) = answer.headers().get(&name) {
            headers.insert(name, value.clone());
        }
    }
    let Ok(bytes) = answer.bytes().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    match fault {
        Fault::DropAfter => {
            counters.dropped_after.fetch_add(1, Ordering::Relaxed);
            dropped(bytes.len().max(1), Bytes::new())
        }
        Fault::Truncate => {
            counters.truncated.fetch_add(1, Ordering::Relaxed);
            let half = bytes.slice(..bytes.len() / 2);
            let mut response = dropped(bytes.len().max(1), half);
            *response.status_mut() = status;
            response.headers_mut().extend(headers);
            response
        }
        Fault::Delay(pause) => {
            counters.delayed.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(pause).await;
            (status, headers, bytes).into_response()
        }
        _ => (status, headers, bytes).into_response(),
    }
}
