//! The syncer: one tokio task per drbook that copies the local log's events to the shared
//! append blob and reads everyone's records back.
//!
//! Exactly once, whatever fails: every append is conditional on the blob's length as last
//! read (`x-ms-blob-condition-appendpos`) and on its ETag then (`If-Match`), and what this writer has already shared is learnt
//! from the blob itself (the highest `seq` of its own records), never assumed. An append whose
//! answer was lost either landed, and then the length moved and the next read shows it, or
//! did not, and is sent again. The local log stays the source of truth: events queue in
//! memory while the share is down and go out when it is back.
//!
//! Claims are compare-and-append records on the same blob: a claim is appended only at the
//! position up to which this drbook has read and found no one else holding the step, so of
//! two operators racing for a step exactly one gets it. A step an operator ran without a
//! claim while the share was down is claimed when it is back; if someone else claimed it
//! meanwhile, both are told (a note in the incident log, shared like any event).

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot, watch};

use super::claims::{ClaimOutcome, Request};
use super::record::{Body, Record};
use super::remote::{self, Appended, End};
use drbook_azure::blob::{BlobError, Store};
use drbook_core::incident::Event;
use drbook_core::runbook::plan::StepKey;

/// The timeline's blob under the share's prefix.
pub const TIMELINE: &str = "timeline.jsonl";
/// An append blob holds at most this many blocks; then the timeline goes on in the next.
pub const MAX_BLOCKS: u32 = 50_000;

/// The name of the timeline's `n`th blob (from 0): `timeline.jsonl`, `timeline-2.jsonl`, ...
pub fn segment_name(n: u32) -> String {
    if n == 0 {
        TIMELINE.to_string()
    } else {
        format!("timeline-{}.jsonl", n + 1)
    }
}
/// A block stays well under the service's 4 MiB limit for old API versions.
const MAX_BLOCK: usize = 1 << 20;
/// Reads of the tail while nothing happens here.
const POLL: Duration = Duration::from_millis(700);
/// Local events go out at most this often (a claim or a flush does not wait): an append
/// blob holds at most 50,000 blocks, so a command printing a line every few milliseconds
/// must not take a block per event, or per round trip. One writer printing without a pause
/// fills at most 1,800 blocks an hour this way.
const BATCH_EVERY: Duration = Duration::from_secs(2);
/// No call waits longer than this: a share that does not answer is offline.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// A sign of life after this long without a record of ours.
const ALIVE_EVERY: Duration = Duration::from_secs(60);
/// Someone is online while their last record is younger than this.
pub const ONLINE_FOR: Duration = Duration::from_secs(150);

/// Who this drbook is on the share.
#[derive(Debug, Clone)]
pub struct Me {
    /// A stable id of the local log (its header's hash, shortened).
    pub sid: String,
    pub op: String,
    pub role: String,
}

/// Who holds a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub sid: String,
    pub op: String,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub op: String,
    pub role: String,
    pub last_seen: DateTime<Utc>,
    pub left: bool,
}

/// What the screen shows of the share.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShareView {
    /// The share's URL without any secret.
    pub url: String,
    pub online: bool,
    /// Why it is offline, when it is.
    pub problem: Option<String>,
    /// Local events not yet on the share.
    pub queued: usize,
    /// Records read from the share so far.
    pub records: usize,
    pub peers: BTreeMap<String, Peer>,
    pub holders: BTreeMap<StepKey, Holder>,
    pub me: String,
}

impl ShareView {
    /// Everyone seen recently (and not gone), this drbook included.
    pub fn online_peers(&self, now: DateTime<Utc>) -> Vec<&Peer> {
        self.peers
            .values()
            .filter(|p| {
                !p.left
                    && now - p.last_seen
                        < chrono::Duration::from_std(ONLINE_FOR).unwrap_or_default()
            })
            .collect()
    }
}

/// Someone else's record, for the screen's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteRecord {
    pub record: Record,
    /// The local event it carries, when it carries one.
    pub event: Option<Event>,
}

