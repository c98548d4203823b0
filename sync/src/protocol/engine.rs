//! The session state machine (initiator) and the stateless responder.
//!
//! A session is a series of request/response round trips, each request carrying: the next batch
//! of the initiator's feed (documents in the responder's read scope whose heads differ from what
//! the responder is known to hold, as changes after those heads), re-sends the responder asked
//! for, acknowledgements of what the initiator merged from the previous response, and the pull
//! position in the responder's feed. The responder merges the pushed batch first and then reads
//! its feed, so changes it had that the initiator lacked come back in the same round trip.
//! Checkpoints advance in the same durable batch as the documents they cover.
//!
//! Pipelining: the initiator handles a response in two halves, [`Initiator::accept`] (decode,
//! stale and scope checks, the checkpoint update, and the batch to merge) and
//! [`Initiator::merged`] (folding in what the durable merge did: acknowledgements, re-pulls,
//! the checkpoint). When the response says the responder's feed has more and the next request
//! would carry nothing that depends on the merge (no push pending, no re-send), `accept` also
//! returns that next request, a pull from the new position, for the caller to send while the
//! merge runs: the responder builds the next batch (and the network carries it) while this node
//! merges the current one. The new position lives in memory only; the durable checkpoint still
//! moves in the merge's batch. Acknowledgements of a merge go in the first request built after
//! it. A merge that finds a pulled document missing dependencies supersedes the request sent
//! ahead: the initiator pulls again from before that document, and the answer to the request
//! sent ahead arrives stale and is ignored. At most one request is ever sent ahead of the merge
//! in progress, so a session holds at most two batches.

use super::frames::*;
use super::scope::{may_read, may_write};
use super::{
    ApplyBatch, ApplyOutcome, CheckpointUpdate, DocOutcome, Heads, NodeIdentity, PeerCheckpoint,
    PeerInfo, PullUpdate, Replica, SyncError,
};
use std::collections::{BTreeMap, VecDeque};
use uuid::Uuid;

/// How many feed entries are read from the replica at a time.
const FEED_CHUNK: usize = 512;
/// How many feed entries a responder scans for one response at most (skipped ones included).
const MAX_SCAN: usize = 100_000;
/// How often a document may come back "missing dependencies" before the session gives up.
const MAX_RESENDS: u32 = 2;

/// What the session did, for logs, metrics and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionReport {
    /// Documents pushed (re-sends included).
    pub sent_docs: usize,
    /// Documents pulled.
    pub received_docs: usize,
    /// Frames sent.
    pub frames_out: usize,
    /// Frames received.
    pub frames_in: usize,
    /// Bytes sent.
    pub bytes_out: usize,
    /// Bytes received.
    pub bytes_in: usize,
}

/// What to do after a frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// The next frame to send.
    pub send: Option<Vec<u8>>,
    /// The session is over.
    pub done: Option<SessionReport>,
}

/// What [`Initiator::accept`] made of a response.
#[derive(Debug)]
pub enum Accepted {
    /// A stale or duplicate response (of an earlier request, another session, or one already
    /// accepted): nothing to do, the session goes on.
    Ignored,
    /// A response to merge: run `merge` ([`Merge::run`]) and hand its result to
    /// [`Initiator::merged`]. `prefetch`, when present, is the next request, to send while the
    /// merge runs; whether its answer is the next frame to accept, [`Initiator::merged`] says.
    Merge {
        /// The durable merge of what the response carried.
        merge: Merge,
        /// The next request, sent ahead of the merge.
        prefetch: Option<Vec<u8>>,
    },
}

/// The durable merge of one accepted response (pulled documents, what the responder now holds,
/// the new checkpoint, in one [`Replica::apply`]); `None` inside when there is nothing to record.
#[derive(Debug)]
#[must_use = "a merge must run, and its result go back to the initiator"]
pub struct Merge {
    batch: Option<ApplyBatch>,
}

