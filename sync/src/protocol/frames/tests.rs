//! Frame versions: round trips, the choice of compression, and hostile version 2 frames (bombs,
//! lying sizes, several zstd frames, unknown methods) refused within bounds.

use super::*;

fn request(docs: usize, changes: usize) -> Frame {
    Frame::Request(SyncRequest {
        session: 7,
        n: 1,
        epoch: Uuid::from_u128(9),
        push: (0..docs)
            .map(|i| WireDoc {
                doc: Uuid::from_u128(i as u128),
                kind: WireKind::Order,
                call_center: None,
                heads: vec![[i as u8; 32]],
                // Alike documents, as a batch of orders is.
                changes: (0..changes).map(|j| (j % 17) as u8).collect(),
            })
            .collect(),
        acks: vec![],
        pull: Some(PullSince {
            epoch: None,
            seq: 0,
        }),
        max_bytes: 4096,
    })
}

#[test]
fn both_versions_round_trip() {
    for frame in [request(0, 0), request(1, 10), request(500, 900)] {
        let v1 = encode_frame_as(&frame, FRAME_V1);
        assert_eq!(v1, encode_frame(&frame));
        assert_eq!(frame_version(&v1), Some(FRAME_V1));
        assert_eq!(decode_frame(&v1).expect("v1"), frame);
        let v2 = encode_frame_as(&frame, FRAME_V2);
        assert_eq!(frame_version(&v2), Some(FRAME_V2));
        assert_eq!(decode_frame(&v2).expect("v2"), frame);
        assert_eq!(to_v2(&v1), v2);
    }
}

#[test]
fn small_frames_stay_plain_and_batches_shrink() {
    let small = request(1, 10);
    let v1 = encode_frame(&small);
    let v2 = encode_frame_as(&small, FRAME_V2);
    assert_eq!(v2[1], METHOD_PLAIN);
    assert_eq!(v2.len(), v1.len() + 1, "one byte more than version 1");

    let batch = request(500, 900);
    let v1 = encode_frame(&batch);
    let v2 = encode_frame_as(&batch, FRAME_V2);
    assert_eq!(v2[1], METHOD_ZSTD);
    assert!(v2.len() * 10 < v1.len(), "{} vs {}", v2.len(), v1.len());
}

fn zstd_v2(body: &[u8]) -> Vec<u8> {
    let mut f = vec![FRAME_V2, METHOD_ZSTD];
    f.extend_from_slice(&zstd::bulk::compress(body, 3).expect("compress"));
    f
}

#[test]
fn a_bomb_is_refused_on_its_declared_size() {
    // 33 MiB of zeros compress to a few KiB; the declared size alone refuses them.
    let body = vec![0u8; MAX_FRAME_BYTES as usize + 1024 * 1024];
    let frame = zstd_v2(&body);
    assert!(frame.len() < 64 * 1024);
    assert!(matches!(
        decode_frame(&frame),
        Err(CodecError::TooLarge { size, limit: MAX_FRAME_BYTES }) if size == body.len() as u64
    ));
}

#[test]
fn more_than_declared_is_refused() {
    // Two zstd frames back to back: the first declares a small size, the second adds far more.
    let good = encode_frame(&request(2, 10));
    let mut frame = zstd_v2(&good[1..]);
    frame.extend_from_slice(&zstd::bulk::compress(&vec![1u8; 1 << 20], 3).expect("compress"));
    assert!(matches!(
        decode_frame(&frame),
        Err(CodecError::Malformed(_))
    ));
}

#[test]
fn a_frame_without_a_declared_size_is_refused() {
    // The streaming encoder does not know the size up front and leaves it out.
    let good = encode_frame(&request(2, 10));
    let mut enc = zstd::stream::Encoder::new(Vec::new(), 3).expect("encoder");
    std::io::Write::write_all(&mut enc, &good[1..]).expect("write");
    let z = enc.finish().expect("finish");
    assert_eq!(
        zstd::zstd_safe::get_frame_content_size(&z).ok(),
        Some(None),
        "the test needs a frame without a content size"
    );
    let mut frame = vec![FRAME_V2, METHOD_ZSTD];
    frame.extend_from_slice(&z);
    assert!(matches!(
        decode_frame(&frame),
        Err(CodecError::Malformed(_))
    ));
}

#[test]
fn malformed_version_2_frames_are_refused() {
    let good = encode_frame_as(&request(300, 900), FRAME_V2);
    assert_eq!(good[1], METHOD_ZSTD);
    let mut corrupt = good.clone();
    let n = corrupt.len();
    corrupt[n / 2] ^= 0xff;
    corrupt[n / 2 + 1] ^= 0x55;
    let mut unknown_method = good.clone();
    unknown_method[1] = 9;
    let mut trailing = encode_frame_as(&request(1, 10), FRAME_V2);
    trailing.push(0);
    let mut oversized = vec![FRAME_V2, METHOD_PLAIN];
    oversized.resize(MAX_FRAME_BYTES as usize + 10, 0);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("header only", vec![FRAME_V2]),
        ("no zstd frame", vec![FRAME_V2, METHOD_ZSTD]),
        (
            "not zstd",
            vec![FRAME_V2, METHOD_ZSTD, 1, 2, 3, 4, 5, 6, 7, 8],
        ),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("corrupt", corrupt),
        ("unknown method", unknown_method),
        ("trailing bytes", trailing),
        ("oversized", oversized),
    ];
    for (name, frame) in cases {
        assert!(decode_frame(&frame).is_err(), "{name} was accepted");
    }
}

