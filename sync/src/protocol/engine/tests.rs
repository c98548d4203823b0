//! Pipelined sessions ([`Initiator::accept`] / [`Initiator::merged`]) against one step at a time
//! ([`Initiator::on_frame`]), over in-memory replicas: an empty HQ catching up with a site.
//! The pipelined driver here takes the worst interleaving: the responder answers the request
//! sent ahead before the merge of the previous batch is durable.

use super::*;
use crate::doc::{self, Author};
use crate::protocol::mem::MemReplica;
use crate::protocol::{DocPayload, FeedEntry, ReplicaError, Role};
use automerge::ActorId;
use std::collections::BTreeMap;
use switchboard_domain::commands::OrderEvent;
use switchboard_domain::ids::{NoteId, UserId};
use switchboard_domain::order::Note;
use switchboard_domain::{NodeId, Timestamp};

/// Small batches: several frames for a few dozen orders.
const SMALL_FRAMES: usize = 8 * 1024;

use crate::protocol::test_fixtures::{identity, order, stamp};

fn site_author(site: &MemReplica) -> Author {
    Author {
        actor: site.actor(),
        user: UserId(Uuid::from_u128(1)),
        node: site.identity().node_id,
        now: Timestamp::from_millis(1_780_000_000_000),
    }
}

/// Stores orders `from..to` at the site, one change each.
fn add_orders(site: &mut MemReplica, from: u128, to: u128) {
    let author = site_author(site);
    for i in from..to {
        let o = order(i);
        let d = doc::create_order_doc(&o, &author).expect("order doc");
        site.put(o.id.0, &d).expect("put");
    }
}

/// A note on a stored order, as a second change; returns the heads before it.
fn add_note(site: &mut MemReplica, id: Uuid) -> Heads {
    let before = site.heads(id).expect("read").expect("held");
    let mut d = site.load(id).expect("held");
    let ev = OrderEvent::NoteAdded(Note {
        id: NoteId(Uuid::from_u128(9 << 64)),
        added: stamp(),
        text: "call back".into(),
    });
    doc::apply_order_event(&mut d, &ev, &site_author(site)).expect("note");
    site.put(id, &d).expect("put");
    before
}

/// A site holding `n` orders and an empty HQ.
fn site_and_hq(n: u128) -> (MemReplica, MemReplica) {
    let mut site = MemReplica::new(identity("site", Role::Site), ActorId::from(vec![2u8; 16]));
    add_orders(&mut site, 0, n);
    let hq = MemReplica::new(identity("hq", Role::Hq), ActorId::from(vec![1u8; 16]));
    (site, hq)
}

/// A session one step at a time: `init` initiates, `peer` answers.
fn sequential(
    init: &mut impl Replica,
    peer: &mut MemReplica,
    max_bytes: usize,
) -> Result<SessionReport, SyncError> {
    let init_info = init.identity().info();
    let (mut s, mut frame) =
        Initiator::with_max_bytes(&*init, peer.identity().info(), 1, max_bytes)?;
    for _ in 0..1000 {
        let answer = respond(peer, &init_info, &frame)?;
        let step = s.on_frame(&answer, init)?;
        if let Some(r) = step.done {
            return Ok(r);
        }
        frame = step.send.expect("a next frame");
    }
    panic!("the session did not end");
}

/// A pipelined session; also returns how many requests were sent ahead of a merge.
fn pipelined(
    init: &mut impl Replica,
    peer: &mut MemReplica,
    max_bytes: usize,
) -> Result<(SessionReport, usize), SyncError> {
    let init_info = init.identity().info();
    let (mut s, frame) = Initiator::with_max_bytes(&*init, peer.identity().info(), 1, max_bytes)?;
    let mut answer = respond(peer, &init_info, &frame)?;
    let mut ahead_count = 0;
    for _ in 0..1000 {
        let (merge, prefetch) = match s.accept(&answer, &*init)? {
            Accepted::Merge { merge, prefetch } => (merge, prefetch),
            Accepted::Ignored => panic!("a fresh answer ignored"),
        };
        // While the merge has not run yet, the responder builds the next batch.
        let ahead = match prefetch {
            Some(f) => {
                ahead_count += 1;
                Some(respond(peer, &init_info, &f)?)
            }
            None => None,
        };
        // One response at a time: the answer sent ahead waits for the merge.
        if let Some(a) = &ahead {
            assert!(matches!(
                s.accept(a, &*init),
                Err(SyncError::UnexpectedFrame(_))
            ));
        }
        let merged = merge.run(init)?;
        match s.merged(merged, &*init)? {
            Next::Done(r) => return Ok((r, ahead_count)),
            Next::Send(f) => {
                // A superseded request's answer is stale.
                if let Some(a) = &ahead {
                    assert!(matches!(s.accept(a, &*init)?, Accepted::Ignored));
                }
                answer = respond(peer, &init_info, &f)?;
            }
            Next::AwaitPrefetch => answer = ahead.expect("a request was sent ahead"),
        }
    }
    panic!("the session did not end");
}