impl Merge {
    /// Runs the merge: one durable [`Replica::apply`], all or nothing. On an error the session is
    /// over, with nothing of this batch recorded.
    pub fn run(self, replica: &mut impl Replica) -> Result<Merged, SyncError> {
        let outcome = match self.batch {
            Some(batch) => replica.apply(batch)?,
            None => ApplyOutcome::default(),
        };
        Ok(Merged { outcome })
    }
}

/// What a [`Merge`] did, for [`Initiator::merged`].
#[derive(Debug)]
pub struct Merged {
    outcome: ApplyOutcome,
}

/// What to do after a merge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Send this request. If a request was sent ahead, it is superseded: its answer is stale
    /// (drop it, or [`Initiator::accept`] ignores it).
    Send(Vec<u8>),
    /// The answer to the request sent ahead (the `prefetch` of [`Accepted::Merge`]) is the next
    /// frame to accept.
    AwaitPrefetch,
    /// The session is over.
    Done(SessionReport),
}

/// An accepted response waiting for its merge's outcome.
#[derive(Debug)]
struct Pending {
    /// The checkpoint the merge's update applies to (the peer epoch seen included).
    base: PeerCheckpoint,
    update: CheckpointUpdate,
    pull: Option<PullUpdate>,
    more: bool,
    /// Whether the next request was sent ahead of this merge.
    prefetched: bool,
}

#[derive(Clone, Debug)]
struct InFlight {
    seq: Option<u64>,
    doc: Uuid,
    heads: Heads,
}

/// The initiating side of a session.
#[derive(Debug)]
pub struct Initiator {
    me: NodeIdentity,
    peer: PeerInfo,
    session: u64,
    n: u32,
    max_bytes: usize,
    checkpoint: PeerCheckpoint,
    /// Seq of the last feed entry read for pushing.
    push_cursor: u64,
    push_feed_done: bool,
    inflight: Vec<InFlight>,
    /// Documents the responder asked again for: (feed seq, doc).
    resend: VecDeque<(Option<u64>, Uuid)>,
    attempts: BTreeMap<Uuid, u32>,
    pull_since: PullSince,
    pull_done: bool,
    pull_attempts: BTreeMap<Uuid, u32>,
    acks: Vec<WireHeads>,
    report: SessionReport,
    finished: bool,
    /// Whether the answer to request `n` is still to come.
    awaiting: bool,
    /// The accepted response whose merge is under way.
    pending: Option<Pending>,
    /// The frame version this initiator writes ([`FRAME_V2`] until a peer refuses it).
    wire: u8,
    /// The first request in version 1, kept until the first answer in case the responder does
    /// not read version 2 ([`Initiator::downgrade`]).
    first_plain: Option<Vec<u8>>,
}

impl Initiator {
    /// Starts a session with `peer` (its scope comes from configuration); returns the first frame.
    /// `session` is any number that tells this session's frames from an earlier one's.
    pub fn new(
        replica: &impl Replica,
        peer: PeerInfo,
        session: u64,
    ) -> Result<(Self, Vec<u8>), SyncError> {
        Self::with_max_bytes(replica, peer, session, TARGET_FRAME_BYTES)
    }

    /// [`Initiator::new`] with another batch size.
    pub fn with_max_bytes(
        replica: &impl Replica,
        peer: PeerInfo,
        session: u64,
        max_bytes: usize,
    ) -> Result<(Self, Vec<u8>), SyncError> {
        Self::with_options(replica, peer, session, max_bytes, WIRE_VERSION)
    }

    /// [`Initiator::with_max_bytes`] writing frames of `version` ([`FRAME_V1`] for a peer known
    /// to read nothing else; [`FRAME_V2`] otherwise).
    pub fn with_options(
        replica: &impl Replica,
        peer: PeerInfo,
        session: u64,
        max_bytes: usize,
        version: u8,
    ) -> Result<(Self, Vec<u8>), SyncError> {
        let checkpoint = replica.peer_state(peer.node_id)?;
        let pull_since = PullSince {
            epoch: checkpoint.pull.map(|p| p.epoch),
            seq: checkpoint.pull.map_or(0, |p| p.seq),
        };
        let mut me = Initiator {
            me: replica.identity(),
            peer,
            session,
            n: 0,
            max_bytes: max_bytes.max(1024),
            push_cursor: checkpoint.push,
            checkpoint,
            push_feed_done: false,
            inflight: Vec::new(),
            resend: VecDeque::new(),
            attempts: BTreeMap::new(),
            pull_since,
            pull_done: false,
            pull_attempts: BTreeMap::new(),
            acks: Vec::new(),
            report: SessionReport::default(),
            finished: false,
            awaiting: false,
            pending: None,
            wire: if version == FRAME_V2 {
                FRAME_V2
            } else {
                FRAME_V1
            },
            first_plain: None,
        };
        let frame = me.next_request(replica)?;
        Ok((me, frame))
    }

