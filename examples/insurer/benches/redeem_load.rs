//! Load test of consult-token redemption at the reference insurer: provider
//! redemptions per second over HTTPS on loopback (issue 4, benchmarks).
//!
//! ```text
//! cargo bench -p carnet-insurer --bench redeem_load -- [--members 8] [--tokens 4000] [--concurrency 32] [--max-seconds 60]
//! ```
//!
//! It starts the insurer in this process on 127.0.0.1 (a fresh data
//! directory, the system clock), makes `--members` members, each with an
//! enrolled device and its offline-token secret, then measures with
//! `--concurrency` keep-alive HTTPS connections (rustls on ring, HTTP/1.1,
//! as the server offers):
//!
//! 1. `GET /.well-known/jwks.json`: the HTTPS and routing floor;
//! 2. `POST /v1/tokens`: issuing `--tokens` online tokens;
//! 3. `POST /v1/provider/redeem` of every one of them, by the demo provider;
//! 4. `POST /v1/provider/redeem` of offline codes derived with core's
//!    function from each device secret, 104 per device (8 sequences in each
//!    of the 13 valid hour slots), each a window search of 200 HMACs.
//!
//! Every phase is bounded by its count and by `--max-seconds`; nothing
//! leaves loopback. Client and server share the machine's cores, as they
//! would on a single host.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use carnet_core::model::b64;
use carnet_core::token::{Counter, TokenSecret, derive_offline_code, slot_of};
use carnet_insurer::{InsurerConfig, RunningInsurer};
use reqwest::{Client, StatusCode};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};

type Failure = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone)]
struct Options {
    members: usize,
    tokens: usize,
    concurrency: usize,
    max_seconds: u64,
}

impl Options {
    fn parse() -> Result<Self, Failure> {
        let mut options = Self {
            members: 8,
            tokens: 4_000,
            concurrency: 32,
            max_seconds: 60,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || -> Result<usize, Failure> {
                Ok(args.next().ok_or("a value is missing")?.parse()?)
            };
            match arg.as_str() {
                "--members" => options.members = value()?.clamp(1, 64),
                "--tokens" => options.tokens = value()?.clamp(1, 100_000),
                "--concurrency" => options.concurrency = value()?.clamp(1, 256),
                "--max-seconds" => options.max_seconds = value()?.clamp(1, 600) as u64,
                // `cargo bench` passes `--bench`; anything else is ignored too.
                _ => {}
            }
        }
        Ok(options)
    }
}

struct Member {
    token: String,
    member_id: String,
    secret: TokenSecret,
}

/// One request to make.
#[derive(Clone)]
struct Job {
    method: reqwest::Method,
    path: &'static str,
    bearer: String,
    body: Option<Value>,
}

/// What a phase measured.
struct Phase {
    name: &'static str,
    elapsed: Duration,
    latencies: Vec<Duration>,
    statuses: std::collections::BTreeMap<u16, usize>,
    /// Each answer's body, with the index of its job.
    bodies: Vec<(usize, Value)>,
}

impl Phase {
    fn print(&self, concurrency: usize) {
        let mut latencies = self.latencies.clone();
        latencies.sort_unstable();
        let at = |q: f64| {
            let index = ((latencies.len() as f64 - 1.0) * q).round() as usize;
            latencies.get(index).copied().unwrap_or_default()
        };
        let rate = latencies.len() as f64 / self.elapsed.as_secs_f64();
        println!(
            "{:<28} {:>6} requests in {:>6.2} s: {:>7.0}/s  p50 {:>6.2} ms  p99 {:>6.2} ms  (concurrency {concurrency}; statuses {:?})",
            self.name,
            latencies.len(),
            self.elapsed.as_secs_f64(),
            rate,
            at(0.5).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
            self.statuses,
        );
    }
}

fn client_trusting(ca_pem: &str, connections: usize) -> Result<Client, Failure> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert?)?;
    }
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Client::builder()
        .use_preconfigured_tls(tls)
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(30))
        .build()?)
}