enum Command {
    Claim {
        key: StepKey,
        takeover: bool,
        reply: oneshot::Sender<ClaimOutcome>,
    },
    /// Where to send what others' records ask of this drbook's engine.
    Attach(mpsc::UnboundedSender<Request>),
    /// The local log, for the notes the syncer writes itself.
    AttachLog(drbook_core::incident::LogHandle),
    /// Share everything queued and read to the end, then answer how many are still queued.
    Flush {
        leave: bool,
        reply: oneshot::Sender<usize>,
    },
}

/// The handle the rest of drbook holds.
#[derive(Clone)]
pub struct ShareHandle {
    commands: mpsc::UnboundedSender<Command>,
    pub view: watch::Receiver<ShareView>,
}

impl std::fmt::Debug for ShareHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ShareHandle({})", self.view.borrow().url)
    }
}

impl ShareHandle {
    pub async fn claim(&self, key: StepKey, takeover: bool) -> ClaimOutcome {
        let (reply, rx) = oneshot::channel();
        if self
            .commands
            .send(Command::Claim {
                key,
                takeover,
                reply,
            })
            .is_err()
        {
            return ClaimOutcome::Offline("the share syncer has stopped".into());
        }
        rx.await
            .unwrap_or_else(|_| ClaimOutcome::Offline("the share syncer has stopped".into()))
    }

    /// The local log, for what the syncer itself has to record there.
    pub fn attach_log(&self, log: drbook_core::incident::LogHandle) {
        let _ = self.commands.send(Command::AttachLog(log));
    }

    /// What others' records ask of this drbook's engine: roles taken, a commander's approval
    /// of a step this drbook waits on.
    pub fn requests(&self) -> mpsc::UnboundedReceiver<Request> {
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = self.commands.send(Command::Attach(tx));
        rx
    }

    /// Shares what is queued, reads to the end, and (with `leave`) says goodbye; waits at
    /// most `limit`. Returns how many events are still not shared, or `None` when the syncer
    /// did not answer in time (then nobody knows: events handed over a moment ago may not
    /// even be counted yet).
    pub async fn flush(&self, leave: bool, limit: Duration) -> Option<usize> {
        let (reply, rx) = oneshot::channel();
        self.commands.send(Command::Flush { leave, reply }).ok()?;
        match tokio::time::timeout(limit, rx).await {
            Ok(Ok(n)) => Some(n),
            _ => None,
        }
    }
}

/// What `spawn` needs.
pub struct Setup {
    pub store: Store,
    pub me: Me,
    /// The local log's events so far (all of them: the syncer learns from the share which
    /// are already there).
    pub history: Vec<Event>,
    /// Every event appended to the local log from now on, once it is on disk.
    pub local: mpsc::UnboundedReceiver<Event>,
    /// Where the events go on to (the screen), as soon as they arrive, whatever the share is
    /// doing.
    pub forward: Option<mpsc::UnboundedSender<Event>>,
    /// Other people's records, for the screen.
    pub remote: Option<mpsc::UnboundedSender<RemoteRecord>>,
    /// A copy of the shared timeline as read, beside the local log.
    pub mirror: Option<PathBuf>,
    /// Blocks a timeline blob takes before the next one is started (`MAX_BLOCKS`).
    pub blocks_per_blob: u32,
}

pub fn spawn(mut setup: Setup) -> ShareHandle {
    let (commands, commands_rx) = mpsc::unbounded_channel();
    let (to_syncer, syncer_commands) = mpsc::unbounded_channel();
    let (events, syncer_events) = mpsc::unbounded_channel();
    let local = std::mem::replace(&mut setup.local, syncer_events);
    let forward = setup.forward.take();
    let view = ShareView {
        url: setup.store.loc.to_string(),
        me: setup.me.op.clone(),
        ..Default::default()
    };
    let (view_tx, view_rx) = watch::channel(view);
    let mut syncer = Syncer::new(setup, view_tx);
    tokio::spawn(relay(local, forward, commands_rx, events, to_syncer));
    tokio::spawn(async move { syncer.run(syncer_commands).await });
    ShareHandle {
        commands,
        view: view_rx,
    }
}