    /// The report so far.
    pub fn report(&self) -> SessionReport {
        self.report
    }

    /// The frame version this initiator writes.
    pub fn frame_version(&self) -> u8 {
        self.wire
    }

    /// Falls back to frame version 1 after the responder refused the first request because it
    /// does not read version 2 (a peer from before version 2 answers "unknown encoding version
    /// 2" and applies nothing): returns the same request in version 1, to send instead. `None`
    /// when there is nothing to fall back from (already version 1, or the responder has answered
    /// a request of this session, so it reads version 2 and the refusal was something else).
    pub fn downgrade(&mut self) -> Option<Vec<u8>> {
        if self.wire != FRAME_V2 || self.report.frames_in > 0 {
            return None;
        }
        let frame = self.first_plain.take()?;
        self.wire = FRAME_V1;
        self.report.frames_out += 1;
        self.report.bytes_out += frame.len();
        Some(frame)
    }

    fn push_doc(
        &mut self,
        replica: &impl Replica,
        seq: Option<u64>,
        doc: Uuid,
        force_full: bool,
        out: &mut Vec<WireDoc>,
    ) -> Result<usize, SyncError> {
        let known = if force_full {
            None
        } else {
            replica.peer_heads(self.peer.node_id, doc)?
        };
        if !force_full {
            let heads = replica.heads(doc)?;
            if heads.is_none() || heads == known {
                return Ok(0);
            }
        }
        let Some(payload) = replica.payload(doc, known.as_ref())? else {
            return Ok(0);
        };
        if payload.changes.is_empty() {
            return Ok(0);
        }
        let wire = WireDoc::from_payload(payload);
        let size = wire.wire_size();
        self.inflight.push(InFlight {
            seq,
            doc,
            heads: heads_from_wire(&wire.heads),
        });
        out.push(wire);
        Ok(size)
    }

