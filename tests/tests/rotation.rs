//! Node key rotation with real processes: a site makes its next key (`switchboard rotate-key`),
//! announces it over the authenticated link, and HQ records it beside the pinned node id; after
//! `rotate-key --finish` the site presents the new key and HQ, which saw the announcement,
//! syncs with it both ways (and pins the new id); a peer that never saw the announcement refuses
//! the new key.

use serde_json::Value;
use std::process::Command;
use switchboard_tests::api_harness::call_center_body;
use switchboard_tests::cluster::{Cluster, Node, NodeSpec};

/// `switchboard rotate-key --data-dir DIR --json [--finish]` on a stopped node.
fn rotate_key(node: &Node, finish: bool) -> Value {
    let mut c = Command::new(switchboard_tests::bin::switchboard());
    c.arg("rotate-key")
        .arg("--data-dir")
        .arg(&node.data_dir)
        .arg("--json")
        .env_remove("SWITCHBOARD_DATA_DIR");
    if finish {
        c.arg("--finish");
    }
    let out = c.output().expect("run switchboard rotate-key");
    assert!(
        out.status.success(),
        "rotate-key (finish: {finish}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("rotate-key --json prints JSON")
}

/// The node id `node` has pinned for its peer `peer` (`GET /api/v1/peers`).
async fn pinned(node: &Node, peer: &str) -> String {
    let v = node.get("/api/v1/peers", &node.admin).await;
    v.expect(200)["items"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == peer))
        .and_then(|p| p["node_id"].as_str())
        .unwrap_or_else(|| panic!("no peer {peer} at {}", node.name))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_announced_then_accepted_by_peers_that_saw_it() {
    let mut c = Cluster::new();
    c.add(NodeSpec::hq("hq")).await;
    c.add(NodeSpec::hq("hq2")).await;
    c.add(NodeSpec::site("site-a", &["north"])).await;
    c.link("hq", "site-a").await;
    c.link("hq2", "site-a").await;
    let hq = c.node("hq");
    hq.put(
        "/api/v1/call-centers/north",
        &hq.admin,
        call_center_body("North"),
    )
    .await
    .expect(200);
    for (from, r) in c.sync_round().await {
        assert_eq!(r["ok"], true, "{from} -> {}: {r}", r["name"]);
    }
    let old = c.node("site-a").fingerprint.clone();
    assert_eq!(pinned(c.node("hq"), "site-a").await, old);

    // Step 1: hq2 is down for the whole overlap: it never hears of the next key.
    c.node_mut("hq2").stop().await;
    // Step 2: the stopped site makes its next key; the current one is unchanged.
    c.node_mut("site-a").stop().await;
    let started = rotate_key(c.node("site-a"), false);
    assert_eq!(started["node_id"], old.as_str(), "{started}");
    let next = started["next_node_id"]
        .as_str()
        .expect("next node id")
        .to_string();
    assert_ne!(next, old);
    // Asking again keeps the same next key.
    assert_eq!(
        rotate_key(c.node("site-a"), false)["next_node_id"],
        next.as_str()
    );
    // Step 3: the site starts with its current key and announces the next one; sessions both
    // ways go through, and HQ still has the old id pinned (the site has not switched yet).
    c.restart("site-a").await;
    let (hq, site) = (c.node("hq"), c.node("site-a"));
    assert_eq!(site.info().await["fingerprint"], old.as_str());
    assert_eq!(site.sync_with("hq").await["ok"], true);
    assert_eq!(hq.sync_with("site-a").await["ok"], true);
    assert_eq!(pinned(hq, "site-a").await, old);

    // Step 4: the rotation is finished; the site presents the new key.
    c.node_mut("site-a").stop().await;
    let finished = rotate_key(c.node("site-a"), true);
    assert_eq!(finished["node_id"], next.as_str(), "{finished}");
    c.restart("site-a").await;
    let (hq, site) = (c.node("hq"), c.node("site-a"));
    assert_eq!(site.info().await["fingerprint"], next.as_str());
    // HQ saw the announcement: it accepts the new key as a server and as a client.
    let r = hq.sync_with("site-a").await;
    assert_eq!(r["ok"], true, "hq -> site-a after the rotation: {r}");
    let r = site.sync_with("hq").await;
    assert_eq!(r["ok"], true, "site-a -> hq after the rotation: {r}");
    // Seen with the new key, the new id is the pinned one (and the old one is dropped).
    assert_eq!(pinned(hq, "site-a").await, next);
    // Data still flows: a change at HQ reaches the site.
    hq.put(
        "/api/v1/call-centers/north",
        &hq.admin,
        call_center_body("North Renamed"),
    )
    .await
    .expect(200);
    assert_eq!(hq.sync_with("site-a").await["ok"], true);
    let cc = site.get("/api/v1/call-centers/north", &site.admin).await;
    assert_eq!(cc.expect(200)["name"], "North Renamed");

    // Step 5: hq2 never saw the announcement: it refuses the new key both ways, and nothing
    // it holds changes.
    c.restart("hq2").await;
    let (hq2, site) = (c.node("hq2"), c.node("site-a"));
    let r = hq2.sync_with("site-a").await;
    assert_eq!(r["ok"], false, "hq2 -> site-a with an unannounced key: {r}");
    let r = site.sync_with("hq2").await;
    assert_eq!(r["ok"], false, "site-a -> hq2 with an unannounced key: {r}");
    assert_eq!(pinned(hq2, "site-a").await, old);
}