/// Hands each local event to the screen at once and to the syncer, which may be waiting on
/// the network for seconds. Commands pass through here too, after every event that came
/// before them, so a flush shares every event the log handed over before it was asked.
async fn relay(
    mut local: mpsc::UnboundedReceiver<Event>,
    forward: Option<mpsc::UnboundedSender<Event>>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<Event>,
    to_syncer: mpsc::UnboundedSender<Command>,
) {
    let mut events = Some(events);
    let mut to_syncer = Some(to_syncer);
    while events.is_some() || to_syncer.is_some() {
        tokio::select! {
            biased;
            ev = local.recv(), if events.is_some() => match ev {
                Some(ev) => {
                    if let Some(f) = &forward {
                        let _ = f.send(ev.clone());
                    }
                    if let Some(tx) = &events {
                        let _ = tx.send(ev);
                    }
                }
                None => events = None,
            },
            c = commands.recv(), if to_syncer.is_some() => match c {
                Some(c) => {
                    if let Some(tx) = &to_syncer {
                        let _ = tx.send(c);
                    }
                }
                None => to_syncer = None,
            },
        }
    }
}

struct Syncer {
    store: Store,
    /// The timeline's blob being read and appended to, and its number (from 0): a full one
    /// goes on in the next.
    blob: String,
    segment: u32,
    blocks_per_blob: u32,
    me: Me,
    /// Where the blob ends as far as we have read and applied it: its length, and its ETag
    /// when the service last told it (what the next append is conditional on).
    end: End,
    /// Bytes after the last newline read (a block is whole lines, so normally empty).
    partial: Vec<u8>,
    /// The highest `seq` of our own records on the blob.
    shared_seq: u64,
    /// Our local events, in `seq` order, not yet known to be on the blob.
    queue: VecDeque<(u64, Vec<u8>)>,
    /// Every local event, so a share that lost data can be refilled.
    all: Vec<(u64, Vec<u8>)>,
    /// The highest `seq` of the local events taken (the log hands them over in order).
    taken_seq: u64,
    local: mpsc::UnboundedReceiver<Event>,
    remote: Option<mpsc::UnboundedSender<RemoteRecord>>,
    mirror_path: Option<PathBuf>,
    mirror: Option<tokio::fs::File>,
    view: ShareView,
    view_tx: watch::Sender<ShareView>,
    ready: bool,
    retry_at: Option<Instant>,
    backoff: Duration,
    /// When the tail was last read, and our events last appended.
    last_sync: Option<Instant>,
    last_append: Option<Instant>,
    last_ours: Instant,
    local_open: bool,
    /// This drbook's engine, for what others' records ask of it.
    engine: Option<mpsc::UnboundedSender<Request>>,
    /// Roles others took, for an engine that attaches later.
    roles_seen: Vec<Request>,
    /// Steps this drbook ran without a claim while the share was down, and when: claimed on
    /// the share once our events before them are there.
    late_claims: VecDeque<(StepKey, DateTime<Utc>)>,
    /// The local log, for the notes the syncer itself writes (a claim that came too late).
    log: Option<drbook_core::incident::LogHandle>,
    /// Notes written before the log was attached.
    notes: Vec<drbook_core::incident::EventKind>,
}

impl Syncer {
    fn new(setup: Setup, view_tx: watch::Sender<ShareView>) -> Syncer {
        let view = view_tx.borrow().clone();
        let mut s = Syncer {
            blob: setup.store.loc.blob_name(TIMELINE),
            segment: 0,
            blocks_per_blob: setup.blocks_per_blob.max(1),
            store: setup.store,
            me: setup.me,
            end: End::default(),
            partial: Vec::new(),
            shared_seq: 0,
            queue: VecDeque::new(),
            all: Vec::new(),
            taken_seq: 0,
            local: setup.local,
            remote: setup.remote,
            mirror_path: setup.mirror,
            mirror: None,
            view,
            view_tx,
            ready: false,
            retry_at: None,
            backoff: Duration::from_millis(250),
            last_sync: None,
            last_append: None,
            last_ours: Instant::now(),
            local_open: true,
            engine: None,
            roles_seen: Vec::new(),
            late_claims: VecDeque::new(),
            log: None,
            notes: Vec::new(),
        };
        for ev in &setup.history {
            s.take_local(ev);
        }
        s
    }

