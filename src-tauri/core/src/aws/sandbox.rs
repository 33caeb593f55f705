//! Talking to a local sandbox (the practice cloud, or `tests/sandbox/run`)
//! safely: it runs code as the user, so it answers only requests signed with
//! the access key it was started with (tests/sandbox/easytdv_sandbox/access.py).
//!
//! - The address must be a literal loopback one (127.0.0.1, [::1]): a
//!   "sandbox" elsewhere would receive the user's scripts, and a name may
//!   resolve to an address another local user listens on.
//! - The key comes from the practice cloud this process started
//!   ([`register`]) or from `EASYTDV_SANDBOX_ACCESS_KEY` (what
//!   `tests/sandbox/run` prints, for the CLI and `./dev run`). It is a secret:
//!   [`Sensitive`], never logged.
//! - Before any call, the sandbox proves it knows the key ([`verify`]): it
//!   answers HMAC-SHA256(key, "easytdv-sandbox:" + nonce) for a fresh nonce.
//!   Another process squatting the port cannot, and gets nothing.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::AwsError;
use crate::secret::Sensitive;

/// The variable `tests/sandbox/run` prints the key in.
pub const KEY_VAR: &str = "EASYTDV_SANDBOX_ACCESS_KEY";
/// The header the sandbox's own API (`/moto-api`, `/easytdv-api`) wants.
pub const KEY_HEADER: &str = "X-Easytdv-Sandbox-Key";

static KEYS: LazyLock<Mutex<HashMap<String, Sensitive>>> = LazyLock::new(Default::default);

fn normal(endpoint: &str) -> String {
    endpoint.trim_end_matches('/').to_string()
}

/// A new key for a sandbox this process starts.
pub fn new_key() -> Sensitive {
    let hex = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    Sensitive::new(format!("ETDV{hex}"))
}

/// Remember the key of a sandbox this process started.
pub fn register(endpoint: &str, key: Sensitive) {
    KEYS.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(normal(endpoint), key);
}

/// The key to use for `endpoint`: the one registered for it, else the
/// environment's.
pub fn key_for(endpoint: &str) -> Option<Sensitive> {
    let registered = KEYS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&normal(endpoint))
        .cloned();
    registered.or_else(|| {
        std::env::var(KEY_VAR)
            .ok()
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .map(Sensitive::new)
    })
}

/// `host:port` of an `http://` address on this computer, else why not.
/// Only literal loopback addresses: a name such as `localhost` may resolve to
/// `::1` where another local user listens, relaying the check to the real
/// sandbox and keeping the requests (and the key they carry).
pub fn loopback_authority(endpoint: &str) -> Result<String, AwsError> {
    let bad = || AwsError::BadEndpoint(endpoint.to_string());
    let rest = endpoint.strip_prefix("http://").ok_or_else(bad)?;
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
    port.parse::<u16>().map_err(|_| bad())?;
    if !matches!(host, "127.0.0.1" | "[::1]") {
        return Err(AwsError::NotLoopback(endpoint.to_string()));
    }
    Ok(authority.to_string())
}

