//! The shared incident log when the share misbehaves: it hangs instead of refusing, it
//! answers an append after drbook stopped waiting, a foreign writer left half a line, and
//! events trickle in one by one for hours (the append blob's 50,000-block budget).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::support::azurite::Azurite;
use crate::support::proxy::Proxy;
use drbook::blob::Store;
use drbook::incident::{Event, EventKind, Header, IncidentLog, Mode, Redactor, read_log};
use drbook::share::record::{Body, Record};
use drbook::share::sync::{self, Setup};
use drbook::share::{Me, ShareHandle, remote};
use tokio::sync::mpsc;

fn header() -> Header {
    Header {
        incident_id: "inc-faults".into(),
        title: "faults".into(),
        mode: Mode::Rehearsal,
        level: None,
        operators: vec!["alice".into()],
        drbook_version: "0.1.0".into(),
        target: "sim".into(),
        plan: None,
        runbooks: vec![],
        auto_approve: false,
        share: None,
        keyed: None,
    }
}

fn note(log: &mut IncidentLog, i: usize) -> Event {
    log.append(
        "alice",
        EventKind::Note {
            runbook: None,
            step: None,
            text: format!("note {i}"),
        },
    )
    .unwrap()
    .event
}

struct Writer {
    _dir: tempfile::TempDir,
    log: IncidentLog,
    sid: String,
    tx: mpsc::UnboundedSender<Event>,
    share: ShareHandle,
    screen: mpsc::UnboundedReceiver<Event>,
}

impl Writer {
    /// A local log with `n` notes and a syncer for it on `url`.
    fn start(url: &str, n: usize) -> Writer {
        Writer::start_with(url, n, sync::MAX_BLOCKS)
    }

    /// The same, its timeline blobs full at `blocks` blocks.
    fn start_with(url: &str, n: usize, blocks: u32) -> Writer {
        let dir = tempfile::tempdir().unwrap();
        let mut log =
            IncidentLog::create(dir.path(), header(), Redactor::new(Vec::<String>::new())).unwrap();
        for i in 0..n {
            note(&mut log, i);
        }
        let (history, _) = read_log(log.path()).unwrap();
        let sid = drbook::share::writer_id(&history);
        let store = Store::open(url, |_| None, || None)
            .unwrap()
            .without_retries();
        let (tx, local) = mpsc::unbounded_channel();
        let (fwd, screen) = mpsc::unbounded_channel();
        let share = sync::spawn(Setup {
            store,
            me: Me {
                sid: sid.clone(),
                op: "alice".into(),
                role: "operator".into(),
            },
            history,
            local,
            forward: Some(fwd),
            remote: None,
            mirror: None,
            blocks_per_blob: blocks,
        });
        Writer {
            _dir: dir,
            log,
            sid,
            tx,
            share,
            screen,
        }
    }

    /// Writes a note to the local log and hands it to the syncer, as the log writer does.
    fn note(&mut self, i: usize) -> Event {
        let e = note(&mut self.log, i);
        self.tx.send(e.clone()).unwrap();
        e
    }

    async fn online(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            {
                let v = self.share.view.borrow();
                if v.online && v.records > 0 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "the share never came online: {:?}",
            self.share.view.borrow()
        );
    }
}

async fn blob(az: &Azurite, prefix: &str) -> Vec<u8> {
    let store = Store::open(&az.url(prefix), |_| None, || None).unwrap();
    let name = store.loc.blob_name(sync::TIMELINE);
    let (bytes, _) = remote::read_from(&store, &name, 0)
        .await
        .unwrap()
        .expect("the timeline exists");
    bytes.to_vec()
}

/// This writer's event seqs on the blob, in blob order (lines that are not records skipped).
fn shared_seqs(bytes: &[u8], sid: &str) -> Vec<u64> {
    bytes
        .split(|b| *b == b'\n')
        .filter_map(|l| serde_json::from_slice::<Record>(l).ok())
        .filter(|r| r.sid == sid)
        .filter_map(|r| match r.body {
            Body::Event { seq, .. } => Some(seq),
            _ => None,
        })
        .collect()
}

