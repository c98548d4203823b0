//! Protocol properties over the simulated network: no-op cost, batching, scope refusal, bad
//! frames, replays, faults and restarts (DESIGN.md §5).

use switchboard_domain::commands::{AddLine, OrderCommand};
use switchboard_domain::config::{Actor, Role};
use switchboard_domain::ids::*;
use switchboard_domain::money::Quantity;
use switchboard_sync::codec;
use switchboard_sync::doc::{self, DocKind};
use switchboard_sync::protocol::frames::{self, Frame, SyncRequest, WireDoc};
use switchboard_sync::protocol::{respond, respond_or_error, Replica, SyncError};
use switchboard_tests::sim::*;

fn setup(seed: u64) -> (Sim, usize, usize, usize, Actor) {
    let mut sim = Sim::new(seed);
    let hq = sim.add_hq("hq");
    let a = sim.add_site("site-a", &["east"]);
    let b = sim.add_site("site-b", &["east"]);
    sim.link(hq, a);
    sim.link(hq, b);
    sim.link(a, b);
    let u = user(1, Role::Agent, "east");
    sim.configure(
        hq,
        &[call_center("east")],
        std::slice::from_ref(&u),
        &catalog(),
    );
    sim.converge(5);
    (sim, hq, a, b, actor(&u))
}

fn orders(sim: &mut Sim, node: usize, who: &Actor, from: u128, n: u128) {
    let cust = CustomerId(uid(5_000_000 + from));
    sim.create_customer(node, who, cust, "Linus");
    for k in 0..n {
        let id = OrderId(uid(100_000 + from + k));
        sim.create_order(node, who, id, cust).expect("order");
        sim.order_cmd(
            node,
            who,
            id,
            OrderCommand::AddLine(AddLine {
                id: LineId(uid(200_000 + from + k)),
                product_id: ProductId::parse("tea").expect("id"),
                quantity: Quantity::new(1).expect("qty"),
                unit_price: None,
                override_reason: None,
            }),
        )
        .expect("line");
    }
}

fn request(session: u64, push: Vec<WireDoc>) -> Vec<u8> {
    frames::encode_frame(&Frame::Request(SyncRequest {
        session,
        n: 1,
        epoch: uid(0xe),
        push,
        acks: vec![],
        pull: None,
        max_bytes: 1 << 20,
    }))
}

#[test]
fn a_no_op_session_is_one_small_round_trip() {
    // Step 1: three converged nodes.
    let (mut sim, hq, a, _, who) = setup(11);
    orders(&mut sim, a, &who, 0, 20);
    sim.converge(5);
    // Step 2: one more session changes nothing and costs one request and one response.
    for (x, y) in [(a, hq), (hq, a)] {
        let r = sim.sync(x, y).expect("session");
        assert_eq!(
            (r.frames_out, r.frames_in, r.sent_docs, r.received_docs),
            (1, 1, 0, 0),
            "{r:?}"
        );
        assert!(r.bytes_out + r.bytes_in < 200, "{r:?}");
    }
}

#[test]
fn round_trips_do_not_grow_with_the_number_of_changed_documents() {
    // Step 1: converged nodes.
    let (mut sim, hq, a, _, who) = setup(12);
    // Step 2: site A takes 1 order, then 200 orders; each push to HQ takes the same frames.
    orders(&mut sim, a, &who, 0, 1);
    let one = sim.sync(a, hq).expect("session");
    orders(&mut sim, a, &who, 1000, 200);
    let many = sim.sync(a, hq).expect("session");
    assert_eq!(many.sent_docs, 201, "{many:?}");
    assert_eq!(one.frames_out, many.frames_out, "{one:?} {many:?}");
    assert!(many.frames_out <= 2, "{many:?}");
    // Step 3: HQ pulls back nothing it was just sent (echo suppression).
    let back = sim.sync(hq, a).expect("session");
    assert_eq!(back.sent_docs + back.received_docs, 0, "{back:?}");
}

