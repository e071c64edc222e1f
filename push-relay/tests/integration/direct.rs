//! Direct delivery over Server-Sent Events.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::client;
use crate::support::relay::{PAYLOAD, TestRelay};

pub(crate) async fn open_stream(addr: std::net::SocketAddr, token: &str) -> tokio::net::TcpStream {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /v1/direct/stream HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    tcp.write_all(req.as_bytes()).await.unwrap();
    tcp
}

pub(crate) async fn read_until(tcp: &mut tokio::net::TcpStream, needle: &str) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let n = tcp.read(&mut chunk).await.unwrap();
            assert!(n > 0, "stream closed: {}", String::from_utf8_lossy(&buf));
            buf.extend_from_slice(&chunk[..n]);
            if String::from_utf8_lossy(&buf).contains(needle) {
                break;
            }
        }
    })
    .await
    .unwrap();
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn a_push_reaches_an_open_stream_at_once() {
    let relay = TestRelay::with(None, None).await;
    let token = client::request(relay.addr, "POST", "/v1/direct/register", None, vec![])
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut stream = open_stream(relay.addr, &token).await;
    read_until(&mut stream, "200 OK").await;
    // The stream is registered once the response head is out.
    let a = relay.push("direct", &token).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["outcome"], "delivered");
    let text = read_until(&mut stream, PAYLOAD).await;
    assert!(text.contains("event: push"), "{text}");
    assert!(
        relay
            .relay
            .metrics
            .render()
            .contains("push_relay_direct_streams 1")
    );
}

#[tokio::test]
async fn no_stream_means_failed_not_unregistered() {
    // An offline desktop is not a dead token: the portal must keep its push address.
    let relay = TestRelay::with(None, None).await;
    let a = relay.push("direct", &push_relay::direct::new_token()).await;
    assert_eq!(a.status, 502);
    assert_eq!(a.json()["outcome"], "failed");
    assert_eq!(a.json()["reason"], "NotConnected");
}

#[tokio::test]
async fn a_closed_stream_is_forgotten_and_a_malformed_token_refused() {
    let relay = TestRelay::with(None, None).await;
    let token = push_relay::direct::new_token();
    let mut stream = open_stream(relay.addr, &token).await;
    read_until(&mut stream, "200 OK").await;
    drop(stream);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let a = relay.push("direct", &token).await;
    assert_eq!(a.json()["outcome"], "failed", "{}", a.text);
    assert_eq!(a.json()["reason"], "NotConnected", "{}", a.text);
    let mut bad = open_stream(relay.addr, "short").await;
    assert!(read_until(&mut bad, "401").await.contains("unauthorized"));
}

#[tokio::test]
async fn streams_beyond_the_limit_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = TestRelay::settings(None, None, &dir);
    s.direct.max_streams = 1;
    let relay = TestRelay::start(s, dir, std::sync::Arc::new(push_relay::clock::SystemClock)).await;
    let mut first = open_stream(relay.addr, &push_relay::direct::new_token()).await;
    read_until(&mut first, "200 OK").await;
    let mut second = open_stream(relay.addr, &push_relay::direct::new_token()).await;
    assert!(
        read_until(&mut second, "503")
            .await
            .contains("too_many_streams")
    );
}
