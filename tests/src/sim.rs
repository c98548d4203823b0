//! A simulated network of sync engines in one process (after raft-rs' `harness/src/network.rs`):
//! real [`Initiator`]s and [`respond`], real [`MemReplica`]s, and a message queue the test
//! controls — partition, heal, drop, duplicate, reorder, restart a node from its stored state.
//! Deterministic: faults draw from a seeded generator, and time is a number the test advances.
//!
//! Sessions run as the node's driver runs them ([`Sim::pipeline`], on by default): each answer
//! is accepted, the next pull the engine sends ahead goes out at once, and the merge of the
//! accepted batch is an event of its own in the queue, so the responder may build the next batch
//! before the merge is durable, and answers may arrive while it runs (they wait for it).
//!
//! It also carries the domain glue the scenarios need: an HQ that writes the configuration, and
//! agents that run `domain::commands` on a node and write the event with `sync::doc`.

use crate::rng::Rng;
use automerge::ActorId;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::str::FromStr;
use switchboard_domain::commands::{self, Ctx, OrderCommand, OrderEvent};
use switchboard_domain::config::*;
use switchboard_domain::customer::{self, Customer, CustomerFields};
use switchboard_domain::ids::*;
use switchboard_domain::money::Currency;
use switchboard_domain::order::Order;
use switchboard_domain::{Decimal, OrderError, Timestamp};
use switchboard_sync::doc::{self, Conflict, DocKind, UserRecord};
use switchboard_sync::protocol::frames::{decode_frame, Frame};
use switchboard_sync::protocol::mem::MemReplica;
use switchboard_sync::protocol::{
    may_read, respond_or_error, Accepted, Initiator, Merge, Next, NodeIdentity, PeerInfo, Replica,
    Role as NodeRole, SessionReport,
};
use uuid::Uuid;

/// Network faults, as probabilities per message.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// A message is lost.
    pub drop: f64,
    /// A message is delivered twice.
    pub duplicate: f64,
    /// Messages are delivered in random order instead of FIFO.
    pub reorder: bool,
}

#[derive(Clone, Debug)]
struct Envelope {
    from: usize,
    to: usize,
    bytes: Vec<u8>,
}

/// What the queue holds: frames on the network, and merges under way at an initiator.
#[derive(Clone, Debug)]
enum Event {
    Frame(Envelope),
    /// The merge of the session's accepted batch runs (local: never dropped or duplicated).
    Merge(u64),
}

/// One node of the simulation.
pub struct SimNode {
    /// Its name in the scenario.
    pub name: String,
    /// Its store (everything in it is durable).
    pub replica: MemReplica,
}

struct Session {
    from: usize,
    to: usize,
    initiator: Initiator,
    /// The accepted batch whose merge is under way.
    merge: Option<Merge>,
    /// Answers that arrived while it ran, in order.
    held: Vec<Vec<u8>>,
}

/// What happened to sessions.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Sessions that finished.
    pub completed: usize,
    /// Sessions that failed with an error.
    pub failed: usize,
    /// Sessions abandoned because a frame was lost.
    pub abandoned: usize,
    /// Frames delivered.
    pub delivered: usize,
    /// Frames dropped (faults or partitions).
    pub dropped: usize,
    /// Requests sent ahead of a merge (pipelined sessions).
    pub sent_ahead: usize,
    /// Errors seen, for assertions and debugging.
    pub errors: Vec<String>,
}

/// The simulated network.
pub struct Sim {
    /// The nodes, by index.
    pub nodes: Vec<SimNode>,
    /// Who syncs with whom (pairs `(a, b)` with `a < b`, sessions run both ways).
    pub links: BTreeSet<(usize, usize)>,
    queue: VecDeque<Event>,
    sessions: BTreeMap<u64, Session>,
    next_session: u64,
    blocked: BTreeSet<(usize, usize)>,
    /// The current faults.
    pub faults: Faults,
    /// The generator of faults.
    pub rng: Rng,
    /// The simulated time.
    pub now: Timestamp,
    /// Session statistics.
    pub stats: Stats,
    /// Session reports, last first when pushed.
    pub reports: Vec<SessionReport>,
    /// Whether sessions send the next pull ahead of the merge, as the node's driver does
    /// (`true`); `false` runs them one step at a time ([`Initiator::on_frame`]).
    pub pipeline: bool,
    /// The batch size sessions ask for (the engine's default unless a test wants many frames).
    pub frame_bytes: usize,
    /// Scopes the admin declared for nodes, as their peers see them, where they differ from what
    /// the node itself claims (a compromised node).
    declared: BTreeMap<usize, PeerInfo>,
}