/// What a catch-up leaves: HQ's documents and heads, its checkpoint for the site, and what the
/// site knows HQ holds.
type EndState = (
    BTreeMap<Uuid, Option<Heads>>,
    PeerCheckpoint,
    BTreeMap<Uuid, Option<Heads>>,
);

fn end_state(hq: &MemReplica, site: &MemReplica) -> EndState {
    let site_id = site.identity().node_id;
    let hq_id = hq.identity().node_id;
    let docs = site.doc_ids();
    (
        docs.iter()
            .map(|d| (*d, hq.heads(*d).expect("read")))
            .collect(),
        hq.peer_state(site_id).expect("read"),
        docs.iter()
            .map(|d| (*d, site.peer_heads(hq_id, *d).expect("read")))
            .collect(),
    )
}

fn assert_caught_up(hq: &MemReplica, site: &MemReplica) {
    let (held, checkpoint, known) = end_state(hq, site);
    for (doc, heads) in &held {
        let theirs = site.heads(*doc).expect("read");
        assert_eq!(heads, &theirs, "HQ holds what the site holds");
        assert_eq!(known[doc], theirs, "the site knows what HQ holds");
    }
    assert_eq!(
        checkpoint.pull.map(|p| p.seq),
        Some(site.feed_seq()),
        "HQ's checkpoint covers the site's whole feed"
    );
}

#[test]
fn a_pipelined_catch_up_ends_as_one_run_step_by_step() {
    let (mut site_a, mut hq_a) = site_and_hq(60);
    let (mut site_b, mut hq_b) = (site_a.clone(), hq_a.clone());
    let one = sequential(&mut hq_a, &mut site_a, SMALL_FRAMES).expect("sequential");
    let (two, ahead) = pipelined(&mut hq_b, &mut site_b, SMALL_FRAMES).expect("pipelined");
    assert!(one.frames_out >= 5, "several frames: {one:?}");
    // Every pull but the last was sent ahead of the previous merge.
    assert_eq!(ahead, two.frames_out - 2, "{two:?}");
    // Same round trips, documents and answers (requests carry the same acknowledgements, a
    // request later); same end state.
    let counts = |r: &SessionReport| {
        (
            r.frames_out,
            r.frames_in,
            r.sent_docs,
            r.received_docs,
            r.bytes_in,
        )
    };
    assert_eq!(counts(&one), counts(&two));
    assert_eq!(end_state(&hq_a, &site_a), end_state(&hq_b, &site_b));
    assert_caught_up(&hq_b, &site_b);
    // Then a no-op session is one round trip, nothing sent ahead, both ways.
    let (r, ahead) = pipelined(&mut hq_b, &mut site_b, SMALL_FRAMES).expect("no-op");
    assert_eq!(
        (r.frames_out, r.frames_in, r.received_docs, ahead),
        (1, 1, 0, 0)
    );
    let (r, ahead) = pipelined(&mut site_b, &mut hq_b, SMALL_FRAMES).expect("no-op");
    assert_eq!(
        (r.frames_out, r.frames_in, r.sent_docs, ahead),
        (1, 1, 0, 0)
    );
    // A site that only pushes: one round trip.
    add_orders(&mut site_b, 100, 103);
    let (r, ahead) = pipelined(&mut site_b, &mut hq_b, SMALL_FRAMES).expect("push");
    assert_eq!(
        (r.frames_out, r.frames_in, r.sent_docs, ahead),
        (1, 1, 3, 0)
    );
    for doc in site_b.doc_ids() {
        assert_eq!(
            hq_b.heads(doc).expect("read"),
            site_b.heads(doc).expect("read")
        );
    }
}