async fn call(
    client: &Client,
    url: &str,
    job: &Job,
) -> Result<(StatusCode, Value), reqwest::Error> {
    let mut request = client
        .request(job.method.clone(), format!("{url}{}", job.path))
        .bearer_auth(&job.bearer);
    if let Some(body) = &job.body {
        request = request.json(body);
    }
    let response = request.send().await?;
    let status = response.status();
    let bytes = response.bytes().await?;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok((status, body))
}

/// Runs `jobs` on `concurrency` connections, until done or `deadline`.
async fn drive(
    name: &'static str,
    client: &Client,
    url: &str,
    jobs: Vec<Job>,
    concurrency: usize,
    max: Duration,
) -> Result<Phase, Failure> {
    let jobs = Arc::new(jobs);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + max;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (jobs, next, client, url) =
            (jobs.clone(), next.clone(), client.clone(), url.to_owned());
        workers.spawn(async move {
            let mut seen = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(index) else { break };
                if Instant::now() > deadline {
                    break;
                }
                let sent = Instant::now();
                let outcome = call(&client, &url, job).await;
                seen.push((index, sent.elapsed(), outcome));
            }
            seen
        });
    }
    let mut phase = Phase {
        name,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        statuses: Default::default(),
        bodies: Vec::new(),
    };
    while let Some(seen) = workers.join_next().await {
        for (index, latency, outcome) in seen? {
            let (status, body) = outcome?;
            phase.latencies.push(latency);
            *phase.statuses.entry(status.as_u16()).or_default() += 1;
            phase.bodies.push((index, body));
        }
    }
    phase.elapsed = started.elapsed();
    Ok(phase)
}

async fn post(
    client: &Client,
    url: &str,
    path: &str,
    bearer: Option<&str>,
    body: Value,
) -> Result<Value, Failure> {
    let mut request = client.post(format!("{url}{path}")).json(&body);
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    let response = request.send().await?;
    let status = response.status();
    let bytes = response.bytes().await?;
    if !status.is_success() {
        return Err(format!("{path}: {status} {}", String::from_utf8_lossy(&bytes)).into());
    }
    Ok(if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)?
    })
}

fn text(value: &Value, field: &str) -> Result<String, Failure> {
    Ok(value[field]
        .as_str()
        .ok_or_else(|| format!("no {field} in {value}"))?
        .to_owned())
}

/// Registers, confirms, logs in and enrols member `n`, and gets its
/// device's token secret.
async fn make_member(
    insurer: &RunningInsurer,
    client: &Client,
    n: usize,
) -> Result<Member, Failure> {
    let url = insurer.url();
    let username = format!("carga.{n:03}");
    post(
        client,
        &url,
        "/v1/registrations",
        None,
        json!({
            "affiliate_number": format!("{:06}/01", 100_000 + n),
            "card_number": "6034 9300 0012 3456",
            "birth_date": "1984-03-09",
            "username": username,
            "password": "Clave2024",
            "email": format!("{username}@example.org"),
        }),
    )
    .await?;
    let code = insurer
        .confirmation_code(&username)
        .ok_or("no confirmation code")?;
    post(
        client,
        &url,
        "/v1/registrations/confirm",
        None,
        json!({"username": username, "code": code}),
    )
    .await?;
    let session = post(
        client,
        &url,
        "/v1/sessions",
        None,
        json!({"username": username, "password": "Clave2024"}),
    )
    .await?;
    let token = text(&session, "access_token")?;
    let account = client
        .get(format!("{url}/v1/account"))
        .bearer_auth(&token)
        .send()
        .await?
        .json::<Value>()
        .await?;
    let member_id = text(&account, "member_id")?;

    let challenge = text(
        &post(
            client,
            &url,
            "/v1/devices/challenge",
            Some(&token),
            json!({}),
        )
        .await?,
        "challenge",
    )?;
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
        .map_err(|_| "key generation failed")?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(|_| "key loading failed")?;
    let public_key = b64::encode(pair.public_key().as_ref());
    let signature = pair
        .sign(
            &rng,
            &carnet_core::model::enrolment_message(&challenge, &public_key),
        )
        .map_err(|_| "signing failed")?;
    let enrolled = post(
        client,
        &url,
        "/v1/devices",
        Some(&token),
        json!({
            "name": "Carga",
            "public_key": public_key,
            "challenge": challenge,
            "signature": b64::encode(signature.as_ref()),
        }),
    )
    .await?;
    let device_id = enrolled["device"]["id"].as_str().ok_or("no device id")?;
    let secret = post(
        client,
        &url,
        &format!("/v1/devices/{device_id}/token-secret"),
        Some(&token),
        json!({}),
    )
    .await?;
    let secret = b64::decode(&text(&secret, "secret")?).ok_or("secret not base64url")?;
    Ok(Member {
        token,
        member_id,
        secret: TokenSecret::from_slice(&secret)?,
    })
}