/// A stable actor id per node index.
pub fn actor_for(i: usize) -> ActorId {
    let mut b = [0u8; 16];
    b[0] = 0xa0;
    b[8..].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    ActorId::from(b.to_vec())
}

/// A stable node id per name.
pub fn node_id_for(name: &str) -> NodeId {
    NodeId(Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes()))
}

impl Sim {
    /// An empty network.
    pub fn new(seed: u64) -> Self {
        Sim {
            nodes: Vec::new(),
            links: BTreeSet::new(),
            queue: VecDeque::new(),
            sessions: BTreeMap::new(),
            next_session: 1,
            blocked: BTreeSet::new(),
            faults: Faults::default(),
            rng: Rng::new(seed),
            now: Timestamp::parse("2026-11-28T09:00:00Z").expect("valid time"),
            stats: Stats::default(),
            reports: Vec::new(),
            pipeline: true,
            frame_bytes: switchboard_sync::protocol::frames::TARGET_FRAME_BYTES,
            declared: BTreeMap::new(),
        }
    }

    /// Adds HQ.
    pub fn add_hq(&mut self, name: &str) -> usize {
        self.add_node(name, NodeRole::Hq, &[])
    }

    /// Adds a site serving call centers.
    pub fn add_site(&mut self, name: &str, call_centers: &[&str]) -> usize {
        self.add_node(name, NodeRole::Site, call_centers)
    }