    fn next_request(&mut self, replica: &impl Replica) -> Result<Vec<u8>, SyncError> {
        let mut push = Vec::new();
        let mut bytes = 0usize;
        let peer_scope = self.peer.clone();
        let my_scope = self.me.info();
        while bytes < self.max_bytes {
            let Some((seq, doc)) = self.resend.pop_front() else {
                break;
            };
            let full = self.attempts.get(&doc).copied().unwrap_or(0) >= MAX_RESENDS;
            let before = push.len();
            bytes += self.push_doc(replica, seq, doc, full, &mut push)?;
            if push.len() == before {
                // Nothing left to send for it (e.g. the responder now holds all of it).
                continue;
            }
        }
        'feed: while bytes < self.max_bytes && !self.push_feed_done {
            let entries = replica.feed_since(self.push_cursor, FEED_CHUNK)?;
            if entries.is_empty() {
                self.push_feed_done = true;
                break;
            }
            for e in entries {
                if bytes >= self.max_bytes {
                    continue 'feed;
                }
                self.push_cursor = e.seq;
                if !(may_write(&my_scope, &e.meta) && may_read(&peer_scope, &e.meta)) {
                    continue;
                }
                bytes += self.push_doc(replica, Some(e.seq), e.doc, false, &mut push)?;
            }
        }
        self.report.sent_docs += push.len();
        self.n += 1;
        let req = SyncRequest {
            session: self.session,
            n: self.n,
            epoch: self.me.feed_epoch,
            push,
            acks: std::mem::take(&mut self.acks),
            pull: if self.pull_done {
                None
            } else {
                Some(self.pull_since)
            },
            max_bytes: u32::try_from(self.max_bytes).unwrap_or(u32::MAX),
        };
        let plain = encode_frame(&Frame::Request(req));
        let frame = if self.wire == FRAME_V2 {
            let f = to_v2(&plain);
            if self.n == 1 {
                self.first_plain = Some(plain);
            }
            f
        } else {
            plain
        };
        self.report.frames_out += 1;
        self.report.bytes_out += frame.len();
        self.awaiting = true;
        Ok(frame)
    }

    /// The push position that is safe to record: everything read from the feed is acknowledged,
    /// except documents waiting for a re-send.
    fn push_checkpoint(&self) -> u64 {
        let pending = self
            .resend
            .iter()
            .filter_map(|(s, _)| *s)
            .chain(self.inflight.iter().filter_map(|f| f.seq))
            .min();
        match pending {
            Some(s) => s.saturating_sub(1).max(self.checkpoint.push),
            None => self.push_cursor,
        }
    }

    /// Handles the responder's frame: merges what it carries durably and returns the next frame,
    /// or the end of the session. A stale duplicate of an earlier response is ignored. One step
    /// at a time: nothing is sent ahead of the merge (see [`Initiator::accept`] for that).
    pub fn on_frame(
        &mut self,
        frame: &[u8],
        replica: &mut impl Replica,
    ) -> Result<Step, SyncError> {
        let merge = match self.accept_with(frame, &*replica, false)? {
            Accepted::Ignored => return Ok(Step::default()),
            Accepted::Merge { merge, .. } => merge,
        };
        let merged = merge.run(replica)?;
        match self.merged(merged, &*replica)? {
            Next::Send(frame) => Ok(Step {
                send: Some(frame),
                done: None,
            }),
            Next::Done(report) => Ok(Step {
                send: None,
                done: Some(report),
            }),
            Next::AwaitPrefetch => Err(SyncError::UnexpectedFrame(
                "no request was sent ahead of the merge".into(),
            )),
        }
    }

    /// The first half of handling the responder's frame: decodes it, checks it (a stale or
    /// duplicate response is [`Accepted::Ignored`]; a pulled document outside the peer's write
    /// scope or this node's read scope refuses the whole frame) and returns the durable merge of
    /// what it carries, to run and hand to [`Initiator::merged`]. When the responder's feed has
    /// more and the next request depends on nothing the merge produces (this node has nothing
    /// left to push or re-send), also returns that request, to send while the merge runs.
    /// Only one response is accepted at a time: the next one after [`Initiator::merged`].
    pub fn accept(&mut self, frame: &[u8], replica: &impl Replica) -> Result<Accepted, SyncError> {
        self.accept_with(frame, replica, true)
    }

    fn accept_with(
        &mut self,
        frame: &[u8],
        replica: &impl Replica,
        prefetch: bool,
    ) -> Result<Accepted, SyncError> {
        let resp = match decode_frame(frame)? {
            Frame::Response(r) => r,
            Frame::Error(e) => {
                return Err(SyncError::Remote {
                    code: e.code,
                    message: e.message,
                })
            }
            Frame::Request(_) => {
                return Err(SyncError::UnexpectedFrame(
                    "a request sent to the initiator".into(),
                ))
            }
        };
        if self.finished || resp.session != self.session || resp.n < self.n || !self.awaiting {
            // A replayed or late frame of an earlier request or session, or a second copy of
            // one already accepted: merges are idempotent, but this state machine has moved on,
            // so it is dropped.
            return Ok(Accepted::Ignored);
        }
        if resp.n > self.n {
            return Err(SyncError::UnexpectedFrame(format!(
                "response {} to request {}",
                resp.n, self.n
            )));
        }
        if self.pending.is_some() {
            return Err(SyncError::UnexpectedFrame(
                "a response accepted before the previous batch was merged".into(),
            ));
        }
        if resp.pushed.len() != self.inflight.len() {
            return Err(SyncError::UnexpectedFrame(format!(
                "{} push results for {} pushed documents",
                resp.pushed.len(),
                self.inflight.len()
            )));
        }
        self.report.frames_in += 1;
        self.report.bytes_in += frame.len();
        self.first_plain = None;
        self.awaiting = false;

        // Push results: what the responder now holds.
        let mut learned = Vec::new();
        for (f, r) in std::mem::take(&mut self.inflight)
            .into_iter()
            .zip(resp.pushed)
        {
            match r {
                PushResult::Applied => learned.push((f.doc, f.heads)),
                PushResult::Missing(theirs) => {
                    let a = self.attempts.entry(f.doc).or_insert(0);
                    *a += 1;
                    if *a > MAX_RESENDS {
                        return Err(SyncError::Stuck(f.doc));
                    }
                    learned.push((f.doc, heads_from_wire(&theirs)));
                    self.resend.push_back((f.seq, f.doc));
                }
            }
        }

        // The pulled batch: scope first, then one durable apply with the checkpoint.
        let mut docs = Vec::new();
        let mut pull_update = None;
        let mut more = false;
        if let Some(batch) = resp.pull {
            let my_scope = self.me.info();
            for d in &batch.docs {
                let meta = d.doc.meta();
                if !(may_write(&self.peer, &meta) && may_read(&my_scope, &meta)) {
                    return Err(SyncError::OutOfScope {
                        doc: d.doc.doc,
                        kind: meta.kind,
                        call_center: meta.call_center,
                        peer: self.peer.node_id,
                    });
                }
            }
            let prev_seq = if self.pull_since.epoch == Some(batch.epoch) {
                self.pull_since.seq
            } else {
                0
            };
            pull_update = Some(PullUpdate {
                epoch: batch.epoch,
                prev_seq,
                next_seq: batch.next_seq.max(prev_seq),
                doc_seqs: batch.docs.iter().map(|d| d.seq).collect(),
            });
            more = batch.more;
            self.report.received_docs += batch.docs.len();
            docs = batch
                .docs
                .into_iter()
                .map(|d| d.doc.into_payload())
                .collect();
        } else if !self.pull_done {
            return Err(SyncError::UnexpectedFrame(
                "response without the pull batch asked for".into(),
            ));
        }
        let peer_epoch = pull_update.as_ref().map(|p| p.epoch);
        let base = match peer_epoch {
            Some(e) => self.checkpoint.with_peer_epoch(e),
            None => self.checkpoint,
        };
        // A peer restored from a backup may lack what it acknowledged: push everything again.
        let push = if peer_epoch.is_some_and(|e| self.checkpoint.peer_restarted(e)) {
            0
        } else {
            self.push_checkpoint()
        };
        let update = CheckpointUpdate {
            push,
            pull: pull_update.clone(),
        };
        let unchanged = update.resolve(&base, &ApplyOutcome::default()) == self.checkpoint;
        let batch = if docs.is_empty() && learned.is_empty() && unchanged {
            None
        } else {
            Some(ApplyBatch {
                peer: self.peer.node_id,
                peer_role: self.peer.role,
                local_role: self.me.role,
                docs,
                learned,
                checkpoint: Some(update.clone()),
                peer_epoch,
            })
        };

        // The next pull, sent ahead of the merge when it depends on nothing the merge produces:
        // a pull-only request from the new position (in memory only; the durable checkpoint
        // moves with the merge). It carries the acknowledgements of the previous merge, which
        // is durable by now.
        let push_idle = self.push_feed_done && self.resend.is_empty() && self.inflight.is_empty();
        let ahead = match &pull_update {
            Some(p) if prefetch && more && push_idle => {
                self.pull_since = PullSince {
                    epoch: Some(p.epoch),
                    seq: p.next_seq,
                };
                Some(self.next_request(replica)?)
            }
            _ => None,
        };
        self.pending = Some(Pending {
            base,
            update,
            pull: pull_update,
            more,
            prefetched: ahead.is_some(),
        });
        Ok(Accepted::Merge {
            merge: Merge { batch },
            prefetch: ahead,
        })
    }

    /// The second half of handling the responder's frame: folds in what the durable merge of
    /// the accepted response did (acknowledgements of what it merged, re-pulls of documents
    /// missing dependencies, the checkpoint) and says what comes next.
    pub fn merged(&mut self, merged: Merged, replica: &impl Replica) -> Result<Next, SyncError> {
        let Some(p) = self.pending.take() else {
            return Err(SyncError::UnexpectedFrame(
                "a merge outcome without an accepted response".into(),
            ));
        };
        let outcome = merged.outcome;
        self.checkpoint = p.update.resolve(&p.base, &outcome);

        let mut missing = false;
        if let Some(pull) = &p.pull {
            for (doc, o) in &outcome.docs {
                match o {
                    DocOutcome::Applied { heads } => self.acks.push(WireHeads {
                        doc: *doc,
                        heads: heads_to_wire(heads),
                    }),
                    DocOutcome::MissingDeps { heads } => {
                        missing = true;
                        let a = self.pull_attempts.entry(*doc).or_insert(0);
                        *a += 1;
                        if *a > MAX_RESENDS {
                            return Err(SyncError::Stuck(*doc));
                        }
                        // Tell the responder what we really hold, so it sends the rest.
                        self.acks.push(WireHeads {
                            doc: *doc,
                            heads: heads_to_wire(heads),
                        });
                    }
                }
            }
            if p.prefetched && !missing {
                // Everything merged: the request sent ahead pulls from where the checkpoint
                // now stands, and its answer comes next.
                debug_assert_eq!(
                    self.checkpoint.pull.map(|c| c.seq),
                    Some(self.pull_since.seq)
                );
                return Ok(Next::AwaitPrefetch);
            }
            // Pull again from the checkpoint: past this batch, or just before the first
            // document that missed dependencies (which supersedes a request sent ahead).
            let seq = self.checkpoint.pull.map_or(0, |c| c.seq);
            self.pull_since = PullSince {
                epoch: Some(pull.epoch),
                seq,
            };
            self.pull_done = !p.more && !missing;
        }

        let push_done = self.push_feed_done && self.resend.is_empty();
        if push_done && self.pull_done && self.acks.is_empty() {
            self.finished = true;
            return Ok(Next::Done(self.report));
        }
        Ok(Next::Send(self.next_request(replica)?))
    }
}