    fn take_local(&mut self, ev: &Event) {
        self.taken_seq = self.taken_seq.max(ev.seq);
        if let drbook_core::incident::EventKind::StepClaimed {
            runbook,
            step,
            offline: true,
            ..
        } = &ev.kind
        {
            self.late_claims
                .push_back((StepKey::new(runbook.clone(), step.clone()), ev.ts));
        }
        if let Some(r) = Record::of_event(&self.me.sid, &self.me.op, &self.me.role, ev) {
            let line = r.line();
            self.all.push((ev.seq, line.clone()));
            if ev.seq > self.shared_seq {
                self.queue.push_back((ev.seq, line));
            }
        }
    }

    async fn run(&mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        self.publish();
        loop {
            let now = Instant::now();
            let wait = self.next_due(now).saturating_duration_since(now);
            tokio::select! {
                biased;
                c = commands.recv() => match c {
                    Some(c) => self.command(c).await,
                    None => break,
                },
                ev = self.local.recv(), if self.local_open => match ev {
                    Some(ev) => {
                        self.take_local(&ev);
                        // Take whatever else is already here, then share it in one block.
                        while let Ok(ev) = self.local.try_recv() {
                            self.take_local(&ev);
                        }
                    }
                    None => self.local_open = false,
                },
                _ = tokio::time::sleep(wait) => {}
            }
            let now = Instant::now();
            if now >= self.next_due(now) {
                let _ = self.sync(false).await;
            }
            self.publish();
        }
    }

    async fn command(&mut self, c: Command) {
        match c {
            Command::Claim {
                key,
                takeover,
                reply,
            } => {
                let outcome = self.claim(key, takeover).await;
                self.publish();
                let _ = reply.send(outcome);
            }
            Command::Attach(tx) => {
                // The roles others took before the engine asked.
                for c in &self.roles_seen {
                    let _ = tx.send(c.clone());
                }
                self.engine = Some(tx);
            }
            Command::AttachLog(log) => {
                self.log = Some(log);
                for note in std::mem::take(&mut self.notes) {
                    self.write_note(note).await;
                }
            }
            Command::Flush { leave, reply } => {
                // Take what the local log has already handed over.
                while let Ok(ev) = self.local.try_recv() {
                    self.take_local(&ev);
                }
                self.retry_at = None;
                let mut ok = self.sync(true).await.is_ok();
                if ok && leave {
                    let rec = self.record(Body::Left { ts: Utc::now() });
                    ok = self.append_record(rec).await.is_ok();
                }
                let _ = ok;
                self.publish();
                let _ = reply.send(self.queue.len());
            }
        }
    }

    fn record(&self, body: Body) -> Record {
        Record {
            sid: self.me.sid.clone(),
            op: self.me.op.clone(),
            role: self.me.role.clone(),
            body,
        }
    }

    fn publish(&mut self) {
        self.view.queued = self.queue.len();
        let _ = self.view_tx.send(self.view.clone());
    }

    fn offline(&mut self, e: &BlobError) {
        self.view.online = false;
        self.view.problem = Some(e.to_string());
        self.retry_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(Duration::from_secs(5));
    }

    fn online(&mut self) {
        self.view.online = true;
        self.view.problem = None;
        self.retry_at = None;
        self.backoff = Duration::from_millis(250);
    }

    /// When the loop next reads the tail (or appends what is queued, or tries again).
    fn next_due(&self, now: Instant) -> Instant {
        if let Some(t) = self.retry_at {
            return t;
        }
        let read = self.last_sync.map_or(now, |t| t + POLL);
        if self.queue.is_empty() {
            read
        } else {
            read.min(self.append_due(now))
        }
    }