#[test]
fn an_older_reader_refuses_version_2_as_an_unknown_version() {
    // What a node from before version 2 does with it (and so what `downgrade` answers to).
    let v2 = encode_frame_as(&request(1, 10), FRAME_V2);
    assert_eq!(
        codec::decode::<Frame>(&v2, MAX_FRAME_BYTES),
        Err(CodecError::UnknownVersion(FRAME_V2))
    );
    assert!(CodecError::UnknownVersion(FRAME_V2)
        .to_string()
        .contains("unknown encoding version 2"));
}

/// Negotiation, end to end over in-memory replicas: a site pushing orders to an empty HQ.
mod negotiation {
    use super::*;
    use crate::doc::{self, Author};
    use crate::protocol::engine::error_frame;
    use crate::protocol::mem::MemReplica;
    use crate::protocol::{respond, Initiator, Replica, Role, SyncError};
    use automerge::ActorId;
    use switchboard_domain::ids::UserId;
    use switchboard_domain::Timestamp;

    use crate::protocol::test_fixtures::{identity, order};

    /// A site holding `n` orders and an empty HQ.
    fn site_and_hq(n: u128) -> (MemReplica, MemReplica) {
        let site_id = identity("site", Role::Site);
        let actor = ActorId::from(vec![2u8; 16]);
        let mut site = MemReplica::new(site_id.clone(), actor.clone());
        let author = Author {
            actor,
            user: UserId(Uuid::from_u128(1)),
            node: site_id.node_id,
            now: Timestamp::from_millis(1_780_000_000_000),
        };
        for i in 0..n {
            let o = order(i);
            let d = doc::create_order_doc(&o, &author).expect("order doc");
            site.put(o.id.0, &d).expect("put");
        }
        let hq = MemReplica::new(identity("hq", Role::Hq), ActorId::from(vec![1u8; 16]));
        (site, hq)
    }

    /// A responder from before version 2: it reads version 1 only.
    fn old_respond(hq: &mut MemReplica, site: &crate::protocol::PeerInfo, frame: &[u8]) -> Vec<u8> {
        match codec::decode::<Frame>(frame, MAX_FRAME_BYTES) {
            Ok(_) => respond(hq, site, frame).expect("respond"),
            Err(e) => error_frame(0, &SyncError::Frame(e)),
        }
    }

    /// Runs a session; returns the version bytes of every request and response.
    fn session(
        site: &mut MemReplica,
        hq: &mut MemReplica,
        version: u8,
        old_hq: bool,
    ) -> (Vec<u8>, Vec<u8>) {
        let hq_info = hq.identity().info();
        let site_info = site.identity().info();
        let (mut init, mut frame) =
            Initiator::with_options(&*site, hq_info, 1, 64 * 1024, version).expect("start");
        let (mut out, mut back) = (Vec::new(), Vec::new());
        for _ in 0..1000 {
            out.push(frame[0]);
            let reply = if old_hq {
                old_respond(hq, &site_info, &frame)
            } else {
                respond(hq, &site_info, &frame).expect("respond")
            };
            back.push(reply[0]);
            let step = match init.on_frame(&reply, site) {
                Ok(step) => step,
                Err(SyncError::Remote {
                    code: ErrorCode::Malformed,
                    message,
                }) if message.contains("unknown encoding version 2") => {
                    frame = init.downgrade().expect("a version 1 request");
                    assert!(init.downgrade().is_none(), "only once");
                    continue;
                }
                Err(e) => panic!("{e}"),
            };
            if step.done.is_some() {
                return (out, back);
            }
            frame = step.send.expect("a next frame");
        }
        panic!("the session did not end");
    }

    #[test]
    fn a_new_pair_speaks_version_2() {
        let (mut site, mut hq) = site_and_hq(300);
        let (out, back) = session(&mut site, &mut hq, WIRE_VERSION, false);
        assert!(out.len() > 2, "several round trips: {out:?}");
        assert!(out.iter().chain(&back).all(|v| *v == FRAME_V2));
        assert_eq!(hq.len(), 300);
    }

    #[test]
    fn an_old_responder_gets_version_1_after_one_refusal() {
        let (mut site, mut hq) = site_and_hq(300);
        let (out, back) = session(&mut site, &mut hq, WIRE_VERSION, true);
        assert_eq!(out[0], FRAME_V2);
        assert_eq!(back[0], FRAME_V1, "the refusal");
        assert!(out[1..].iter().chain(&back).all(|v| *v == FRAME_V1));
        assert_eq!(hq.len(), 300);
    }

    #[test]
    fn an_old_initiator_is_answered_in_version_1() {
        let (mut site, mut hq) = site_and_hq(300);
        let (out, back) = session(&mut site, &mut hq, FRAME_V1, false);
        assert!(out.iter().chain(&back).all(|v| *v == FRAME_V1));
        assert_eq!(hq.len(), 300);
    }

    #[test]
    fn downgrade_only_before_the_first_answer() {
        let (site, hq) = site_and_hq(3);
        let (mut init, _) =
            Initiator::with_options(&site, hq.identity().info(), 1, 64 * 1024, FRAME_V1)
                .expect("start");
        assert!(init.downgrade().is_none(), "already version 1");
        let (mut site, mut hq) = site_and_hq(3);
        let (mut init, frame) = Initiator::new(&site, hq.identity().info(), 1).expect("start");
        let reply = respond(&mut hq, &site.identity().info(), &frame).expect("respond");
        init.on_frame(&reply, &mut site).expect("step");
        assert!(init.downgrade().is_none(), "the responder reads version 2");
    }
}
