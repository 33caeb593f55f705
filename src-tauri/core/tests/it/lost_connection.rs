//! A lost connection is not a failed run: with the network between the
//! core and the sandbox cut for 20 s during training (the machine keeps
//! running), the run rides it out and succeeds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use easytdv_core::aws::{AwsContext, CredentialSource};
use easytdv_core::logs::LogName;
use easytdv_core::pipeline::Step;
use tokio::net::{TcpListener, TcpStream};

/// A loopback TCP proxy to the sandbox that a test can cut and restore.
struct Proxy {
    url: String,
    cut: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let cut = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (c, l) = (cut.clone(), links.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if c.load(Ordering::SeqCst) {
                    drop(inbound); // the network is gone: connection reset
                    continue;
                }
                let upstream = upstream.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut out) = TcpStream::connect(&upstream).await {
                        let _copied = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                l.lock().unwrap().push(link);
            }
        });
        Self { url, cut, links }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_run_rides_out_a_lost_connection_during_training() {
    let upstream = endpoint()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let proxy = Proxy::start(upstream).await;
    let mut h = Harness::new().await;
    h.ctx = AwsContext::new(
        &CredentialSource::Sandbox {
            endpoint: proxy.url.clone(),
        },
        REGION,
    )
    .await
    .unwrap();
    let name = bucket("lost");
    let mut train = h.train(request("slow", &name));
    let events = h.events.clone();
    let run = tokio::spawn(async move {
        let result = train.run_from(Step::Prepare).await;
        (train, result)
    });
    // Cut once the script is seen running (its first log line is home), so
    // the outage hits the waits for the training, not the command's start.
    for _ in 0..600 {
        if events
            .lines()
            .iter()
            .any(|(name, _)| *name == LogName::Train)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    proxy.cut();
    tokio::time::sleep(Duration::from_secs(20)).await;
    proxy.restore();
    let (train, result) = run.await.unwrap();
    let report = result.expect("the run survives a 20 s outage");
    assert!(
        report.output_keys.iter().any(|k| k.ends_with("done.txt")),
        "{:?}",
        report.output_keys
    );
    assert!(
        events
            .events()
            .iter()
            .any(|e| e.message.starts_with("Connection lost")),
        "the outage was shown"
    );
    assert!(events
        .events()
        .iter()
        .any(|e| e.message == "Connection back: carrying on"));
    let ctx = ctx().await;
    let del = easytdv_core::pipeline::delete_resources(&ctx, train.resources(), &h.events).await;
    del.expect("delete");
}