    fn append_due(&self, now: Instant) -> Instant {
        self.last_append.map_or(now, |t| t + BATCH_EVERY)
    }

    /// Reads what is new, then shares what is queued (unless `force`, at most every
    /// `BATCH_EVERY`); on any failure the share is offline until the next try.
    async fn sync(&mut self, force: bool) -> Result<(), BlobError> {
        let r = self.sync_inner(force).await;
        match &r {
            Ok(()) => self.online(),
            Err(e) => self.offline(e),
        }
        r
    }

    async fn sync_inner(&mut self, force: bool) -> Result<(), BlobError> {
        self.prepare().await?;
        self.read_tail().await?;
        self.last_sync = Some(Instant::now());
        let now = Instant::now();
        if !force && now < self.append_due(now) {
            return Ok(());
        }
        self.share_queue().await?;
        if self.claim_late().await? {
            // The notes it wrote go out with this sync too.
            self.share_queue().await?;
        }
        if self.last_ours.elapsed() >= ALIVE_EVERY {
            let rec = self.record(Body::Alive { ts: Utc::now() });
            self.append_record(rec).await?;
        }
        Ok(())
    }

    /// Appends what is queued, in blocks, each at the length last read.
    async fn share_queue(&mut self) -> Result<(), BlobError> {
        while !self.queue.is_empty() {
            let (block, last_seq) = self.next_block();
            let block = self.framed(block);
            match self.append(block.clone()).await? {
                Appended::At(end) => {
                    self.last_append = Some(Instant::now());
                    self.apply_bytes(&block, end).await;
                    // The block is in, whether or not its lines read back as ours.
                    self.mark_shared(last_seq);
                }
                Appended::Moved => self.read_tail_or_reset().await?,
                Appended::Missing => self.recreate().await?,
                Appended::Full => self.on_full().await?,
            }
        }
        Ok(())
    }

    async fn prepare(&mut self) -> Result<(), BlobError> {
        if self.ready {
            return Ok(());
        }
        timed(
            remote::ensure_container(&self.store),
            &self.store,
            "create the container",
        )
        .await?;
        timed(
            remote::ensure_append_blob(&self.store, &self.blob),
            &self.store,
            "create the timeline",
        )
        .await?;
        if self.mirror.is_none()
            && let Some(p) = &self.mirror_path
        {
            self.mirror = tokio::fs::File::create(p).await.ok();
        }
        let first = self.end.len == 0 && self.view.records == 0;
        self.ready = true;
        if first {
            self.read_tail().await?;
            let rec = self.record(Body::Alive { ts: Utc::now() });
            self.append_record(rec).await?;
        }
        Ok(())
    }

    /// Our events up to `seq` are on the blob.
    fn mark_shared(&mut self, seq: u64) {
        self.shared_seq = self.shared_seq.max(seq);
        while self
            .queue
            .front()
            .is_some_and(|(s, _)| *s <= self.shared_seq)
        {
            self.queue.pop_front();
        }
    }

    /// `block` as it must go on the blob: after a newline when the blob ends in the middle of
    /// a line (someone else's half line), so our first record is a line of its own.
    fn framed(&self, block: Bytes) -> Bytes {
        if self.partial.is_empty() {
            block
        } else {
            let mut v = Vec::with_capacity(block.len() + 1);
            v.push(b'\n');
            v.extend_from_slice(&block);
            Bytes::from(v)
        }
    }

    /// Our queued records, as many as fit a block, in order.
    fn next_block(&self) -> (Bytes, u64) {
        let mut block = Vec::new();
        let mut last = 0;
        for (seq, line) in &self.queue {
            if !block.is_empty() && block.len() + line.len() > MAX_BLOCK {
                break;
            }
            block.extend_from_slice(line);
            last = *seq;
        }
        (Bytes::from(block), last)
    }

