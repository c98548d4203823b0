//! Sync cost benchmark (DESIGN.md §5, issue 3): two in-memory replicas in sync holding N order
//! documents; a no-op session for N = 1k, 10k, 100k; then k changed documents (one small edit
//! each) out of N, with the protocol's frames and bytes beside the size of the missing changes
//! themselves and beside plain automerge sync messages for the same documents.
//!
//! Run: `cargo run --release -p switchboard-sync --example bench_sync -- [max_docs]`
//! (`scripts/bench_sync.sh` runs it and prints the machine).

use automerge::sync::{State, SyncDoc};
use automerge::{ActorId, Automerge};
use std::collections::BTreeMap;
use std::time::Instant;
use switchboard_domain::commands::OrderEvent;
use switchboard_domain::config::*;
use switchboard_domain::ids::*;
use switchboard_domain::money::{Currency, Quantity};
use switchboard_domain::order::{Line, Order, Stamp};
use switchboard_domain::{Decimal, Timestamp};
use switchboard_sync::doc::{self, Author, DocKind, DocMeta};
use switchboard_sync::protocol::frames::{decode_frame, Frame};
use switchboard_sync::protocol::mem::MemReplica;
use switchboard_sync::protocol::{
    respond, FeedPos, Initiator, NodeIdentity, PeerCheckpoint, Replica, Role as NodeRole,
    SessionReport,
};
use uuid::Uuid;

fn cc() -> CallCenter {
    CallCenter {
        id: CallCenterId::parse("east").expect("id"),
        name: "East".into(),
        currency: Currency::parse("EUR").expect("eur"),
        order_completion: true,
        guided_sales: false,
        payment_tolerance: Decimal::ZERO,
        payment_methods: vec![],
        delivery_modes: vec![],
        hold_codes: vec![],
        reason_codes: vec![],
        price_override_limits: BTreeMap::new(),
        financial_dimensions: BTreeMap::new(),
        price_group: None,
    }
}

fn author(actor: &ActorId, node: NodeId, at: i64) -> Author {
    Author {
        actor: actor.clone(),
        user: UserId(Uuid::from_u128(1)),
        node,
        now: Timestamp::from_millis(at),
    }
}

/// The call center's document with the user every edit is made by, an agent: what HQ merges
/// from the site is then judged by the role rules and passes, as a legitimate site's edits do.
fn agent_of(mut d: Automerge, cc: &CallCenter, a: &Author) -> Automerge {
    let rec = doc::UserRecord {
        user: User {
            id: UserId(Uuid::from_u128(1)),
            name: "agent".into(),
            role: Role::Agent,
            call_center: Some(cc.id.clone()),
        },
        token_hash: String::new(),
        disabled: false,
        created_at: None,
        expires_at: None,
        password_hash: None,
    };
    doc::put_user(&mut d, &rec, a).expect("user");
    d
}

fn order(i: u128, ccid: &CallCenterId) -> Order {
    let stamp = Stamp {
        by: UserId(Uuid::from_u128(1)),
        at: Timestamp::from_millis(1_780_000_000_000),
    };
    let line = Line {
        id: LineId(Uuid::from_u128((1 << 64) + i)),
        product_id: ProductId::parse("tea").expect("id"),
        quantity: Quantity::new(1).expect("qty"),
        list_price: Decimal::new(1000, 2),
        unit_price: Decimal::new(1000, 2),
        price_override: None,
        added: stamp.clone(),
        removed: None,
    };
    Order {
        lines: BTreeMap::from([(line.id, line)]),
        ..Order::new(
            OrderId(Uuid::from_u128((2 << 64) + i)),
            ccid.clone(),
            CustomerId(Uuid::from_u128(3 << 64)),
            stamp,
        )
    }
}

struct Pair {
    site: MemReplica,
    hq: MemReplica,
    orders: Vec<Order>,
}

fn identity(name: &str, role: NodeRole) -> NodeIdentity {
    NodeIdentity {
        node_id: NodeId(Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes())),
        role,
        call_centers: vec![CallCenterId::parse("east").expect("id")],
        feed_epoch: Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("epoch-{name}").as_bytes()),
    }
}

/// Two replicas holding the same N orders (plus configuration), each knowing the other holds them.
fn pair(n: usize) -> Pair {
    let hq_id = identity("hq", NodeRole::Hq);
    let site_id = identity("site", NodeRole::Site);
    let hq_actor = ActorId::from(vec![1u8; 16]);
    let mut site = MemReplica::new(site_id.clone(), ActorId::from(vec![2u8; 16]));
    let mut hq = MemReplica::new(hq_id.clone(), hq_actor.clone());
    let a = author(&hq_actor, hq_id.node_id, 1_780_000_000_000);
    let ccfg = cc();
    let mut docs: Vec<(Uuid, Automerge)> = vec![
        (
            doc::catalog_doc_id(),
            doc::new_catalog_doc(&a).expect("catalog"),
        ),
        (
            doc::call_center_doc_id(&ccfg.id),
            agent_of(doc::new_call_center_doc(&ccfg, &a).expect("cc"), &ccfg, &a),
        ),
    ];
    let mut orders = Vec::with_capacity(n);
    for i in 0..n as u128 {
        let o = order(i, &ccfg.id);
        docs.push((o.id.0, doc::create_order_doc(&o, &a).expect("order doc")));
        orders.push(o);
    }
    for (id, d) in docs {
        let meta = doc::read_meta(&d).expect("meta");
        let heads = d.get_heads();
        let bytes = d.save();
        site.put_saved(id, bytes.clone(), &heads, meta.clone());
        hq.put_saved(id, bytes, &heads, meta);
        site.set_peer_heads(hq_id.node_id, id, &heads);
        hq.set_peer_heads(site_id.node_id, id, &heads);
    }
    site.set_peer_state(
        hq_id.node_id,
        PeerCheckpoint {
            pull: Some(FeedPos {
                epoch: hq_id.feed_epoch,
                seq: hq.feed_seq(),
            }),
            push: site.feed_seq(),
            peer_epoch: Some(hq_id.feed_epoch),
        },
    );
    hq.set_peer_state(
        site_id.node_id,
        PeerCheckpoint {
            pull: Some(FeedPos {
                epoch: site_id.feed_epoch,
                seq: site.feed_seq(),
            }),
            push: hq.feed_seq(),
            peer_epoch: Some(site_id.feed_epoch),
        },
    );
    Pair { site, hq, orders }
}

