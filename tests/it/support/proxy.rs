//! A TCP proxy in front of Azurite that a test can make hang (a share that stops answering
//! without refusing connections, as a network partition does) or hold its answers back (a
//! request that lands but whose answer comes late).

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PASS: u8 = 0;
const HANG: u8 = 1;
const HOLD_APPEND_ANSWERS: u8 = 2;

pub struct Proxy {
    pub port: u16,
    mode: Arc<AtomicU8>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Forwards 127.0.0.1:`port` (a new free port) to 127.0.0.1:`to`.
    pub async fn start(to: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mode = Arc::new(AtomicU8::new(PASS));
        let m = mode.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let m = m.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", to)).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let appending = Arc::new(AtomicBool::new(false));
                    let up = pump(cr, sw, m.clone(), None, appending.clone());
                    let down = pump(sr, cw, m, Some(()), appending);
                    let _ = tokio::join!(up, down);
                });
            }
        });
        Proxy { port, mode, task }
    }

    pub fn pass(&self) {
        self.mode.store(PASS, Ordering::SeqCst);
    }

    /// Nothing goes through, either way; connections stay open.
    pub fn hang(&self) {
        self.mode.store(HANG, Ordering::SeqCst);
    }

    /// Appends reach Azurite, but the answers to them wait until `pass`; other calls go
    /// through.
    pub fn hold_append_answers(&self) {
        self.mode.store(HOLD_APPEND_ANSWERS, Ordering::SeqCst);
    }

    /// `http://127.0.0.1:PORT/devstoreaccount1/{path}` through the proxy.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/devstoreaccount1/{path}", self.port)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mode: Arc<AtomicU8>,
    answers: Option<()>,
    appending: Arc<AtomicBool>,
) {
    let answers = answers.is_some();
    let paused = |m: u8| {
        m == HANG || (answers && m == HOLD_APPEND_ANSWERS && appending.load(Ordering::SeqCst))
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        while paused(mode.load(Ordering::SeqCst)) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let n = match tokio::time::timeout(Duration::from_millis(50), from.read(&mut buf)).await {
            Err(_) => continue,
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(n)) => n,
        };
        if !answers && buf[..n].starts_with(b"PUT ") {
            // A new request on this connection: is it an append?
            let head = String::from_utf8_lossy(&buf[..n.min(2048)]).into_owned();
            appending.store(head.contains("comp=appendblock"), Ordering::SeqCst);
        }
        while paused(mode.load(Ordering::SeqCst)) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