    fn add_node(&mut self, name: &str, role: NodeRole, call_centers: &[&str]) -> usize {
        let i = self.nodes.len();
        let identity = NodeIdentity {
            node_id: node_id_for(name),
            role,
            call_centers: call_centers.iter().map(|c| cc_id(c)).collect(),
            feed_epoch: Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("epoch:{name}").as_bytes()),
        };
        let mut replica = MemReplica::new(identity, actor_for(i));
        replica.set_now(self.now);
        self.nodes.push(SimNode {
            name: name.to_string(),
            replica,
        });
        i
    }

    /// Lets two nodes sync with each other.
    pub fn link(&mut self, a: usize, b: usize) {
        self.links.insert((a.min(b), a.max(b)));
    }

    /// The node's replica.
    pub fn replica(&self, i: usize) -> &MemReplica {
        &self.nodes[i].replica
    }

    /// A node's identity as its peers see it: the scope declared for it, else what it says.
    pub fn info(&self, i: usize) -> PeerInfo {
        match self.declared.get(&i) {
            Some(p) => p.clone(),
            None => self.nodes[i].replica.identity().info(),
        }
    }

    /// Compromises a node: from now on its own code believes it is HQ (so it sends configuration
    /// and anything else it holds), while its peers keep knowing it by the scope the admin
    /// declared, the one it had.
    pub fn compromise(&mut self, i: usize) {
        let declared = self.info(i);
        let mut identity = self.nodes[i].replica.identity();
        identity.role = NodeRole::Hq;
        identity.call_centers.clear();
        self.nodes[i].replica.set_identity(identity);
        self.declared.insert(i, declared);
    }

    /// Cuts every path between the two groups.
    pub fn partition(&mut self, a: &[usize], b: &[usize]) {
        for x in a {
            for y in b {
                self.blocked.insert((*x, *y));
                self.blocked.insert((*y, *x));
            }
        }
    }

    /// Isolates one node from all others.
    pub fn isolate(&mut self, i: usize) {
        let others: Vec<usize> = (0..self.nodes.len()).filter(|j| *j != i).collect();
        self.partition(&[i], &others);
    }

    /// Removes every partition.
    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    /// Advances time (and every node's clock) by seconds.
    pub fn advance(&mut self, secs: i64) {
        self.now = Timestamp::from_millis(self.now.as_millis() + secs * 1000);
        for n in &mut self.nodes {
            n.replica.set_now(self.now);
        }
    }

    /// Crashes and restarts a node: its sessions are lost, its store comes back from its bytes.
    pub fn restart(&mut self, i: usize) {
        let bytes = self.nodes[i].replica.to_bytes();
        let mut replica =
            MemReplica::from_bytes(&bytes).expect("a replica reads back what it wrote");
        replica.set_now(self.now);
        self.nodes[i].replica = replica;
        let dead: Vec<u64> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.from == i)
            .map(|(k, _)| *k)
            .collect();
        for k in dead {
            self.sessions.remove(&k);
            self.stats.abandoned += 1;
        }
        self.queue.retain(|e| match e {
            Event::Frame(e) => e.to != i,
            Event::Merge(_) => true,
        });
    }

    fn send(&mut self, from: usize, to: usize, bytes: Vec<u8>) {
        let dup = self.rng.unit() < self.faults.duplicate;
        if dup {
            self.queue.push_back(Event::Frame(Envelope {
                from,
                to,
                bytes: bytes.clone(),
            }));
        }
        self.queue
            .push_back(Event::Frame(Envelope { from, to, bytes }));
    }

    /// Starts a session from `a` to `b`.
    pub fn start_session(&mut self, a: usize, b: usize) {
        let sid = self.next_session;
        self.next_session += 1;
        let peer = self.info(b);
        match Initiator::with_max_bytes(&self.nodes[a].replica, peer, sid, self.frame_bytes) {
            Ok((initiator, frame)) => {
                self.sessions.insert(
                    sid,
                    Session {
                        from: a,
                        to: b,
                        initiator,
                        merge: None,
                        held: Vec::new(),
                    },
                );
                self.send(a, b, frame);
            }
            Err(e) => {
                self.stats.failed += 1;
                self.stats.errors.push(format!("start {a}->{b}: {e}"));
            }
        }
    }

    /// Delivers one message; `false` when nothing is in flight.
    pub fn step(&mut self) -> bool {
        let idx = if self.faults.reorder && !self.queue.is_empty() {
            self.rng.below(self.queue.len())
        } else {
            0
        };
        let env = match self.queue.remove(idx) {
            None => return false,
            Some(Event::Merge(sid)) => {
                self.on_merge(sid);
                return true;
            }
            Some(Event::Frame(env)) => env,
        };
        if self.blocked.contains(&(env.from, env.to)) || self.rng.unit() < self.faults.drop {
            self.stats.dropped += 1;
            return true;
        }
        self.stats.delivered += 1;
        match decode_frame(&env.bytes) {
            Ok(Frame::Request(_)) => {
                let peer = self.info(env.from);
                let reply = respond_or_error(&mut self.nodes[env.to].replica, &peer, &env.bytes);
                self.send(env.to, env.from, reply);
            }
            Ok(Frame::Response(r)) => self.on_reply(r.session, env),
            Ok(Frame::Error(e)) => self.on_reply(e.session, env),
            Err(e) => self.stats.errors.push(format!("undecodable frame: {e}")),
        }
        true
    }

    fn on_reply(&mut self, sid: u64, env: Envelope) {
        let Some(mut s) = self.sessions.remove(&sid) else {
            return;
        };
        if s.from != env.to {
            self.sessions.insert(sid, s);
            return;
        }
        if !self.pipeline {
            return self.on_reply_sequential(sid, s, env);
        }
        if s.merge.is_some() {
            // The previous batch is still merging: the answer waits for it.
            s.held.push(env.bytes);
            self.sessions.insert(sid, s);
            return;
        }
        match s.initiator.accept(&env.bytes, &self.nodes[s.from].replica) {
            Ok(Accepted::Ignored) => {
                // A stale duplicate: the session goes on.
                self.sessions.insert(sid, s);
            }
            Ok(Accepted::Merge { merge, prefetch }) => {
                s.merge = Some(merge);
                let (from, to) = (s.from, s.to);
                self.sessions.insert(sid, s);
                if let Some(frame) = prefetch {
                    self.stats.sent_ahead += 1;
                    self.send(from, to, frame);
                }
                self.queue.push_back(Event::Merge(sid));
            }
            Err(e) => {
                self.stats.failed += 1;
                self.stats
                    .errors
                    .push(format!("{} -> {}: {e}", s.from, s.to));
            }
        }
    }

    /// The merge of a session's accepted batch (a no-op when the session is gone: its node
    /// restarted before the merge, so nothing of it was stored).
    fn on_merge(&mut self, sid: u64) {
        let Some(mut s) = self.sessions.remove(&sid) else {
            return;
        };
        let Some(merge) = s.merge.take() else {
            self.sessions.insert(sid, s);
            return;
        };
        let node = &mut self.nodes[s.from].replica;
        let next = merge
            .run(node)
            .and_then(|merged| s.initiator.merged(merged, &*node));
        let (from, to) = (s.from, s.to);
        match next {
            Ok(Next::Done(report)) => {
                self.stats.completed += 1;
                self.reports.push(report);
            }
            Ok(next) => {
                let held = std::mem::take(&mut s.held);
                self.sessions.insert(sid, s);
                if let Next::Send(frame) = next {
                    self.send(from, to, frame);
                }
                // Answers that waited: the one to the request sent ahead is accepted now, stale
                // ones (a superseded request's, duplicates) are ignored by the engine.
                for bytes in held {
                    self.on_reply(
                        sid,
                        Envelope {
                            from: to,
                            to: from,
                            bytes,
                        },
                    );
                }
            }
            Err(e) => {
                self.stats.failed += 1;
                self.stats.errors.push(format!("{from} -> {to}: {e}"));
            }
        }
    }

    fn on_reply_sequential(&mut self, sid: u64, mut s: Session, env: Envelope) {
        match s
            .initiator
            .on_frame(&env.bytes, &mut self.nodes[s.from].replica)
        {
            Ok(step) => {
                if let Some(frame) = step.send {
                    let to = s.to;
                    let from = s.from;
                    self.sessions.insert(sid, s);
                    self.send(from, to, frame);
                } else if let Some(report) = step.done {
                    self.stats.completed += 1;
                    self.reports.push(report);
                } else {
                    // A stale duplicate: the session goes on.
                    self.sessions.insert(sid, s);
                }
            }
            Err(e) => {
                self.stats.failed += 1;
                self.stats
                    .errors
                    .push(format!("{} -> {}: {e}", s.from, s.to));
            }
        }
    }

    /// Delivers until nothing is in flight (or `max` steps); sessions left waiting for a lost
    /// frame are abandoned (as a driver's timeout would).
    pub fn run(&mut self, max: usize) {
        let mut n = 0;
        while n < max && self.step() {
            n += 1;
        }
        let left = self.sessions.len();
        self.sessions.clear();
        self.stats.abandoned += left;
    }

    /// One round: a session each way on every link, run to quiet.
    pub fn round(&mut self) {
        let links: Vec<(usize, usize)> = self.links.iter().copied().collect();
        for (a, b) in links {
            self.start_session(a, b);
            self.start_session(b, a);
        }
        self.run(1_000_000);
    }

    /// One reliable session from `a` to `b`, returning its report or error.
    pub fn sync(&mut self, a: usize, b: usize) -> Result<SessionReport, String> {
        let saved = self.faults;
        self.faults = Faults::default();
        let failed = self.stats.failed;
        let done = self.stats.completed;
        self.start_session(a, b);
        self.run(1_000_000);
        self.faults = saved;
        if self.stats.completed > done {
            Ok(*self
                .reports
                .last()
                .expect("a completed session has a report"))
        } else if self.stats.failed > failed {
            Err(self.stats.errors.last().cloned().unwrap_or_default())
        } else {
            Err("session abandoned".into())
        }
    }

    /// Heals, removes faults and runs rounds until every node holds what it should with the same
    /// heads as every other node holding it; returns the number of rounds.
    pub fn converge(&mut self, max_rounds: usize) -> usize {
        self.heal();
        self.faults = Faults::default();
        for r in 1..=max_rounds {
            self.round();
            if self.converged() {
                return r;
            }
        }
        panic!(
            "no convergence after {max_rounds} rounds: {}",
            self.divergence()
        );
    }

    /// Whether every node holds every document in its read scope that some node holds, with the
    /// same heads everywhere.
    pub fn converged(&self) -> bool {
        self.divergence().is_empty()
    }

    /// A description of what differs (empty when converged).
    pub fn divergence(&self) -> String {
        let mut all: BTreeMap<Uuid, (doc::DocMeta, Vec<automerge::ChangeHash>)> = BTreeMap::new();
        let mut out = String::new();
        for n in &self.nodes {
            for id in n.replica.doc_ids() {
                let heads = n.replica.heads(id).ok().flatten().unwrap_or_default();
                let meta = n.replica.meta(id).expect("held");
                let e = all.entry(id).or_insert((meta, Vec::new()));
                for h in heads {
                    if !e.1.contains(&h) {
                        e.1.push(h);
                    }
                }
            }
        }
        for (i, n) in self.nodes.iter().enumerate() {
            let info = self.info(i);
            for (id, (meta, _)) in &all {
                if !may_read(&info, meta) {
                    continue;
                }
                let mine = n.replica.heads(*id).ok().flatten();
                let other = self
                    .nodes
                    .iter()
                    .filter(|o| o.replica.meta(*id).is_some())
                    .map(|o| o.replica.heads(*id).ok().flatten())
                    .find(|h| *h != mine);
                if mine.is_none() || other.is_some() {
                    out.push_str(&format!("{} differs on {:?} {id}; ", n.name, meta.kind));
                }
            }
        }
        out
    }

    // ----- domain glue -------------------------------------------------------------------------

    fn put(&mut self, i: usize, id: Uuid, d: &automerge::Automerge) {
        self.nodes[i].replica.put(id, d).expect("local write");
    }

    /// HQ writes a call center's configuration (with its users) and the catalog.
    pub fn configure(&mut self, hq: usize, ccs: &[CallCenter], users: &[User], catalog: &Catalog) {
        let author = self.nodes[hq].replica.author(admin().user);
        let mut cat = match self.nodes[hq].replica.load(doc::catalog_doc_id()) {
            Some(d) => d,
            None => doc::new_catalog_doc(&author).expect("catalog doc"),
        };
        for p in catalog.products.values() {
            doc::put_product(&mut cat, p, &author).expect("product");
        }
        for c in catalog.coupons.values() {
            doc::put_coupon(&mut cat, c, &author).expect("coupon");
        }
        for g in catalog.price_groups.values() {
            doc::put_price_group(&mut cat, g, &author).expect("price group");
        }
        for s in catalog.source_codes.values() {
            doc::put_source_code(&mut cat, s, &author).expect("source code");
        }
        self.put(hq, doc::catalog_doc_id(), &cat);
        for cc in ccs {
            let id = doc::call_center_doc_id(&cc.id);
            let mut d = match self.nodes[hq].replica.load(id) {
                Some(mut d) => {
                    doc::put_call_center(&mut d, cc, &author).expect("cc");
                    d
                }
                None => doc::new_call_center_doc(cc, &author).expect("cc doc"),
            };
            for u in users
                .iter()
                .filter(|u| u.call_center.as_ref() == Some(&cc.id))
            {
                doc::put_user(
                    &mut d,
                    &UserRecord {
                        user: u.clone(),
                        token_hash: String::new(),
                        disabled: false,
                        created_at: None,
                        expires_at: None,
                        password_hash: None,
                    },
                    &author,
                )
                .expect("user");
            }
            self.put(hq, id, &d);
        }
    }

    /// HQ enables or disables a user of a call center.
    pub fn set_disabled(&mut self, hq: usize, u: &User, disabled: bool) {
        let author = self.nodes[hq].replica.author(admin().user);
        let cc = u.call_center.clone().expect("a call-center user");
        let id = doc::call_center_doc_id(&cc);
        let mut d = self.nodes[hq].replica.load(id).expect("call center held");
        let rec = UserRecord {
            user: u.clone(),
            token_hash: String::new(),
            disabled,
            created_at: None,
            expires_at: None,
            password_hash: None,
        };
        doc::put_user(&mut d, &rec, &author).expect("user");
        self.put(hq, id, &d);
    }

    /// What a compromised node can do: write an order event in any user's name, as one change,
    /// without the domain deciding anything.
    pub fn forge(&mut self, i: usize, order: OrderId, by: UserId, ev: &OrderEvent) {
        let mut d = self.nodes[i].replica.load(order.0).expect("order held");
        let author = self.nodes[i].replica.author(by);
        doc::apply_order_event(&mut d, ev, &author).expect("event written");
        self.put(i, order.0, &d);
    }

    /// What a compromised node can do: rewrite a call center's configuration locally.
    pub fn forge_call_center(&mut self, i: usize, cc: &CallCenter, by: UserId) {
        let id = doc::call_center_doc_id(&cc.id);
        let mut d = self.nodes[i].replica.load(id).expect("call center held");
        let author = self.nodes[i].replica.author(by);
        doc::put_call_center(&mut d, cc, &author).expect("config written");
        self.put(i, id, &d);
    }

    fn ctx_parts(&self, i: usize, cc: &CallCenterId) -> (CallCenter, Catalog) {
        let r = &self.nodes[i].replica;
        let config = r
            .call_center(cc)
            .unwrap_or_else(|| panic!("{} has no config for {cc}", self.nodes[i].name));
        (config, r.catalog().unwrap_or_default())
    }

    /// An agent creates a customer on a node.
    pub fn create_customer(
        &mut self,
        i: usize,
        actor: &Actor,
        id: CustomerId,
        name: &str,
    ) -> Customer {
        let cc = actor
            .call_center
            .clone()
            .expect("agents belong to a call center");
        let (config, catalog) = self.ctx_parts(i, &cc);
        let ctx = Ctx {
            cc: &config,
            catalog: &catalog,
            actor,
            now: self.now,
        };
        let fields = CustomerFields {
            name: Some(name.into()),
            ..Default::default()
        };
        let c = customer::create_customer(ctx, id, fields).expect("customer accepted");
        let author = self.nodes[i].replica.author(actor.user);
        let d = doc::create_customer_doc(&c, &author).expect("customer doc");
        self.put(i, id.0, &d);
        c
    }

    /// An agent creates an order on a node for a customer the node holds.
    pub fn create_order(
        &mut self,
        i: usize,
        actor: &Actor,
        id: OrderId,
        customer: CustomerId,
    ) -> Result<Order, OrderError> {
        let cc = actor
            .call_center
            .clone()
            .expect("agents belong to a call center");
        let (config, catalog) = self.ctx_parts(i, &cc);
        let cdoc = self.nodes[i]
            .replica
            .load(customer.0)
            .expect("customer held");
        let (cust, _) = doc::read_customer(&cdoc).expect("customer readable");
        let ctx = Ctx {
            cc: &config,
            catalog: &catalog,
            actor,
            now: self.now,
        };
        let new = commands::NewOrder {
            id,
            customer: cust,
            source_code: None,
            delivery_mode: None,
            ship_to: BTreeMap::new(),
        };
        let order = commands::create_order(ctx, new)?;
        let author = self.nodes[i].replica.author(actor.user);
        let d = doc::create_order_doc(&order, &author).expect("order doc");
        self.put(i, id.0, &d);
        Ok(order)
    }

    /// Runs an order command on a node through the same path as the node's API
    /// (`sync::doc::run_order_command`: the domain decides, the event is written as one change);
    /// an accepted command is then "acknowledged": the store holds it.
    pub fn order_cmd(
        &mut self,
        i: usize,
        actor: &Actor,
        id: OrderId,
        cmd: OrderCommand,
    ) -> Result<OrderEvent, OrderError> {
        let mut d = self.nodes[i].replica.load(id.0).expect("order held");
        let read = doc::read_order(&d).expect("order readable");
        let (config, catalog) = self.ctx_parts(i, &read.0.call_center_id);
        let ctx = Ctx {
            cc: &config,
            catalog: &catalog,
            actor,
            now: self.now,
        };
        let author = self.nodes[i].replica.author(actor.user);
        let decided =
            match doc::run_order_command(&mut d, read, ctx, cmd, &self.nodes[i].replica, &author) {
                Ok(decided) => decided,
                Err(doc::CommandError::Refused(e)) => return Err(e),
                Err(doc::CommandError::Doc(e)) => panic!("event not written: {e}"),
            };
        self.put(i, id.0, &d);
        Ok(decided.event)
    }

    /// Reads an order on a node.
    pub fn read_order(&self, i: usize, id: OrderId) -> Option<(Order, Vec<Conflict>)> {
        let d = self.nodes[i].replica.load(id.0)?;
        Some(doc::read_order(&d).expect("order readable"))
    }

    /// Every order view a node holds.
    pub fn order_views(&self, i: usize) -> BTreeMap<Uuid, (Order, Vec<Conflict>)> {
        let r = &self.nodes[i].replica;
        r.docs_of(DocKind::Order)
            .into_iter()
            .filter_map(|id| self.read_order(i, OrderId(id)).map(|v| (id, v)))
            .collect()
    }

    /// Errors of failed sessions so far.
    pub fn errors(&self) -> &[String] {
        &self.stats.errors
    }
}

