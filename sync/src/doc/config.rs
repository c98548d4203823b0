//! A call center's configuration document: the configuration as one JSON-text register and the
//! users in a map keyed by user id (each a JSON-text register). Written only at HQ.

use super::rw::{
    change, expect_kind, hydrate_root, parse_key, root_code, root_map, to_json, HMap, Node, Rd,
};
use super::{Author, CallCenterState, DocError, DocKind, UserRecord};
use automerge::transaction::Transactable;
use automerge::{Automerge, ROOT};
use std::collections::BTreeMap;
use switchboard_domain::config::CallCenter;
use switchboard_domain::ids::{CallCenterId, UserId};

/// Creates a call center's configuration document (skeleton, configuration, empty user map).
pub fn new_call_center_doc(cc: &CallCenter, author: &Author) -> Result<Automerge, DocError> {
    let root = HMap::root(DocKind::CallCenter)
        .put("call_center", cc.id.as_str())
        .put("config", to_json(cc)?)
        .map("users", HMap::new())
        .into_map();
    let mut doc = Automerge::new();
    change(
        &mut doc,
        author,
        &format!("created call center {}", cc.id),
        |tx| Ok(tx.init_root_from_hydrate(&root)?),
    )?;
    Ok(doc)
}

fn check_cc(doc: &Automerge, cc: &CallCenterId) -> Result<(), DocError> {
    expect_kind(doc, DocKind::CallCenter)?;
    let own: CallCenterId = root_code(doc, "call_center")?;
    if &own != cc {
        return Err(DocError::Mismatch(format!(
            "call center {cc} written into the document of {own}"
        )));
    }
    Ok(())
}

/// Replaces the configuration.
pub fn put_call_center(
    doc: &mut Automerge,
    cc: &CallCenter,
    author: &Author,
) -> Result<(), DocError> {
    check_cc(doc, &cc.id)?;
    let json = to_json(cc)?;
    change(
        doc,
        author,
        &format!("updated call center {}", cc.id),
        |tx| Ok(tx.put(ROOT, "config", json)?),
    )
}

/// Adds or replaces a user record; the user must belong to this call center.
pub fn put_user(doc: &mut Automerge, u: &UserRecord, author: &Author) -> Result<(), DocError> {
    let cc = u.user.call_center.clone().ok_or_else(|| {
        DocError::Mismatch(format!("user {} belongs to no call center", u.user.id))
    })?;
    check_cc(doc, &cc)?;
    let json = to_json(u)?;
    change(
        doc,
        author,
        &format!("put user {} ({})", u.user.id, u.user.role.as_str()),
        |tx| {
            let users = root_map(tx, "users")?;
            tx.put(&users, u.user.id.to_string(), json)?;
            Ok(())
        },
    )
}

/// Reads the configuration and users.
pub fn read_call_center(doc: &Automerge) -> Result<CallCenterState, DocError> {
    expect_kind(doc, DocKind::CallCenter)?;
    let h = hydrate_root(doc)?;
    let root = Node::root(&h);
    let mut rd = Rd::quiet(doc);
    let config: CallCenter = rd.json(&root, "config")?;
    let users_node = rd.map(&root, "users")?;
    let mut users = BTreeMap::new();
    for key in users_node.keys() {
        let id: UserId = parse_key("users", key)?;
        let rec: UserRecord = rd.json(&users_node, key)?;
        users.insert(id, rec);
    }
    Ok(CallCenterState { config, users })
}
