//! The catalog document: products, price groups, source codes and coupons, each a JSON-text
//! register in a map keyed by its id. Written only at HQ.

use super::rw::{change, expect_kind, hydrate_root, parse_key, root_map, to_json, HMap, Node, Rd};
use super::{Author, DocError, DocKind};
use automerge::transaction::Transactable;
use automerge::{Automerge, ReadDoc, ScalarValue, Value, ROOT};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use switchboard_domain::config::{Catalog, Coupon, PriceGroup, Product, SourceCodeDef};
use switchboard_domain::ProductId;

const MAPS: [&str; 4] = ["products", "price_groups", "source_codes", "coupons"];

/// Creates the catalog document (created once, at HQ init).
pub fn new_catalog_doc(author: &Author) -> Result<Automerge, DocError> {
    let root = MAPS
        .iter()
        .fold(HMap::root(DocKind::Catalog), |m, k| m.map(k, HMap::new()))
        .into_map();
    let mut doc = Automerge::new();
    change(&mut doc, author, "created catalog", |tx| {
        Ok(tx.init_root_from_hydrate(&root)?)
    })?;
    Ok(doc)
}

fn put_record(
    doc: &mut Automerge,
    map: &str,
    key: &str,
    json: String,
    author: &Author,
    summary: &str,
) -> Result<(), DocError> {
    expect_kind(doc, DocKind::Catalog)?;
    change(doc, author, summary, |tx| {
        let obj = root_map(tx, map)?;
        tx.put(&obj, key, json)?;
        Ok(())
    })
}

/// Adds or replaces a product.
pub fn put_product(doc: &mut Automerge, p: &Product, author: &Author) -> Result<(), DocError> {
    put_record(
        doc,
        "products",
        p.id.as_str(),
        to_json(p)?,
        author,
        &format!("put product {}", p.id),
    )
}

/// Adds or replaces a price group.
pub fn put_price_group(
    doc: &mut Automerge,
    g: &PriceGroup,
    author: &Author,
) -> Result<(), DocError> {
    put_record(
        doc,
        "price_groups",
        g.id.as_str(),
        to_json(g)?,
        author,
        &format!("put price group {}", g.id),
    )
}

/// Adds or replaces a source code.
pub fn put_source_code(
    doc: &mut Automerge,
    s: &SourceCodeDef,
    author: &Author,
) -> Result<(), DocError> {
    put_record(
        doc,
        "source_codes",
        s.code.as_str(),
        to_json(s)?,
        author,
        &format!("put source code {}", s.code),
    )
}

/// Adds or replaces a coupon.
pub fn put_coupon(doc: &mut Automerge, c: &Coupon, author: &Author) -> Result<(), DocError> {
    put_record(
        doc,
        "coupons",
        c.code.as_str(),
        to_json(c)?,
        author,
        &format!("put coupon {}", c.code),
    )
}

fn read_map<K: DeserializeOwned + Ord, T: DeserializeOwned>(
    rd: &mut Rd<'_, Automerge>,
    root: &Node<'_>,
    name: &str,
) -> Result<BTreeMap<K, T>, DocError> {
    let node = rd.map(root, name)?;
    let mut out = BTreeMap::new();
    for key in node.keys() {
        let k: K = parse_key(name, key)?;
        out.insert(k, rd.json(&node, key)?);
    }
    Ok(out)
}

/// Reads the whole catalog.
pub fn read_catalog(doc: &Automerge) -> Result<Catalog, DocError> {
    expect_kind(doc, DocKind::Catalog)?;
    let h = hydrate_root(doc)?;
    let root = Node::root(&h);
    let mut rd = Rd::quiet(doc);
    Ok(Catalog {
        products: read_map(&mut rd, &root, "products")?,
        price_groups: read_map(&mut rd, &root, "price_groups")?,
        source_codes: read_map(&mut rd, &root, "source_codes")?,
        coupons: read_map(&mut rd, &root, "coupons")?,
    })
}

/// The root key of a product's picture: one bytes register beside the catalog's maps (a scalar,
/// so that no nested object is created after the document's first change), holding the media
/// type, a NUL byte and the image's bytes, so both change together.
fn image_key(product: &ProductId) -> String {
    format!("image:{product}")
}

/// Stores (or replaces) a product's picture. The caller checks its type and size.
pub fn put_product_image(
    doc: &mut Automerge,
    product: &ProductId,
    media_type: &str,
    bytes: &[u8],
    author: &Author,
) -> Result<(), DocError> {
    expect_kind(doc, DocKind::Catalog)?;
    let mut value = Vec::with_capacity(media_type.len() + 1 + bytes.len());
    value.extend_from_slice(media_type.as_bytes());
    value.push(0);
    value.extend_from_slice(bytes);
    change(
        doc,
        author,
        &format!("put image of product {product}"),
        |tx| {
            tx.put(ROOT, image_key(product), ScalarValue::Bytes(value))?;
            Ok(())
        },
    )
}

/// A product's picture: its media type and bytes, if one was stored.
pub fn read_product_image(
    doc: &Automerge,
    product: &ProductId,
) -> Result<Option<(String, Vec<u8>)>, DocError> {
    expect_kind(doc, DocKind::Catalog)?;
    let Some((Value::Scalar(s), _)) = doc.get(ROOT, image_key(product))? else {
        return Ok(None);
    };
    let ScalarValue::Bytes(b) = s.as_ref() else {
        return Ok(None);
    };
    let Some(nul) = b.iter().position(|&c| c == 0) else {
        return Ok(None);
    };
    let media_type = String::from_utf8_lossy(&b[..nul]).into_owned();
    Ok(Some((media_type, b[nul + 1..].to_vec())))
}