fn assert_once_in_order(seqs: &[u64], last: u64) {
    let unique: BTreeSet<u64> = seqs.iter().copied().collect();
    assert_eq!(
        unique.len(),
        seqs.len(),
        "an event is shared twice: {seqs:?}"
    );
    assert_eq!(
        seqs,
        (1..=last).collect::<Vec<_>>(),
        "not every event once, in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_screen_sees_local_events_while_the_share_hangs() {
    let az = Azurite::start();
    let proxy = Proxy::start(az.port).await;
    let mut w = Writer::start(&proxy.url("drbook/hang"), 2);
    w.online().await;
    while w.screen.try_recv().is_ok() {}
    // The share stops answering (a partition, not a refusal): the syncer's next call waits
    // for its timeout. The screen must not wait with it.
    proxy.hang();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let e = w.note(2);
    let t = Instant::now();
    let seen = tokio::time::timeout(Duration::from_secs(20), w.screen.recv())
        .await
        .expect("the screen got the event at last")
        .unwrap();
    assert_eq!(seen, e);
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "the screen saw a local event {:?} late, behind a network call",
        t.elapsed()
    );
    proxy.pass();
    assert_eq!(w.share.flush(false, Duration::from_secs(30)).await, Some(0));
    assert_once_in_order(&shared_seqs(&blob(&az, "drbook/hang").await, &w.sid), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_the_share_does_not_answer_does_not_say_everything_is_shared() {
    let az = Azurite::start();
    let proxy = Proxy::start(az.port).await;
    let mut w = Writer::start(&proxy.url("drbook/silent"), 1);
    w.online().await;
    assert_eq!(w.share.flush(false, Duration::from_secs(10)).await, Some(0));
    proxy.hang();
    for i in 1..4 {
        w.note(i);
    }
    // The run ends now and waits two seconds for the share: three events are not on it.
    let left = w.share.flush(true, Duration::from_secs(2)).await;
    assert_ne!(
        left,
        Some(0),
        "three events are not shared, yet flush said none was left"
    );
    assert!(shared_seqs(&blob(&az, "drbook/silent").await, &w.sid).len() < 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_answered_after_the_timeout_is_shared_exactly_once() {
    let az = Azurite::start();
    let proxy = Proxy::start(az.port).await;
    let mut w = Writer::start(&proxy.url("drbook/late"), 1);
    w.online().await;
    // The appends reach the share, but their answers come after drbook stopped waiting.
    proxy.hold_append_answers();
    for i in 1..6 {
        w.note(i);
    }
    let deadline = Instant::now() + Duration::from_secs(25);
    while w.share.view.borrow().online && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!w.share.view.borrow().online, "the timeout was not noticed");
    let landed = shared_seqs(&blob(&az, "drbook/late").await, &w.sid);
    assert!(landed.len() > 2, "the appends did not land: {landed:?}");
    proxy.pass();
    for i in 6..8 {
        w.note(i);
    }
    assert_eq!(w.share.flush(false, Duration::from_secs(30)).await, Some(0));
    assert_once_in_order(&shared_seqs(&blob(&az, "drbook/late").await, &w.sid), 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_a_line_from_a_foreign_writer_neither_duplicates_nor_stops_the_syncer() {
    let az = Azurite::start();
    let url = az.url("drbook/foreign");
    let store = Store::open(&url, |_| None, || None)
        .unwrap()
        .without_retries();
    remote::ensure_container(&store).await.unwrap();
    let name = store.loc.blob_name(sync::TIMELINE);
    remote::ensure_append_blob(&store, &name).await.unwrap();
    let mut w = Writer::start(&url, 2);
    assert_eq!(w.share.flush(false, Duration::from_secs(20)).await, Some(0));
    // Mid-incident, something else appends half a line to the timeline.
    let (_, end) = remote::read_from(&store, &name, 0).await.unwrap().unwrap();
    let junk = bytes::Bytes::from_static(b"{\"a foreign tool wrote half a line");
    let at = remote::append_at(&store, &name, junk, &end).await.unwrap();
    assert!(matches!(at, remote::Appended::At(_)), "{at:?}");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    for i in 2..6 {
        w.note(i);
    }
    assert_eq!(w.share.flush(false, Duration::from_secs(20)).await, Some(0));
    assert_once_in_order(&shared_seqs(&blob(&az, "drbook/foreign").await, &w.sid), 7);
}

/// Mid-incident someone replaces the timeline with another blob of exactly the length the
/// syncer last read: the length condition alone would let the next block land after lines it
/// never read, with its own earlier events gone. The ETag condition refuses it; the syncer
/// reads the new blob from its start and shares everything of its own again, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeline_replaced_by_one_of_the_same_length_gets_every_event_again_once() {
    let az = Azurite::start();
    let url = az.url("drbook/replaced");
    let store = Store::open(&url, |_| None, || None)
        .unwrap()
        .without_retries();
    let mut w = Writer::start(&url, 2);
    w.online().await;
    assert_eq!(w.share.flush(false, Duration::from_secs(20)).await, Some(0));
    let name = store.loc.blob_name(sync::TIMELINE);
    let (before, end) = remote::read_from(&store, &name, 0).await.unwrap().unwrap();
    assert_once_in_order(&shared_seqs(&before, &w.sid), 3);

    let mut junk = vec![b' '; end.len as usize - 1];
    junk.push(b'\n');
    store
        .append_blob(&name)
        .unwrap()
        .create(None)
        .await
        .unwrap();
    let at = remote::append_at(&store, &name, junk.into(), &remote::End::default())
        .await
        .unwrap();
    assert!(
        matches!(&at, remote::Appended::At(e) if e.len == end.len),
        "{at:?}"
    );

    for i in 2..6 {
        w.note(i);
    }
    assert_eq!(w.share.flush(false, Duration::from_secs(20)).await, Some(0));
    let after = blob(&az, "drbook/replaced").await;
    assert!(
        after[..end.len as usize]
            .iter()
            .all(|b| b.is_ascii_whitespace())
    );
    assert_once_in_order(&shared_seqs(&after, &w.sid), 7);
}

/// The committed blocks of the timeline (an append blob holds at most 50,000).
async fn blocks(az: &Azurite, prefix: &str) -> i32 {
    segment_blocks(az, prefix, 0)
        .await
        .expect("the timeline exists")
}

/// The committed blocks of the timeline's `n`th blob, if there is one.
async fn segment_blocks(az: &Azurite, prefix: &str, n: u32) -> Option<i32> {
    use azure_storage_blob::models::BlobClientGetPropertiesResultHeaders;
    let store = Store::open(&az.url(prefix), |_| None, || None).unwrap();
    let name = store.loc.blob_name(&sync::segment_name(n));
    let props = store.blob(&name).unwrap().get_properties(None).await.ok()?;
    props.blob_committed_block_count().unwrap()
}

/// Every blob of the timeline, in order, joined.
async fn all_segments(az: &Azurite, prefix: &str) -> (Vec<u8>, u32) {
    let store = Store::open(&az.url(prefix), |_| None, || None).unwrap();
    let mut all = Vec::new();
    let mut n = 0;
    while let Some((bytes, _)) =
        remote::read_from(&store, &store.loc.blob_name(&sync::segment_name(n)), 0)
            .await
            .unwrap()
    {
        all.extend_from_slice(&bytes);
        n += 1;
    }
    (all, n)
}

/// An append blob takes 50,000 blocks: the timeline goes on in a next blob, and a next, each
/// writer moving on when it reads (or is told) that one is full, and whoever comes later reads
/// them all. Here a blob is full at 4 blocks, so two writers fill several.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_timeline_blob_goes_on_in_the_next_with_every_event_once() {
    let az = Azurite::start();
    let url = az.url("drbook/segments");
    let mut a = Writer::start_with(&url, 0, 4);
    let mut b = Writer::start_with(&url, 0, 4);
    a.online().await;
    b.online().await;
    let mut i = 0;
    for _ in 0..6 {
        for w in [&mut a, &mut b] {
            for _ in 0..3 {
                w.note(i);
                i += 1;
            }
            assert_eq!(w.share.flush(false, Duration::from_secs(20)).await, Some(0));
        }
    }
    for w in [&a, &b] {
        assert_eq!(w.share.flush(false, Duration::from_secs(20)).await, Some(0));
    }
    let (all, count) = all_segments(&az, "drbook/segments").await;
    assert!(count >= 4, "{count} blobs: the timeline never moved on");
    for n in 0..count {
        let used = segment_blocks(&az, "drbook/segments", n).await.unwrap_or(0);
        assert!(
            used <= 4,
            "blob {n} holds {used} blocks, past the 4 allowed"
        );
    }
    assert_once_in_order(&shared_seqs(&all, &a.sid), 19);
    assert_once_in_order(&shared_seqs(&all, &b.sid), 19);
    let records = all
        .split(|c| *c == b'\n')
        .filter(|l| serde_json::from_slice::<Record>(l).is_ok())
        .count();

    // Someone joining now reads every blob, and sees both writers' records.
    let c = Writer::start_with(&url, 0, 4);
    c.online().await;
    assert_eq!(c.share.flush(false, Duration::from_secs(20)).await, Some(0));
    let seen = c.share.view.borrow().records;
    // Everything before, plus what the newcomer wrote itself (its header and sign of life).
    assert!(
        seen >= records,
        "{seen} records read of the {records} there"
    );
    let (all, _) = all_segments(&az, "drbook/segments").await;
    let total = all
        .split(|c| *c == b'\n')
        .filter(|l| serde_json::from_slice::<Record>(l).is_ok())
        .count();
    assert_eq!(seen, total, "the newcomer did not read every blob");
    for w in [&a, &b] {
        assert_eq!(w.share.flush(false, Duration::from_secs(20)).await, Some(0));
        assert_eq!(
            w.share.view.borrow().records,
            total,
            "a writer missed records"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickle_of_events_is_shared_in_few_blocks() {
    let az = Azurite::start();
    let mut w = Writer::start(&az.url("drbook/trickle"), 0);
    w.online().await;
    // A command printing a line every 5 ms for three seconds: 600 events. At one block per
    // event, a day of such output would pass the blob's 50,000 blocks, after which every
    // append (and every claim) fails.
    let n = 600;
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    for i in 0..n {
        tick.tick().await;
        w.note(i);
    }
    assert_eq!(w.share.flush(false, Duration::from_secs(20)).await, Some(0));
    assert_once_in_order(
        &shared_seqs(&blob(&az, "drbook/trickle").await, &w.sid),
        n as u64 + 1,
    );
    let used = blocks(&az, "drbook/trickle").await;
    assert!(
        used <= 10,
        "{used} blocks for {n} events over 3 s: appends are not batched"
    );
}
