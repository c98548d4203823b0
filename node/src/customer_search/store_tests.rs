//! The customer search index in a real store with the node's projector: kept with every write
//! of a customer (created, changed locally, changed by a merge from a peer), equal after a
//! rebuild, and a search through it finds exactly what a scan finds.

use super::*;
use crate::auth::CurrentUser;
use crate::identity::init_data_dir;
use crate::read_model::{projector, ConfigCache, READ_MODEL_VERSION};
use crate::service::customers::{scan_customers, search_customers};
use crate::store::{DocKind, DocMeta, Storage, StoreOptions, WriteCtx};
use crate::views::Page;
use automerge::{ActorId, Automerge};
use std::collections::BTreeMap;
use std::sync::Arc;
use switchboard_domain::config::Role;
use switchboard_domain::config::User;
use switchboard_domain::customer::{Customer, CustomerEvent};
use switchboard_domain::order::Stamp;
use switchboard_domain::{CallCenterId, CustomerId, NodeId, Timestamp, UserId};
use switchboard_sync::doc::{self as sdoc, Author};
use switchboard_sync::protocol::Role as NodeRole;

fn open(dir: &std::path::Path) -> Storage {
    let opts = StoreOptions {
        projector: Some(projector(Arc::new(ConfigCache::default()))),
        read_model_version: READ_MODEL_VERSION,
        ..StoreOptions::default()
    };
    Storage::open(dir, opts).expect("open")
}

fn new_store() -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().expect("tempdir");
    init_data_dir(dir.path(), "test-node", NodeRole::Hq, &[], false).expect("init");
    let s = open(dir.path());
    (dir, s)
}

fn cc(name: &str) -> CallCenterId {
    CallCenterId::parse(name.to_string()).expect("call center id")
}

fn author(actor: u8) -> Author {
    Author {
        actor: ActorId::from([actor; 16]),
        user: UserId(Uuid::from_u128(7)),
        node: NodeId(Uuid::from_u128(u128::from(actor))),
        now: Timestamp::from_millis(1_800_000_000_000),
    }
}

fn customer(n: u128, cc_: &str, name: &str, phone: Option<&str>, email: Option<&str>) -> Customer {
    Customer {
        // Ids in creation order, as UUID v7 gives them.
        id: CustomerId(Uuid::from_u128((1 << 100) + n)),
        call_center_id: cc(cc_),
        name: name.into(),
        phone: phone.map(String::from),
        email: email.map(String::from),
        address: BTreeMap::new(),
        notes: BTreeMap::new(),
        catalog_requests: BTreeMap::new(),
        created: Stamp {
            by: UserId(Uuid::from_u128(7)),
            at: Timestamp::from_millis(1_800_000_000_000),
        },
    }
}

fn meta(c: &Customer) -> DocMeta {
    DocMeta {
        kind: DocKind::Customer,
        call_center: Some(c.call_center_id.clone()),
    }
}