#[test]
fn a_frame_with_a_document_outside_the_senders_scope_is_refused_whole() {
    // Step 1: site B holds the call center configuration and an order of its own.
    let (mut sim, hq, _, b, who) = setup(13);
    orders(&mut sim, b, &who, 0, 1);
    let order = sim.replica(b).docs_of(DocKind::Order)[0];
    let config = doc::call_center_doc_id(&cc_id("east"));
    let payload = |sim: &Sim, id| {
        WireDoc::from_payload(
            sim.replica(b)
                .payload(id, None)
                .expect("read")
                .expect("held"),
        )
    };
    let docs = vec![payload(&sim, order), payload(&sim, config)];
    // Step 2: B pushes its order and the configuration (written only at HQ) in one frame.
    let before = sim.replica(hq).feed_seq();
    let peer = sim.info(b);
    let err = respond(&mut sim.nodes[hq].replica, &peer, &request(1, docs)).expect_err("refused");
    assert!(matches!(err, SyncError::OutOfScope { .. }), "{err}");
    // Step 3: nothing of the frame was applied, not even the order.
    assert_eq!(sim.replica(hq).feed_seq(), before);
    assert!(sim.replica(hq).meta(order).is_none());
    // Step 4: the error frame names the refusal for the initiator.
    let frame = request(1, vec![payload(&sim, config)]);
    let f = respond_or_error(&mut sim.nodes[hq].replica, &peer, &frame);
    match frames::decode_frame(&f).expect("frame") {
        Frame::Error(e) => assert_eq!(e.code, frames::ErrorCode::OutOfScope),
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_oversized_and_unknown_version_frames_are_refused_without_effect() {
    let (mut sim, hq, a, _, who) = setup(14);
    orders(&mut sim, a, &who, 0, 1);
    let order = sim.replica(a).docs_of(DocKind::Order)[0];
    let good = request(
        1,
        vec![WireDoc::from_payload(
            sim.replica(a)
                .payload(order, None)
                .expect("read")
                .expect("held"),
        )],
    );
    let before = sim.replica(hq).feed_seq();
    let peer = sim.info(a);
    let mut unknown = good.clone();
    unknown[0] = 77;
    let mut trailing = good.clone();
    trailing.push(0);
    let mut oversized = vec![codec::VERSION];
    oversized.resize(frames::MAX_FRAME_BYTES as usize + 10, 0);
    let mut corrupt_changes = good.clone();
    let n = corrupt_changes.len();
    corrupt_changes[n - 20] ^= 0xff;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("unknown version", unknown),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("trailing bytes", trailing),
        ("oversized", oversized),
        (
            "garbage",
            vec![codec::VERSION, 0xff, 0xff, 0xff, 0xff, 0x0f],
        ),
        ("corrupt changes", corrupt_changes),
    ];
    for (name, frame) in cases {
        let err = respond(&mut sim.nodes[hq].replica, &peer, &frame).expect_err(name);
        assert!(!err.to_string().is_empty(), "{name}");
        assert_eq!(sim.replica(hq).feed_seq(), before, "{name} had an effect");
    }
    // The good frame works, and replaying it is harmless.
    respond(&mut sim.nodes[hq].replica, &peer, &good).expect("accepted");
    let after = sim.replica(hq).feed_seq();
    assert_eq!(after, before + 1);
    respond(&mut sim.nodes[hq].replica, &peer, &good).expect("replay accepted");
    assert_eq!(sim.replica(hq).feed_seq(), after);
}

#[test]
fn drops_duplicates_reordering_and_restarts_lose_nothing() {
    // Step 1: converged nodes; faults on.
    let (mut sim, hq, a, b, who) = setup(15);
    sim.faults = Faults {
        drop: 0.2,
        duplicate: 0.2,
        reorder: true,
    };
    // Step 2: both sites write while rounds run over the faulty network and nodes restart.
    for r in 0..6u128 {
        orders(&mut sim, a, &who, 10_000 * (r + 1), 3);
        orders(&mut sim, b, &who, 10_000 * (r + 1) + 500, 3);
        sim.round();
        sim.restart([hq, a, b][r as usize % 3]);
    }
    // Step 3: heal: every node converges to the same 36 orders.
    sim.converge(8);
    for n in [hq, a, b] {
        assert_eq!(sim.replica(n).docs_of(DocKind::Order).len(), 36);
    }
    assert_eq!(sim.order_views(a), sim.order_views(hq));
    assert_eq!(sim.order_views(b), sim.order_views(hq));
}

#[test]
fn a_node_restored_from_a_backup_gets_what_it_lost_back() {
    // Step 1: A takes orders and syncs them to HQ; a backup of A is taken before more orders.
    let (mut sim, hq, a, _, who) = setup(16);
    orders(&mut sim, a, &who, 0, 2);
    sim.converge(5);
    let backup = sim.replica(a).to_bytes();
    orders(&mut sim, a, &who, 500, 2);
    sim.converge(5);
    // Step 2: A is restored from the backup (new feed epoch and actor, as DESIGN.md §4 demands).
    let mut restored =
        switchboard_sync::protocol::mem::MemReplica::from_bytes(&backup).expect("backup");
    restored.restored_from_backup(uid(0xbac), actor_for(99));
    sim.nodes[a].replica = restored;
    assert_eq!(sim.replica(a).docs_of(DocKind::Order).len(), 2);
    // Step 3: sync brings the lost orders back from HQ.
    sim.converge(5);
    assert_eq!(sim.replica(a).docs_of(DocKind::Order).len(), 4);
    assert_eq!(sim.order_views(a), sim.order_views(hq));
}

fn note(sim: &mut Sim, node: usize, who: &Actor, order: OrderId, n: u128) {
    sim.order_cmd(
        node,
        who,
        order,
        OrderCommand::AddNote {
            id: NoteId(uid(n)),
            text: format!("note {n}"),
        },
    )
    .expect("note");
}

#[test]
fn a_payload_with_missing_dependencies_is_asked_for_again_after_the_real_heads() {
    // Step 1: an order everywhere.
    let (mut sim, hq, a, _, who) = setup(17);
    orders(&mut sim, a, &who, 0, 1);
    sim.converge(5);
    let order = OrderId(sim.replica(a).docs_of(DocKind::Order)[0]);
    let hq_id = sim.info(hq).node_id;
    let a_id = sim.info(a).node_id;
    // Step 2: A writes two notes but wrongly believes HQ already holds the first.
    note(&mut sim, a, &who, order, 1);
    let first = sim.replica(a).heads(order.0).expect("read").expect("held");
    note(&mut sim, a, &who, order, 2);
    sim.nodes[a].replica.set_peer_heads(hq_id, order.0, &first);
    // Step 3: the push misses a dependency at HQ; HQ answers with its heads and A resends.
    let r = sim.sync(a, hq).expect("session completes");
    assert!(r.sent_docs >= 2, "{r:?}");
    assert_eq!(
        sim.replica(hq).heads(order.0).expect("read"),
        sim.replica(a).heads(order.0).expect("read")
    );
    // Step 4: the same on the pull side: HQ writes two notes and wrongly believes A holds the first.
    let admin = admin();
    note(&mut sim, hq, &admin, order, 3);
    let first = sim.replica(hq).heads(order.0).expect("read").expect("held");
    note(&mut sim, hq, &admin, order, 4);
    sim.nodes[hq].replica.set_peer_heads(a_id, order.0, &first);
    let r = sim.sync(a, hq).expect("session completes");
    assert!(r.received_docs >= 2, "{r:?}");
    assert_eq!(
        sim.replica(hq).heads(order.0).expect("read"),
        sim.replica(a).heads(order.0).expect("read")
    );
    let (o, _) = sim.read_order(a, order).expect("held");
    assert_eq!(o.notes.len(), 4);
}

#[test]
fn stale_and_out_of_order_frames() {
    let (mut sim, hq, a, _, who) = setup(18);
    orders(&mut sim, a, &who, 0, 3);
    let peer_a = sim.info(a);
    let peer_hq = sim.info(hq);
    // Step 1: a session in small batches (one document per request); its first response,
    // delivered twice: the duplicate is ignored.
    let (mut init, req) = switchboard_sync::protocol::Initiator::with_max_bytes(
        sim.replica(a),
        peer_hq.clone(),
        7,
        1024,
    )
    .expect("start");
    let resp = respond(&mut sim.nodes[hq].replica, &peer_a, &req).expect("response");
    let step = init
        .on_frame(&resp, &mut sim.nodes[a].replica)
        .expect("first");
    assert!(step.send.is_some() && step.done.is_none(), "{step:?}");
    let again = init
        .on_frame(&resp, &mut sim.nodes[a].replica)
        .expect("stale duplicate");
    assert_eq!(again, switchboard_sync::protocol::Step::default());
    // Step 2: a request replayed at the responder is harmless.
    let seq = sim.replica(hq).feed_seq();
    respond(&mut sim.nodes[hq].replica, &peer_a, &req).expect("replay");
    assert_eq!(sim.replica(hq).feed_seq(), seq);
    // Step 3: a request handed to an initiator, or a response to a responder, is refused.
    let (mut init2, req2) =
        switchboard_sync::protocol::Initiator::new(sim.replica(a), peer_hq, 8).expect("start");
    let err = init2
        .on_frame(&req2, &mut sim.nodes[a].replica)
        .expect_err("a request is not an answer");
    assert!(matches!(err, SyncError::UnexpectedFrame(_)), "{err}");
    let err = respond(&mut sim.nodes[hq].replica, &peer_a, &resp)
        .expect_err("a response is not a request");
    assert!(matches!(err, SyncError::UnexpectedFrame(_)), "{err}");
    // Step 4: a response numbered ahead of the request is refused.
    let mut ahead = match frames::decode_frame(&resp).expect("frame") {
        Frame::Response(r) => r,
        other => panic!("{other:?}"),
    };
    ahead.session = 8;
    ahead.n = 5;
    let err = init2
        .on_frame(
            &frames::encode_frame(&Frame::Response(ahead)),
            &mut sim.nodes[a].replica,
        )
        .expect_err("ahead");
    assert!(matches!(err, SyncError::UnexpectedFrame(_)), "{err}");
}

#[test]
fn pipelined_catch_ups_in_small_frames_match_one_step_sessions_and_survive_faults() {
    // Step 1: the same history on two networks, one whose sessions send the next pull ahead of
    // the merge (the node's driver) and one that runs them a step at a time; small frames.
    let mut ends = Vec::new();
    for pipeline in [true, false] {
        let (mut sim, hq, a, _, who) = setup(19);
        sim.pipeline = pipeline;
        sim.frame_bytes = 2048;
        orders(&mut sim, a, &who, 0, 30);
        // Step 2: HQ catches up with A over several frames.
        let r = sim.sync(hq, a).expect("catch-up");
        assert!(r.frames_out >= 4, "{r:?}");
        assert_eq!(r.received_docs, 31, "{r:?}");
        assert_eq!(sim.stats.sent_ahead > 0, pipeline, "{:?}", sim.stats);
        let checkpoint = sim
            .replica(hq)
            .peer_state(sim.info(a).node_id)
            .expect("read");
        assert_eq!(
            checkpoint.pull.map(|p| p.seq),
            Some(sim.replica(a).feed_seq())
        );
        ends.push((
            (r.frames_out, r.frames_in, r.received_docs),
            checkpoint,
            sim.order_views(hq),
        ));
        // Step 3: A writes while HQ pulls over a faulty network and nodes restart in the
        // middle of a catch-up (a merge under way is lost with HQ); then everything converges.
        sim.faults = Faults {
            drop: 0.1,
            duplicate: 0.2,
            reorder: true,
        };
        for r in 0..4u128 {
            orders(&mut sim, a, &who, 10_000 * (r + 1), 8);
            sim.start_session(hq, a);
            for _ in 0..(3 + 2 * r) {
                sim.step();
            }
            sim.restart([hq, a][r as usize % 2]);
            sim.round();
        }
        sim.converge(10);
        assert_eq!(sim.replica(hq).docs_of(DocKind::Order).len(), 62);
        assert_eq!(sim.order_views(a), sim.order_views(hq));
    }
    assert_eq!(ends[0], ends[1]);
}
