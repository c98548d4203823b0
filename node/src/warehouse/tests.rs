//! Unit tests of the follower's parts: backoff, lag, target descriptions.

use super::*;

#[test]
fn backoff_doubles_to_its_cap_and_resets() {
    let mut b = Backoff::new();
    let delays: Vec<Duration> = (0..8).map(|_| b.next_delay(0.5)).collect();
    assert_eq!(delays[0], MIN_BACKOFF);
    assert_eq!(delays[1], MIN_BACKOFF * 2);
    assert_eq!(delays[2], MIN_BACKOFF * 4);
    assert!(delays.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(*delays.last().expect("delays"), MAX_BACKOFF);
    assert_eq!(b.failures(), 8);
    // Jitter stays within ±20 % and never passes the cap.
    let mut b = Backoff::new();
    assert_eq!(b.next_delay(0.0), MIN_BACKOFF.mul_f64(0.8));
    for _ in 0..40 {
        assert!(b.next_delay(0.999) <= MAX_BACKOFF);
    }
    b.reset();
    assert_eq!(b.next_delay(0.5), MIN_BACKOFF);
}

#[test]
fn lag_counts_the_whole_feed_for_another_epoch() {
    let epoch = Uuid::from_u128(1);
    let at = |e: u128, seq| {
        Some(Position {
            epoch: Uuid::from_u128(e),
            seq,
        })
    };
    assert_eq!(lag(10, epoch, at(1, 4)), 6);
    assert_eq!(lag(10, epoch, at(1, 10)), 0);
    assert_eq!(lag(10, epoch, at(2, 4)), 10);
    assert_eq!(lag(10, epoch, None), 10);
    assert_eq!(lag(3, epoch, at(1, 5)), 0);
}

#[test]
fn failures_keep_what_the_sources_say() {
    #[derive(Debug, thiserror::Error)]
    #[error("db error")]
    struct Outer(#[source] Inner);
    #[derive(Debug, thiserror::Error)]
    #[error("ERROR: relation \"orders\" does not exist")]
    struct Inner;
    assert_eq!(
        with_sources(&Outer(Inner)),
        "db error: ERROR: relation \"orders\" does not exist"
    );
    let f = Failure::from(WarehouseError::Connect {
        target: "db:5432/hq".into(),
        reason: "connection refused".into(),
    });
    assert_eq!(f.kind, "connect");
    assert_eq!(
        f.message,
        "cannot connect to PostgreSQL at db:5432/hq: connection refused"
    );
}

#[test]
fn a_document_loads_the_same_in_one_pass() {
    use automerge::transaction::Transactable;
    use automerge::ReadDoc;
    let mut doc = Automerge::new();
    let put = |doc: &mut Automerge, k: &str, v: i64| {
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(automerge::ROOT, k, v)?;
            Ok(())
        })
        .expect("transact");
    };
    put(&mut doc, "a", 1);
    let bytes = doc.save();
    let mut heads = doc.get_heads();
    let mut increments = Vec::new();
    for (k, v) in [("b", 2), ("a", 3), ("c", 4)] {
        put(&mut doc, k, v);
        increments.push(doc.save_after(&heads));
        heads = doc.get_heads();
    }
    let rec = DocRecord {
        meta: crate::store::DocMeta {
            kind: crate::store::DocKind::Order,
            call_center: None,
        },
        seq: 1,
        heads: heads.iter().map(|h| h.0).collect(),
        bytes,
        increments,
    };
    let id = Uuid::from_u128(7);
    let fast = load(&rec, id).expect("one pass");
    let slow = rec.load(id).expect("in turn");
    assert_eq!(fast.get_heads(), slow.get_heads());
    assert_eq!(fast.get_heads(), doc.get_heads());
    assert_eq!(
        fast.get(automerge::ROOT, "a")
            .expect("a")
            .map(|(v, _)| v.to_string()),
        Some("3".to_string())
    );
    // A damaged increment is read as leniently as `DocRecord::load` reads it.
    let mut bad = rec.clone();
    bad.increments[1] = vec![1, 2, 3];
    assert_eq!(
        load(&bad, id).expect("lenient").get_heads(),
        bad.load(id).expect("lenient").get_heads()
    );
}

#[test]
fn the_target_never_shows_the_password() {
    assert_eq!(
        describe_target("postgres://sb:secret@db.example:6543/hq").as_deref(),
        Some("db.example:6543/hq")
    );
    assert_eq!(
        describe_target("host=10.0.0.5 dbname=wh password=secret").as_deref(),
        Some("10.0.0.5:5432/wh")
    );
    assert_eq!(describe_target("postgres://h:notaport/x"), None);
}