// ----- fixtures ------------------------------------------------------------------------------------

/// A call-center id.
pub fn cc_id(s: &str) -> CallCenterId {
    CallCenterId::parse(s).expect("valid call center id")
}

/// A decimal.
pub fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).expect("valid decimal")
}

/// A fresh id from a number.
pub fn uid(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

/// A call center with order completion on, one payment method, a hold code, a reason code.
pub fn call_center(id: &str) -> CallCenter {
    CallCenter {
        id: cc_id(id),
        name: id.to_uppercase(),
        currency: Currency::parse("EUR").expect("EUR"),
        order_completion: true,
        guided_sales: true,
        payment_tolerance: Decimal::ZERO,
        payment_methods: vec![PaymentMethod {
            id: PaymentMethodId::parse("card").expect("id"),
            kind: PaymentKind::Card,
        }],
        delivery_modes: vec![],
        hold_codes: vec![HoldCodeDef {
            id: HoldCode::parse("fraud").expect("id"),
            name: "Fraud check".into(),
            clear_roles: vec![Role::Supervisor],
        }],
        reason_codes: vec![ReasonCodeDef {
            id: ReasonCode::parse("match").expect("id"),
            name: "Match".into(),
        }],
        price_override_limits: BTreeMap::from([
            (Role::Agent, dec("5")),
            (Role::Supervisor, dec("25")),
        ]),
        financial_dimensions: BTreeMap::new(),
        price_group: None,
    }
}

/// Products `tea` (10.00), `mug` (4.00), `box` (20.00, a continuity program every 30 days, 3
/// times); coupon `ONCE` (10 %, usage limit 1).
pub fn catalog() -> Catalog {
    let product = |id: &str, price: &str, continuity: Option<Continuity>| Product {
        id: ProductId::parse(id).expect("id"),
        name: id.to_uppercase(),
        price: dec(price),
        allow_price_override: true,
        image_url: None,
        upsell: vec![],
        cross_sell: vec![],
        script: None,
        continuity,
    };
    let mut c = Catalog::default();
    for p in [
        product("tea", "10.00", None),
        product("mug", "4.00", None),
        product(
            "box",
            "20.00",
            Some(Continuity {
                every_days: 30,
                times: 3,
            }),
        ),
    ] {
        c.products.insert(p.id.clone(), p);
    }
    let once = Coupon {
        code: CouponCode::parse("ONCE").expect("code"),
        kind: CouponKind::Percent,
        value: dec("10"),
        min_order: Decimal::ZERO,
        window: Window::default(),
        max_uses: Some(1),
    };
    c.coupons.insert(once.code.clone(), once);
    c
}

/// A user of a call center.
pub fn user(n: u128, role: Role, cc: &str) -> User {
    User {
        id: UserId(uid(n)),
        name: format!("user-{n}"),
        role,
        call_center: Some(cc_id(cc)),
    }
}

/// The actor of a user.
pub fn actor(u: &User) -> Actor {
    Actor {
        user: u.id,
        role: u.role,
        call_center: u.call_center.clone(),
    }
}

/// An HQ admin.
pub fn admin() -> Actor {
    Actor {
        user: UserId(uid(0xad)),
        role: Role::Admin,
        call_center: None,
    }
}