/// One session from the site to HQ, over a perfect in-process link.
fn session(p: &mut Pair, id: u64) -> SessionReport {
    let hq_info = p.hq.identity().info();
    let site_info = p.site.identity().info();
    let (mut init, mut frame) = Initiator::new(&p.site, hq_info, id).expect("start");
    loop {
        let reply = respond(&mut p.hq, &site_info, &frame).expect("respond");
        if let Ok(Frame::Error(e)) = decode_frame(&reply) {
            panic!("{e:?}");
        }
        let step = init.on_frame(&reply, &mut p.site).expect("step");
        if let Some(r) = step.done {
            return r;
        }
        frame = step.send.expect("a next frame");
    }
}

/// Bytes and round trips of plain automerge sync for one document pair (fresh sync states, the
/// fallback when the peer's heads are unknown).
fn automerge_sync(a: &mut Automerge, b: &mut Automerge) -> (usize, usize) {
    let (mut sa, mut sb) = (State::new(), State::new());
    let (mut bytes, mut msgs) = (0, 0);
    loop {
        let mut progressed = false;
        if let Some(m) = a.generate_sync_message(&mut sa) {
            let enc = m.encode();
            bytes += enc.len();
            msgs += 1;
            let m = automerge::sync::Message::decode(&enc).expect("decode");
            b.receive_sync_message(&mut sb, m).expect("receive");
            progressed = true;
        }
        if let Some(m) = b.generate_sync_message(&mut sb) {
            let enc = m.encode();
            bytes += enc.len();
            msgs += 1;
            let m = automerge::sync::Message::decode(&enc).expect("decode");
            a.receive_sync_message(&mut sa, m).expect("receive");
            progressed = true;
        }
        if !progressed {
            return (bytes, msgs);
        }
    }
}

fn main() {
    let max: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    println!("## No-op session (site → HQ, both holding N order documents, in sync)\n");
    println!("| N docs | build s | frames (out+in) | bytes out | bytes in | session ms |");
    println!("|---:|---:|---:|---:|---:|---:|");
    let mut largest = None;
    for n in [1_000usize, 10_000, 100_000]
        .into_iter()
        .filter(|n| *n <= max)
    {
        let t = Instant::now();
        let mut p = pair(n);
        let build = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let r = session(&mut p, 1);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        println!(
            "| {n} | {build:.1} | {} | {} | {} | {ms:.2} |",
            r.frames_out + r.frames_in,
            r.bytes_out,
            r.bytes_in
        );
        largest = Some(p);
    }
    let Some(mut p) = largest else { return };
    let n = p.orders.len();
    println!("\n## k changed documents out of {n} (one quantity edit each, made at the site)\n");
    println!("| k | frames (out+in) | bytes out | bytes in | missing changes (save_after) | framing / doc | ratio | automerge sync bytes | automerge msgs | session ms |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let site_actor = p.site.actor();
    let site_node = p.site.identity().node_id;
    let mut sid = 10;
    let mut offset = 0usize;
    for k in [1usize, 100, 10_000].into_iter().filter(|k| *k <= n) {
        let mut missing = 0usize;
        let mut am_bytes = 0usize;
        let mut am_msgs = 0usize;
        for i in offset..offset + k {
            let o = &p.orders[i % n];
            let id = o.id.0;
            let mut d = p.site.load(id).expect("held");
            let before = d.get_heads();
            let line = *o.lines.keys().next().expect("a line");
            let ev = OrderEvent::LineChanged {
                line_id: line,
                quantity: Some(Quantity::new(2 + (sid as i64 % 5)).expect("qty")),
                unit_price: None,
                price_override: None,
            };
            let a = author(&site_actor, site_node, 1_780_000_100_000);
            doc::apply_order_event(&mut d, &ev, &a).expect("edit");
            missing += d.save_after(&before).len();
            let mut hq_doc = p.hq.load(id).expect("held");
            let mut site_doc = d.clone();
            let (b, m) = automerge_sync(&mut site_doc, &mut hq_doc);
            am_bytes += b;
            am_msgs = am_msgs.max(m);
            p.site.put(id, &d).expect("stored");
        }
        offset += k;
        sid += 1;
        let t = Instant::now();
        let r = session(&mut p, sid);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let wire = r.bytes_out + r.bytes_in;
        let framing = (wire as f64 - missing as f64) / k as f64;
        println!(
            "| {k} | {} | {} | {} | {missing} | {framing:.1} | {:.2} | {am_bytes} | {am_msgs} per doc | {ms:.1} |",
            r.frames_out + r.frames_in,
            r.bytes_out,
            r.bytes_in,
            wire as f64 / missing as f64,
        );
        assert_eq!(r.sent_docs, k);
        let kind_ok =
            p.hq.meta(p.orders[0].id.0)
                .is_some_and(|m: DocMeta| m.kind == DocKind::Order);
        assert!(kind_ok);
    }
}