/// The answer a sandbox started with `key` gives for `nonce`.
pub fn proof(key: &Sensitive, nonce: &str) -> String {
    // HMAC accepts keys of any length: `new_from_slice` cannot fail here.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()) else {
        return String::new();
    };
    mac.update(format!("easytdv-sandbox:{nonce}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The key a sandbox started with `key` accepts for its principal `base`
/// (`other-account`, a test's administrator…): `<base>.<HMAC tag>`. It names
/// the principal without revealing the sandbox's own key.
pub fn derived_key(key: &str, base: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.as_bytes()) else {
        return String::new();
    };
    mac.update(format!("easytdv-principal:{base}").as_bytes());
    let tag: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{base}.{}", &tag[..40])
}

/// Checks that the sandbox at `endpoint` was started with `key`.
pub async fn verify(endpoint: &str, key: &Sensitive) -> Result<(), AwsError> {
    let (e, k) = (endpoint.to_string(), key.clone());
    tokio::task::spawn_blocking(move || verify_blocking(&e, &k))
        .await
        .map_err(|_| AwsError::SandboxUnreachable(endpoint.to_string()))?
}

/// [`verify`], for callers on a blocking thread.
pub fn verify_blocking(endpoint: &str, key: &Sensitive) -> Result<(), AwsError> {
    let authority = loopback_authority(endpoint)?;
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let answer = whoami(&authority, &nonce).map_err(|e| {
        tracing::debug!(endpoint, error = %e, "the sandbox did not answer its check");
        AwsError::SandboxUnreachable(endpoint.to_string())
    })?;
    let want = proof(key, &nonce);
    let got = answer
        .split("\"proof\"")
        .nth(1)
        .and_then(|r| r.split('"').nth(1))
        .unwrap_or_default();
    if want.is_empty() || got != want {
        tracing::warn!(
            endpoint,
            "something answers at the sandbox's address but it is not our sandbox"
        );
        return Err(AwsError::NotOurSandbox(endpoint.to_string()));
    }
    Ok(())
}

/// Asks the sandbox at `endpoint`, once it proved it holds `key`, to save
/// its data and stop (`POST /easytdv-api/shutdown`, authenticated by the key
/// like every test hook): how the app stops its practice cloud on every
/// system, signals or not.
pub fn ask_to_stop(endpoint: &str, key: &Sensitive) -> Result<(), AwsError> {
    verify_blocking(endpoint, key)?;
    let authority = loopback_authority(endpoint)?;
    let request = format!(
        "POST /easytdv-api/shutdown HTTP/1.1\r\nHost: {authority}\r\n{KEY_HEADER}: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        key.expose()
    );
    exchange(&authority, &request).map(|_| ()).map_err(|e| {
        tracing::debug!(endpoint, error = %e, "the sandbox did not take the request to stop");
        AwsError::SandboxUnreachable(endpoint.to_string())
    })
}

/// `GET /easytdv-api/whoami?nonce=…`: the body of a 200 answer.
fn whoami(authority: &str, nonce: &str) -> std::io::Result<String> {
    exchange(
        authority,
        &format!(
            "GET /easytdv-api/whoami?nonce={nonce} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
        ),
    )
}

/// Sends `request` to `authority` and returns the body of a 200 answer.
fn exchange(authority: &str, request: &str) -> std::io::Result<String> {
    let addr = authority
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("no address"))?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    s.take(64 * 1024).read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    if !head
        .lines()
        .next()
        .is_some_and(|l| l.starts_with("HTTP/1.") && l.contains(" 200"))
    {
        return Err(std::io::Error::other(
            head.lines().next().unwrap_or("no answer").to_string(),
        ));
    }
    Ok(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_addresses() {
        for ok in [
            "http://127.0.0.1:4566",
            "http://127.0.0.1:4566/",
            "http://[::1]:4566",
        ] {
            assert!(loopback_authority(ok).is_ok(), "{ok}");
        }
        for (bad, not_loopback) in [
            ("http://10.0.0.5:4566", true),
            ("http://localhost:4566", true),
            ("http://evil.example:4566", true),
            ("http://127.0.0.1.evil.example:4566", true),
            ("https://127.0.0.1:4566", false),
            ("http://127.0.0.1", false),
            ("127.0.0.1:4566", false),
        ] {
            let e = loopback_authority(bad).unwrap_err();
            assert_eq!(
                matches!(e, AwsError::NotLoopback(_)),
                not_loopback,
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn the_proof_is_hmac_sha256() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let key = Sensitive::new("Jefe");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(proof(&key, "n").len(), 64);
        assert_ne!(proof(&key, "n"), proof(&Sensitive::new("other"), "n"));
    }

    #[tokio::test]
    async fn a_squatter_is_not_our_sandbox() {
        // Something listening on the port, answering 200 with a made-up proof.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut s in listener.incoming().map_while(Result::ok) {
                let (mut got, mut buf) = (Vec::new(), [0u8; 1024]);
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{\"proof\": \"abcd\"}",
                );
            }
        });
        let e = verify(&format!("http://127.0.0.1:{port}"), &new_key())
            .await
            .unwrap_err();
        assert!(matches!(e, AwsError::NotOurSandbox(_)), "{e}");
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = verify(&format!("http://127.0.0.1:{closed}"), &new_key())
            .await
            .unwrap_err();
        assert!(matches!(e, AwsError::SandboxUnreachable(_)), "{e}");
    }
}
