//! `/metrics` over TLS with a self-signed certificate made in the test; a
//! plain-HTTP client on the TLS port is disconnected, not left hanging.

#![cfg(feature = "tls")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use ron_health::HealthState;
use ron_metrics::{Metrics, ServeOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::crypto::ring::default_provider;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};

/// A server config and the matching client config for "localhost".
fn configs() -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(default_provider());
    let server = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

#[tokio::test]
async fn metrics_are_served_over_tls_and_plain_http_is_refused() {
    let (server_config, client_config) = configs();
    let metrics = Metrics::new(false).unwrap();
    metrics.inc_service_restart("tls-test");
    let options = ServeOptions::default().header_read_timeout(Duration::from_secs(2));
    let (server, addr) = metrics
        .serve_tls_with(
            "127.0.0.1:0".parse().unwrap(),
            Arc::new(HealthState::new()),
            server_config,
            options,
        )
        .await
        .unwrap();

    // A real HTTPS scrape.
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = TlsConnector::from(client_config)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    tls.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tls.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{response}"
    );
    assert!(response.contains(r#"service_restarts_total{service="tls-test"} 1"#));

    // Plain HTTP on the TLS port: a plain 400 saying so, then the server
    // hangs up; the client does not hang.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), plain.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "a plain-HTTP client was left hanging");
    let reply = String::from_utf8_lossy(&buf).into_owned();
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.ends_with("this port speaks HTTPS\n"), "{reply}");

    // Garbage that is neither TLS nor HTTP: disconnected, not answered.
    let mut garbage = TcpStream::connect(addr).await.unwrap();
    garbage.write_all(&[0x00, 0xff, 0x13, 0x37]).await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), garbage.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "a garbage client was left hanging");
    assert!(!String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 200"));

    // A client that connects and says nothing is dropped after the timeout.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let read = tokio::time::timeout(Duration::from_secs(10), silent.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "a silent client was never disconnected");

    server.shutdown().await.unwrap();
}
