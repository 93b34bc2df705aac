//! The fault-injecting proxy does what the request-sync tests rely on: with
//! a hostile plan, every kind of fault happens and each is seen by a client
//! as the failure it stands for; with no plan, every request passes.

use carnet_e2e::fault_proxy::FaultPlan;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_happens_and_a_quiet_plan_passes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let (insurer, proxy) =
        carnet_e2e::insurer_behind_proxy(dir.path(), FaultPlan::hostile(42)).await;
    // The phone trusts the insurer's CA and reaches the proxy.
    let client = carnet_e2e::https_client(insurer.ca_cert_pem());
    let url = format!("{}/.well-known/jwks.json", proxy.url());

    let (mut whole, mut failed_transport, mut failed_status) = (0, 0, 0);
    for _ in 0..300 {
        match client.get(&url).send().await {
            Ok(answer) if answer.status().is_success() => match answer.bytes().await {
                Ok(body) if serde_json::from_slice::<serde_json::Value>(&body).is_ok() => {
                    whole += 1
                }
                _ => failed_transport += 1,
            },
            Ok(answer) => {
                assert!(
                    [429, 500, 503].contains(&answer.status().as_u16()),
                    "{}",
                    answer.status()
                );
                failed_status += 1;
            }
            Err(_) => failed_transport += 1,
        }
    }
    let counts = proxy.counts();
    assert_eq!(counts.requests, 300);
    carnet_e2e::assert_every_fault_happened(&counts);
    assert_eq!(failed_status, counts.error_answers);
    assert_eq!(
        failed_transport,
        counts.dropped_before + counts.dropped_after + counts.truncated
    );
    assert_eq!(whole + failed_status + failed_transport, 300);

    proxy.set_plan(FaultPlan::none());
    for _ in 0..20 {
        let answer = client.get(&url).send().await.unwrap();
        assert!(answer.status().is_success());
        answer.json::<serde_json::Value>().await.unwrap();
    }
    proxy.shutdown().await;
    insurer.shutdown().await;
}