    /// Appends at the end as last read, in the next blob when this one is full.
    async fn append(&mut self, block: Bytes) -> Result<Appended, BlobError> {
        if self.full() {
            self.next_segment().await?;
        }
        timed(
            remote::append_at(&self.store, &self.blob, block, &self.end),
            &self.store,
            "append to the timeline",
        )
        .await
    }

    /// Appends one record of ours (a claim, a sign of life) at the end as we know it.
    async fn append_record(&mut self, rec: Record) -> Result<bool, BlobError> {
        let line = self.framed(Bytes::from(rec.line()));
        match self.append(line.clone()).await? {
            Appended::At(end) => {
                self.apply_bytes(&line, end).await;
                Ok(true)
            }
            Appended::Moved => {
                self.read_tail_or_reset().await?;
                Ok(false)
            }
            Appended::Missing => {
                // The next sync makes it again (and finds out what it lost).
                self.ready = false;
                Ok(false)
            }
            Appended::Full => {
                self.on_full().await?;
                Ok(false)
            }
        }
    }

    /// The blob we append to is not there: made again, and if it held what we had read (it
    /// was deleted), everything is read again from the first.
    async fn recreate(&mut self) -> Result<(), BlobError> {
        self.ready = false;
        self.prepare().await?;
        if self.end.len > 0 {
            self.read_tail_or_reset().await?;
        }
        Ok(())
    }

    fn full(&self) -> bool {
        self.end.blocks.is_some_and(|b| b >= self.blocks_per_blob)
    }

    /// The service says the blob is full: what others wrote last is read (which moves on
    /// when it shows the count), else we move on ourselves.
    async fn on_full(&mut self) -> Result<(), BlobError> {
        let segment = self.segment;
        self.read_tail().await?;
        if self.segment == segment {
            self.end.blocks = Some(self.blocks_per_blob);
            self.next_segment().await?;
        }
        Ok(())
    }

    /// The blob is full: the timeline goes on in the next one, which whoever gets there
    /// first creates (`If-None-Match: *`, so no one replaces it).
    async fn next_segment(&mut self) -> Result<(), BlobError> {
        if !self.partial.is_empty() {
            // Someone's unfinished line ends the blob: the mirror keeps it a line of its own.
            self.partial.clear();
            if let Some(m) = &mut self.mirror {
                let _ = m.write_all(b"\n").await;
            }
        }
        self.segment += 1;
        self.blob = self.store.loc.blob_name(&segment_name(self.segment));
        self.end = End::default();
        timed(
            remote::ensure_append_blob(&self.store, &self.blob),
            &self.store,
            "start the next timeline blob",
        )
        .await
    }

    /// Reads what is new, on through the next blobs while the one read is full; says whether
    /// there was anything.
    async fn read_tail(&mut self) -> Result<bool, BlobError> {
        let mut any = false;
        loop {
            let got = timed(
                remote::read_from(&self.store, &self.blob, self.end.len),
                &self.store,
                "read the timeline",
            )
            .await?;
            match got {
                Some((bytes, end)) if !bytes.is_empty() => {
                    self.apply_bytes(&bytes, end).await;
                    any = true;
                }
                Some(_) => {}
                None => {
                    self.ready = false;
                    return Ok(any);
                }
            }
            if !self.full() {
                return Ok(any);
            }
            self.next_segment().await?;
        }
    }

    /// After a lost race: read what the others wrote. When there is nothing new although the
    /// append was refused, the blob is not the one we read: shorter (the service lost data),
    /// or another of the same length, or changed (its ETag moved): start again from its
    /// beginning and share again whatever of ours is missing.
    async fn read_tail_or_reset(&mut self) -> Result<(), BlobError> {
        if self.read_tail().await? {
            return Ok(());
        }
        self.segment = 0;
        self.blob = self.store.loc.blob_name(TIMELINE);
        self.end = End::default();
        self.partial.clear();
        self.shared_seq = 0;
        self.view.records = 0;
        self.view.holders.clear();
        self.view.peers.clear();
        self.queue = self.all.iter().cloned().collect();
        if let Some(p) = &self.mirror_path {
            self.mirror = tokio::fs::File::create(p).await.ok();
        }
        self.read_tail().await.map(|_| ())
    }