/// Answers a request frame from an authenticated peer: merges the pushed documents (all or
/// nothing; a document outside the peer's write scope or our read scope refuses the whole frame),
/// records the peer's acknowledgements, and returns the next batch of our feed for it, in the
/// frame version of the request (so a peer that writes version 1 reads version 1).
pub fn respond(
    replica: &mut impl Replica,
    peer: &PeerInfo,
    frame: &[u8],
) -> Result<Vec<u8>, SyncError> {
    let req = match decode_frame(frame)? {
        Frame::Request(r) => r,
        Frame::Response(_) => {
            return Err(SyncError::UnexpectedFrame(
                "a response sent to the responder".into(),
            ))
        }
        Frame::Error(e) => {
            return Err(SyncError::Remote {
                code: e.code,
                message: e.message,
            })
        }
    };
    let me = replica.identity();
    let my_scope = me.info();
    for d in &req.push {
        let meta = d.meta();
        if !(may_write(peer, &meta) && may_read(&my_scope, &meta)) {
            return Err(SyncError::OutOfScope {
                doc: d.doc,
                kind: meta.kind,
                call_center: meta.call_center,
                peer: peer.node_id,
            });
        }
    }
    let n_push = req.push.len();
    let learned: Vec<(Uuid, Heads)> = req
        .acks
        .iter()
        .map(|a| (a.doc, heads_from_wire(&a.heads)))
        .collect();
    let new_epoch = replica.peer_state(peer.node_id)?.peer_epoch != Some(req.epoch);
    let outcome = if n_push == 0 && learned.is_empty() && !new_epoch {
        ApplyOutcome::default()
    } else {
        replica.apply(ApplyBatch {
            peer: peer.node_id,
            peer_role: peer.role,
            local_role: me.role,
            docs: req.push.into_iter().map(WireDoc::into_payload).collect(),
            learned,
            checkpoint: None,
            peer_epoch: Some(req.epoch),
        })?
    };
    let pushed: Vec<PushResult> = outcome
        .docs
        .iter()
        .map(|(_, o)| match o {
            DocOutcome::Applied { .. } => PushResult::Applied,
            DocOutcome::MissingDeps { heads } => PushResult::Missing(heads_to_wire(heads)),
        })
        .collect();
    if pushed.len() != n_push {
        return Err(SyncError::Replica(super::ReplicaError::Store(format!(
            "apply returned {} outcomes for {n_push} documents",
            pushed.len()
        ))));
    }
    let budget = (req.max_bytes as usize).clamp(1024, TARGET_FRAME_BYTES * 4);
    let pull = match req.pull {
        None => None,
        Some(since) => Some(pull_batch(replica, &me, peer, since, budget)?),
    };
    let version = frame_version(frame).unwrap_or(FRAME_V1);
    Ok(encode_frame_as(
        &Frame::Response(SyncResponse {
            session: req.session,
            n: req.n,
            pushed,
            pull,
        }),
        version,
    ))
}