#[test]
fn a_document_missing_dependencies_mid_catch_up_is_pulled_again() {
    // The site holds 40 orders; the 20th has a second change, and the site wrongly believes HQ
    // holds the first: it sends only the second, which HQ cannot merge.
    let (mut site, mut hq) = site_and_hq(20);
    let id = order(19).id.0;
    let first = add_note(&mut site, id);
    add_orders(&mut site, 20, 40);
    site.set_peer_heads(hq.identity().node_id, id, &first);
    let (mut site_a, mut hq_a) = (site.clone(), hq.clone());
    let one = sequential(&mut hq_a, &mut site_a, SMALL_FRAMES).expect("sequential");
    let (two, ahead) = pipelined(&mut hq, &mut site, SMALL_FRAMES).expect("pipelined");
    assert!(ahead >= 2, "{two:?}");
    // The request sent ahead of the merge that found the gap was superseded: one more request,
    // the same answers merged.
    assert_eq!(two.frames_out, one.frames_out + 1, "{one:?} {two:?}");
    assert_eq!(two.frames_in, one.frames_in, "{one:?} {two:?}");
    assert_eq!(end_state(&hq_a, &site_a), end_state(&hq, &site));
    assert_caught_up(&hq, &site);
    let (o, _) = doc::read_order(&hq.load(id).expect("held")).expect("order");
    assert_eq!(o.notes.len(), 1);
}

/// HQ's replica with a merge that fails: the `fail_at`-th apply.
struct Failing {
    inner: MemReplica,
    fail_at: usize,
    applies: usize,
    /// The checkpoint for the peer after each durable apply.
    durable: Vec<PeerCheckpoint>,
}

impl Replica for Failing {
    fn identity(&self) -> NodeIdentity {
        self.inner.identity()
    }
    fn feed_since(&self, since: u64, limit: usize) -> Result<Vec<FeedEntry>, ReplicaError> {
        self.inner.feed_since(since, limit)
    }
    fn payload(&self, doc: Uuid, base: Option<&Heads>) -> Result<Option<DocPayload>, ReplicaError> {
        self.inner.payload(doc, base)
    }
    fn heads(&self, doc: Uuid) -> Result<Option<Heads>, ReplicaError> {
        self.inner.heads(doc)
    }
    fn peer_heads(&self, peer: NodeId, doc: Uuid) -> Result<Option<Heads>, ReplicaError> {
        self.inner.peer_heads(peer, doc)
    }
    fn peer_state(&self, peer: NodeId) -> Result<PeerCheckpoint, ReplicaError> {
        self.inner.peer_state(peer)
    }
    fn apply(&mut self, batch: ApplyBatch) -> Result<ApplyOutcome, ReplicaError> {
        self.applies += 1;
        if self.applies == self.fail_at {
            return Err(ReplicaError::Store("disk full".into()));
        }
        let peer = batch.peer;
        let outcome = self.inner.apply(batch)?;
        self.durable.push(self.inner.peer_state(peer)?);
        Ok(outcome)
    }
}

#[test]
fn a_merge_failing_mid_catch_up_leaves_the_last_durable_checkpoint() {
    let (mut site, hq) = site_and_hq(60);
    let mut hq = Failing {
        inner: hq,
        fail_at: 3,
        applies: 0,
        durable: Vec::new(),
    };
    let err = pipelined(&mut hq, &mut site, SMALL_FRAMES).expect_err("the third merge fails");
    assert!(
        matches!(err, SyncError::Replica(ReplicaError::Store(_))),
        "{err}"
    );
    // The checkpoint is the second batch's, and HQ holds exactly the documents it covers,
    // although the third batch's request and the fourth's (sent ahead) were answered.
    assert_eq!(hq.durable.len(), 2);
    let checkpoint = hq.inner.peer_state(site.identity().node_id).expect("read");
    assert_eq!(checkpoint, hq.durable[1]);
    let covered = checkpoint.pull.expect("pulled").seq;
    assert!(covered > 0 && covered < site.feed_seq(), "{checkpoint:?}");
    let feed = site.feed_since(0, 1000).expect("feed");
    for e in &feed {
        assert_eq!(
            hq.inner.heads(e.doc).expect("read").is_some(),
            e.seq <= covered,
            "seq {} against checkpoint {covered}",
            e.seq
        );
    }
    let held = hq.inner.len();
    // A later session pulls the rest, from the checkpoint on.
    hq.fail_at = 0;
    let (r, _) = pipelined(&mut hq, &mut site, SMALL_FRAMES).expect("the next session");
    assert_eq!(r.received_docs, 60 - held, "{r:?}");
    assert_caught_up(&hq.inner, &site);
}