    /// Applies bytes read from (or appended to) the blob at its end as we knew it; `after` is
    /// what the service told of the blob after them (no ETag: the next append then rests on
    /// the length alone).
    async fn apply_bytes(&mut self, bytes: &[u8], after: End) {
        self.end.len += bytes.len() as u64;
        self.end.etag = after.etag;
        self.end.blocks = after.blocks;
        if let Some(m) = &mut self.mirror {
            let _ = m.write_all(bytes).await;
            let _ = m.flush().await;
        }
        self.partial.extend_from_slice(bytes);
        let Some(end) = memchr::memrchr(b'\n', &self.partial) else {
            return;
        };
        let rest = self.partial.split_off(end + 1);
        let whole = std::mem::replace(&mut self.partial, rest);
        for line in whole.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            // A line that is not a record (a foreign writer) is kept in the mirror and skipped.
            if let Ok(rec) = serde_json::from_slice::<Record>(line) {
                self.apply(rec);
            }
        }
    }

    fn apply(&mut self, rec: Record) {
        self.view.records += 1;
        let ts = rec.ts().unwrap_or_else(Utc::now);
        let peer = self.view.peers.entry(rec.sid.clone()).or_insert(Peer {
            op: rec.op.clone(),
            role: rec.role.clone(),
            last_seen: ts,
            left: false,
        });
        peer.last_seen = peer.last_seen.max(ts);
        peer.role = rec.role.clone();
        peer.left = matches!(rec.body, Body::Left { .. });
        let ours = rec.sid == self.me.sid;
        if ours {
            self.last_ours = Instant::now();
        }
        match &rec.body {
            Body::Event { seq, .. } if ours => self.mark_shared(*seq),
            Body::Claim {
                runbook, step, ts, ..
            } => {
                self.view.holders.insert(
                    StepKey::new(runbook.clone(), step.clone()),
                    Holder {
                        sid: rec.sid.clone(),
                        op: rec.op.clone(),
                        since: *ts,
                    },
                );
            }
            _ => {}
        }
        if ours {
            return;
        }
        let event = rec.event();
        if let Some(c) = event.as_ref().and_then(|ev| request_for(&rec, ev)) {
            if matches!(c, Request::TakeRole { .. }) {
                self.roles_seen.push(c.clone());
            }
            if let Some(tx) = &self.engine {
                let _ = tx.send(c);
            }
        }
        if let Some(tx) = &self.remote {
            let _ = tx.send(RemoteRecord { record: rec, event });
        }
    }

    /// Claims, now that the share answers, the steps run without a claim while it did not
    /// (our events up to then are on the blob already). Someone who claimed such a step
    /// meanwhile may have run it too: that is said in a note, for both to see. Returns
    /// whether it wrote a note (queued to be shared).
    async fn claim_late(&mut self) -> Result<bool, BlobError> {
        let mut noted = false;
        while let Some((key, ts)) = self.late_claims.front().cloned() {
            let other = match self.view.holders.get(&key) {
                Some(h) if h.sid == self.me.sid => {
                    // Claimed already (before a crash or a resume).
                    self.late_claims.pop_front();
                    continue;
                }
                other => other.cloned(),
            };
            let rec = self.record(Body::Claim {
                runbook: key.runbook.clone(),
                step: key.step.clone(),
                from: other.as_ref().map(|h| h.op.clone()),
                ts,
            });
            if !self.append_record(rec).await? {
                if !self.ready {
                    return Ok(noted); // the blob is gone: the next sync makes it again
                }
                continue; // someone wrote first: decide again on what they wrote
            }
            self.late_claims.pop_front();
            if let Some(h) = other {
                let text = format!(
                    "{me} ran {key} without a claim while the share was offline, but {h} had \
                     claimed it at {since} UTC: check with {h} that it was not carried out twice",
                    me = self.me.op,
                    h = h.op,
                    since = h.since.format("%H:%M:%S"),
                );
                self.write_note(drbook_core::incident::EventKind::Note {
                    runbook: Some(key.runbook),
                    step: Some(key.step),
                    text,
                })
                .await;
                noted = true;
            }
        }
        Ok(noted)
    }

    /// Writes a note of the syncer's own in the local log, and waits for the tap to bring it
    /// (with every event before it, in order) so that it is queued to be shared; kept until
    /// the log is attached.
    async fn write_note(&mut self, note: drbook_core::incident::EventKind) {
        let Some(log) = self.log.clone() else {
            self.notes.push(note);
            return;
        };
        // A log that cannot be written has stopped the run already, and said why.
        let Ok(a) = log.append("drbook", note).await else {
            return;
        };
        let deadline = tokio::time::Instant::now() + CALL_TIMEOUT;
        while self.local_open && self.taken_seq < a.seq {
            match tokio::time::timeout_at(deadline, self.local.recv()).await {
                Ok(Some(ev)) => self.take_local(&ev),
                Ok(None) => self.local_open = false,
                Err(_) => break,
            }
        }
    }

    async fn claim(&mut self, key: StepKey, takeover: bool) -> ClaimOutcome {
        for _ in 0..50 {
            self.retry_at = None;
            if let Err(e) = self.sync(true).await {
                // What was last read still stands: a step someone held then is theirs until
                // the share says otherwise (and a takeover needs the share).
                return match self.view.holders.get(&key) {
                    Some(h) if h.sid == self.me.sid => ClaimOutcome::Granted { from: None },
                    Some(h) if !takeover => ClaimOutcome::HeldBy(h.clone()),
                    _ => ClaimOutcome::Offline(e.to_string()),
                };
            }
            let from = match self.view.holders.get(&key) {
                Some(h) if h.sid == self.me.sid => return ClaimOutcome::Granted { from: None },
                Some(h) if !takeover => return ClaimOutcome::HeldBy(h.clone()),
                Some(h) => Some(h.op.clone()),
                None => None,
            };
            let rec = self.record(Body::Claim {
                runbook: key.runbook.clone(),
                step: key.step.clone(),
                from: from.clone(),
                ts: Utc::now(),
            });
            match self.append_record(rec).await {
                Ok(true) => return ClaimOutcome::Granted { from },
                // Someone wrote first: read what they wrote and decide again.
                Ok(false) => continue,
                Err(e) => {
                    self.offline(&e);
                    return ClaimOutcome::Offline(e.to_string());
                }
            }
        }
        ClaimOutcome::Offline("the timeline kept moving: try again".into())
    }
}