fn pull_batch(
    replica: &impl Replica,
    me: &NodeIdentity,
    peer: &PeerInfo,
    since: PullSince,
    budget: usize,
) -> Result<PullBatch, SyncError> {
    let my_scope = me.info();
    let mut seq = if since.epoch == Some(me.feed_epoch) {
        since.seq
    } else {
        0
    };
    let mut docs = Vec::new();
    let mut bytes = 0usize;
    let mut scanned = 0usize;
    let more = 'scan: loop {
        let entries = replica.feed_since(seq, FEED_CHUNK)?;
        if entries.is_empty() {
            break false;
        }
        for e in entries {
            if bytes >= budget || scanned >= MAX_SCAN {
                break 'scan true;
            }
            scanned += 1;
            if may_write(&my_scope, &e.meta) && may_read(peer, &e.meta) {
                let known = replica.peer_heads(peer.node_id, e.doc)?;
                let heads = replica.heads(e.doc)?;
                if heads.is_some() && heads != known {
                    if let Some(p) = replica.payload(e.doc, known.as_ref())? {
                        if !p.changes.is_empty() {
                            let w = WireDoc::from_payload(p);
                            let size = w.wire_size();
                            if bytes > 0 && bytes + size > budget {
                                break 'scan true;
                            }
                            bytes += size;
                            docs.push(PulledDoc { seq: e.seq, doc: w });
                        }
                    }
                }
            }
            seq = e.seq;
        }
    };
    Ok(PullBatch {
        epoch: me.feed_epoch,
        docs,
        next_seq: seq,
        more,
    })
}

/// [`respond`], with any error turned into an error frame for the initiator.
pub fn respond_or_error(replica: &mut impl Replica, peer: &PeerInfo, frame: &[u8]) -> Vec<u8> {
    match respond(replica, peer, frame) {
        Ok(f) => f,
        Err(e) => error_frame(session_of(frame), &e),
    }
}

fn session_of(frame: &[u8]) -> u64 {
    match decode_frame(frame) {
        Ok(Frame::Request(r)) => r.session,
        _ => 0,
    }
}

/// The error frame for an error.
pub fn error_frame(session: u64, e: &SyncError) -> Vec<u8> {
    let code = match e {
        SyncError::Frame(_) => ErrorCode::Malformed,
        SyncError::UnexpectedFrame(_) | SyncError::Remote { .. } => ErrorCode::Unexpected,
        SyncError::OutOfScope { .. } => ErrorCode::OutOfScope,
        SyncError::Replica(super::ReplicaError::Refused { .. }) | SyncError::Stuck(_) => {
            ErrorCode::Refused
        }
        SyncError::Replica(_) => ErrorCode::Internal,
    };
    encode_frame(&Frame::Error(ErrorFrame {
        session,
        code,
        message: e.to_string(),
    }))
}

#[cfg(test)]
mod tests;