async fn run(options: Options) -> Result<(), Failure> {
    let dir = tempfile::tempdir()?;
    let insurer = carnet_insurer::start(InsurerConfig::new(dir.path().join("insurer"))).await?;
    let url = insurer.url();
    let client = client_trusting(insurer.ca_cert_pem(), options.concurrency)?;
    let max = Duration::from_secs(options.max_seconds);
    let c = options.concurrency;
    println!(
        "redeem_load: {} members, {} online tokens, {} connections, {} s cap per phase, {} cores",
        options.members,
        options.tokens,
        c,
        options.max_seconds,
        std::thread::available_parallelism().map_or(0, usize::from)
    );

    let mut members = Vec::new();
    for n in 0..options.members {
        members.push(make_member(&insurer, &client, n).await?);
    }

    // 1. The floor: an HTTPS round trip to a trivial endpoint.
    let jwks: Vec<Job> = (0..options.tokens)
        .map(|_| Job {
            method: reqwest::Method::GET,
            path: "/.well-known/jwks.json",
            bearer: String::new(),
            body: None,
        })
        .collect();
    drive("GET jwks (floor)", &client, &url, jwks, c, max)
        .await?
        .print(c);

    // 2. Issue online tokens, round robin over the members.
    let issue: Vec<Job> = (0..options.tokens)
        .map(|i| Job {
            method: reqwest::Method::POST,
            path: "/v1/tokens",
            bearer: members[i % members.len()].token.clone(),
            body: Some(json!({"practice": "Consulta clínica"})),
        })
        .collect();
    let issued = drive("POST /v1/tokens (issue)", &client, &url, issue, c, max).await?;
    issued.print(c);

    // 3. Redeem every issued online token once.
    let provider_key = insurer.provider_key();
    // Job i was member i mod n's token.
    let mut online_jobs = Vec::new();
    for (index, body) in &issued.bodies {
        let member = &members[index % members.len()];
        online_jobs.push(Job {
            method: reqwest::Method::POST,
            path: "/v1/provider/redeem",
            bearer: provider_key.clone(),
            body: Some(json!({
                "member_id": member.member_id,
                "code": body["code"],
                "practice": "Consulta clínica",
            })),
        });
    }
    // Interleave members, as real traffic would.
    online_jobs.sort_by_key(|job| {
        let body = job
            .body
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        ring::digest::digest(&ring::digest::SHA256, body.as_bytes())
            .as_ref()
            .to_vec()
    });
    let redeemed = drive(
        "POST /v1/provider/redeem (online)",
        &client,
        &url,
        online_jobs,
        c,
        max,
    )
    .await?;
    redeemed.print(c);

    // 4. Offline codes: every counter of the 13 valid slots, per device.
    let now = chrono::Utc::now();
    let slot = slot_of(now)?;
    let mut offline_jobs = Vec::new();
    for back in 0..13u64 {
        for sequence in 0..8u8 {
            for member in &members {
                let counter = Counter::new(slot - back, sequence)?;
                offline_jobs.push(Job {
                    method: reqwest::Method::POST,
                    path: "/v1/provider/redeem",
                    bearer: provider_key.clone(),
                    body: Some(json!({
                        "member_id": member.member_id,
                        "code": derive_offline_code(&member.secret, counter),
                        "practice": "Consulta clínica",
                    })),
                });
            }
        }
    }
    drive(
        "POST /v1/provider/redeem (offline)",
        &client,
        &url,
        offline_jobs,
        c,
        max,
    )
    .await?
    .print(c);

    insurer.shutdown().await;
    Ok(())
}

fn main() -> Result<(), Failure> {
    let options = Options::parse()?;
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(options))
}