/// What someone else's event asks of this drbook's engine: the role they took, and an
/// approval a commander gave, each only as written by that person's own drbook (another
/// drbook records what it received, and passing that on would echo it back and forth).
fn request_for(rec: &Record, ev: &Event) -> Option<Request> {
    use drbook_core::incident::EventKind;
    match &ev.kind {
        EventKind::RoleTaken { operator, role }
            if drbook_core::roles::same_person(operator, &rec.op) =>
        {
            Some(Request::TakeRole {
                who: operator.clone(),
                role: *role,
            })
        }
        EventKind::Approved {
            runbook,
            step,
            by,
            role,
            approved,
            keyboard: None,
        } if drbook_core::roles::same_person(by, &rec.op) => Some(Request::Approve {
            key: StepKey::new(runbook.clone(), step.clone()),
            by: by.clone(),
            role: *role,
            yes: *approved,
        }),
        _ => None,
    }
}

async fn timed<T>(
    f: impl std::future::Future<Output = Result<T, BlobError>>,
    store: &Store,
    what: &str,
) -> Result<T, BlobError> {
    match tokio::time::timeout(CALL_TIMEOUT, f).await {
        Ok(r) => r,
        Err(_) => Err(BlobError::Call {
            what: what.into(),
            url: store.loc.to_string(),
            reason: format!("no answer within {}s", CALL_TIMEOUT.as_secs()),
        }),
    }
}