async fn put(s: &Storage, id: Uuid, meta: DocMeta, doc: Automerge) {
    s.submit(move |ctx: &mut WriteCtx<'_>| ctx.put_doc(id, meta, &doc))
        .await
        .expect("put");
}

async fn create(s: &Storage, c: &Customer) -> Automerge {
    let doc = sdoc::create_customer_doc(c, &author(1)).expect("doc");
    put(s, c.id.0, meta(c), doc.clone()).await;
    doc
}

fn update(
    name: Option<&str>,
    phone: Option<Option<&str>>,
    email: Option<Option<&str>>,
) -> CustomerEvent {
    CustomerEvent::Updated {
        name: name.map(String::from),
        phone: phone.map(|p| p.map(String::from)),
        email: email.map(|e| e.map(String::from)),
        address: None,
    }
}

/// Every index entry, as (gram, customer).
fn index(s: &Storage) -> BTreeSet<(String, Uuid)> {
    s.store()
        .iter_prefix(TreeId::IdxCustomerSearch, b"", false)
        .map(|kv| {
            let (k, _) = kv.expect("read");
            let n = usize::from(k[0]);
            assert_eq!(k.len(), 1 + n + 16, "key layout");
            let gram = String::from_utf8(k[1..1 + n].to_vec()).expect("utf-8");
            (gram, Uuid::from_slice(&k[1 + n..]).expect("uuid"))
        })
        .collect()
}

fn grams_of_customer(s: &Storage, id: Uuid) -> BTreeSet<String> {
    index(s)
        .into_iter()
        .filter(|(_, c)| *c == id)
        .map(|(g, _)| g)
        .collect()
}

fn found(s: &Storage, q: &str) -> Vec<Uuid> {
    let grams = query_grams(q).expect("long enough");
    let mut out = Vec::new();
    candidates(s.store(), &grams, &[], |id| {
        out.push(id);
        Ok(true)
    })
    .expect("candidates");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_customer_is_indexed_by_its_fields_grams() {
    let (_dir, s) = new_store();
    let c = customer(
        1,
        "cc1",
        "Ada Lovelace",
        Some("+44 20 7946"),
        Some("Ada@Example.com"),
    );
    create(&s, &c).await;
    assert_eq!(
        grams_of_customer(&s, c.id.0),
        customer_grams("Ada Lovelace", Some("+44 20 7946"), Some("Ada@Example.com"))
    );
    assert!(grams_of_customer(&s, c.id.0).contains("lov"));
    assert_eq!(found(&s, "lovel"), vec![c.id.0]);
    assert_eq!(found(&s, "20 79"), vec![c.id.0]);
    assert_eq!(found(&s, "@example.c"), vec![c.id.0]);
    assert!(found(&s, "zzz").is_empty());
    s.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_replaces_the_old_grams() {
    let (_dir, s) = new_store();
    let c = customer(
        1,
        "cc1",
        "Ada Lovelace",
        Some("+44 20 7946"),
        Some("ada@example.com"),
    );
    let other = customer(2, "cc1", "Bob Lovelace", None, None);
    let mut doc = create(&s, &c).await;
    create(&s, &other).await;
    sdoc::apply_customer_event(
        &mut doc,
        &update(Some("Ada Byron"), Some(Some("555 0199")), Some(None)),
        &author(1),
    )
    .expect("change");
    put(&s, c.id.0, meta(&c), doc).await;
    assert_eq!(
        grams_of_customer(&s, c.id.0),
        customer_grams("Ada Byron", Some("555 0199"), None)
    );
    // Old name, phone and email find it no more; the other customer keeps its entries.
    assert_eq!(found(&s, "lovelace"), vec![other.id.0]);
    assert!(found(&s, "7946").is_empty());
    assert!(found(&s, "example").is_empty());
    assert_eq!(found(&s, "byron"), vec![c.id.0]);
    assert_eq!(found(&s, "0199"), vec![c.id.0]);
    s.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_from_a_peer_updates_the_index() {
    let (_dir, s) = new_store();
    let c = customer(1, "cc1", "Ada Lovelace", Some("+44 20 7946"), None);
    let mut doc = create(&s, &c).await;
    // The peer holds the same document and changes the phone and email with its own actor.
    let mut peer = doc.fork().with_actor(ActorId::from([2u8; 16]));
    sdoc::apply_customer_event(
        &mut peer,
        &update(
            None,
            Some(Some("+1 312 555 0123")),
            Some(Some("ada@peer.example")),
        ),
        &author(2),
    )
    .expect("peer change");
    // What the sync driver does with a peer's changes: merge, then store.
    doc.merge(&mut peer).expect("merge");
    put(&s, c.id.0, meta(&c), doc).await;
    assert!(found(&s, "7946").is_empty());
    assert_eq!(found(&s, "312 555"), vec![c.id.0]);
    assert_eq!(found(&s, "peer.ex"), vec![c.id.0]);
    assert_eq!(
        grams_of_customer(&s, c.id.0),
        customer_grams(
            "Ada Lovelace",
            Some("+1 312 555 0123"),
            Some("ada@peer.example")
        )
    );
    s.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_equals_the_incremental_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    init_data_dir(dir.path(), "test-node", NodeRole::Hq, &[], false).expect("init");
    let s = open(dir.path());
    let mut docs = Vec::new();
    for i in 0..40u128 {
        let c = customer(
            i,
            if i % 3 == 0 { "cc2" } else { "cc1" },
            &format!("Name {i} Ülker"),
            (i % 2 == 0).then(|| format!("+44 {i:05}")).as_deref(),
            Some(&format!("c{i}@example.com")),
        );
        docs.push((c.clone(), create(&s, &c).await));
    }
    for (i, (c, doc)) in docs.iter_mut().enumerate().step_by(3) {
        let ev = update(Some(&format!("Renamed {i}")), Some(None), None);
        sdoc::apply_customer_event(doc, &ev, &author(1)).expect("change");
        put(&s, c.id.0, meta(c), doc.clone()).await;
    }
    let incremental = index(&s);
    assert!(incremental.iter().any(|(g, _)| g == "ren"));
    assert!(!incremental
        .iter()
        .any(|(g, c)| g == "+44" && *c == docs[0].0.id.0));
    assert_eq!(s.rebuild_read_model().await.expect("rebuild"), 40);
    assert_eq!(index(&s), incremental);
    s.shutdown().await.expect("shutdown");
    drop(s);
    // A store whose read model is from an older version rebuilds at open, to the same index.
    {
        let store = crate::store::sled::SledStore::open(dir.path(), 1 << 20).expect("open raw");
        store
            .apply(&[crate::store::Op {
                tree: TreeId::Meta,
                key: crate::store::records::keys::READ_MODEL_VERSION.to_vec(),
                value: Some(2u32.to_be_bytes().to_vec()),
            }])
            .expect("apply");
        store
            .clear(TreeId::IdxCustomerSearch)
            .expect("clear the index");
        store.flush().expect("flush");
    }
    let s = open(dir.path());
    assert_eq!(s.open_report().rebuilt_read_model, Some(40));
    assert_eq!(index(&s), incremental);
    s.shutdown().await.expect("shutdown");
}

/// A small deterministic generator (no dependency for a test's random data).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

fn user(role: Role, cc_: Option<&str>) -> CurrentUser {
    CurrentUser(User {
        id: UserId(Uuid::from_u128(9)),
        name: "tester".into(),
        role,
        call_center: cc_.map(cc),
    })
}

/// Every page of a search, with the cursors between them.
type Pages = Vec<(Vec<Uuid>, Option<String>)>;

fn all_pages(s: &Storage, user: &CurrentUser, q: &str, limit: usize, indexed: bool) -> Pages {
    let q = q.trim().to_lowercase();
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = Page::parse(Some(&limit.to_string()), cursor.as_deref(), 'u').expect("page");
        let (items, next) = if indexed {
            let grams = query_grams(&q).expect("long enough");
            search_customers(s.store(), user, &q, &grams, &page).expect("search")
        } else {
            scan_customers(s.store(), user, &q, &page).expect("scan")
        };
        out.push((items.iter().map(|c| c.id.0).collect(), next.clone()));
        match next {
            Some(n) => cursor = Some(n),
            None => return out,
        }
        assert!(out.len() < 1000, "paging does not end");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_through_the_index_finds_what_a_scan_finds() {
    let (_dir, s) = new_store();
    let mut r = Lcg(10);
    let first = [
        "Ada",
        "Ben",
        "Carla",
        "Dana",
        "Éli",
        "Fay",
        "ANNA",
        "Anne-Marie",
    ];
    let last = [
        "Jones",
        "Smith",
        "Garcia",
        "Müller",
        "Rossi",
        "O\"Hara",
        "Back\\slash",
    ];
    let domains = ["example.com", "Mail.TEST", "corp.example.org"];
    let mut fields = Vec::new();
    for i in 0..300u128 {
        let name = format!(
            "{} {}{}",
            r.pick(&first),
            r.pick(&last),
            if i % 4 == 0 {
                format!(" {i}")
            } else {
                String::new()
            }
        );
        let phone = (r.below(4) != 0).then(|| {
            format!(
                "+{} {:03} {:04}",
                r.below(50),
                r.below(1000),
                r.below(10000)
            )
        });
        let email = (r.below(3) != 0).then(|| {
            format!(
                "{}.{}{}@{}",
                r.pick(&first).to_lowercase(),
                r.below(100),
                if i % 5 == 0 { "x" } else { "" },
                r.pick(&domains)
            )
        });
        let c = customer(
            i,
            if i % 4 == 0 { "cc2" } else { "cc1" },
            &name,
            phone.as_deref(),
            email.as_deref(),
        );
        create(&s, &c).await;
        fields.push((name, phone, email));
    }
    // Queries: pieces of real fields (in any case), and strings matching nothing.
    let mut queries: Vec<String> = vec![
        "smith".into(),
        "MÜLLER".into(),
        "o\"ha".into(),
        "k\\sl".into(),
        "  jones ".into(),
        "example".into(),
        "nobody at all".into(),
        "zzz".into(),
        "+1 ".into(),
    ];
    for _ in 0..150 {
        let (name, phone, email) = &fields[r.below(fields.len())];
        let text: &str = match r.below(3) {
            0 => name,
            1 => phone.as_deref().unwrap_or(name),
            _ => email.as_deref().unwrap_or(name),
        };
        let chars: Vec<char> = text.chars().collect();
        let len = 3 + r.below(chars.len().saturating_sub(2).max(1));
        let start = r.below(chars.len().saturating_sub(len) + 1);
        let piece: String = chars[start..(start + len).min(chars.len())]
            .iter()
            .collect();
        queries.push(if r.below(2) == 0 {
            piece.to_uppercase()
        } else {
            piece
        });
    }
    let users = [
        user(Role::Admin, None),
        user(Role::Agent, Some("cc1")),
        user(Role::Supervisor, Some("cc2")),
    ];
    let mut nonempty = 0;
    for (i, q) in queries.iter().enumerate() {
        if query_grams(&q.trim().to_lowercase()).is_none() {
            continue;
        }
        let u = &users[i % users.len()];
        let limit = [1, 3, 50][i % 3];
        let scanned = all_pages(&s, u, q, limit, false);
        let searched = all_pages(&s, u, q, limit, true);
        assert_eq!(searched, scanned, "query {q:?}, limit {limit}");
        if !scanned[0].0.is_empty() {
            nonempty += 1;
        }
    }
    // The comparison is not between two empty answers.
    assert!(nonempty > 100, "only {nonempty} queries found someone");
    s.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_whose_grams_are_all_common_walks_the_sparsest_list() {
    let (_dir, s) = new_store();
    // Every gram of "ame n" is in each of 300 customers (more entries than the probe reads of
    // each list); "e 2" and "e 1" of the others in 111 of them.
    for i in 0..300u128 {
        create(
            &s,
            &customer(i, "cc1", &format!("Same Name {i}"), None, None),
        )
        .await;
    }
    let admin = user(Role::Admin, None);
    for q in ["same name 2", "Same Name 29", "ame n", "name 1"] {
        for limit in [1, 40] {
            let scanned = all_pages(&s, &admin, q, limit, false);
            assert_eq!(all_pages(&s, &admin, q, limit, true), scanned, "{q}");
            assert!(!scanned[0].0.is_empty(), "{q} finds someone");
        }
    }
    s.shutdown().await.expect("shutdown");
}
