//! Product pictures: uploaded at HQ (PNG, JPEG, WebP or SVG, at most [`MAX_IMAGE_BYTES`], the
//! type told by the bytes themselves), kept in the catalog document and so synced to every node
//! like the rest of the catalog; every node serves them, also during a WAN outage.

use super::{AppState, ServiceError, ServiceResult};
use crate::auth::CurrentUser;
use crate::store::{DocKind, DocMeta, StoreExt};
use switchboard_domain::ProductId;
use switchboard_sync::doc as sdoc;

/// Largest picture accepted.
pub const MAX_IMAGE_BYTES: usize = 256 * 1024;

/// The media type of a picture by its signature, if it is one of PNG, JPEG, WebP or SVG. An SVG
/// with a script or an event handler is refused: pictures never run code.
pub fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some("image/png");
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some("image/jpeg");
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let lower = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .to_ascii_lowercase();
    let svg = (lower.starts_with("<svg") || lower.starts_with("<?xml")) && lower.contains("<svg");
    let active = lower.contains("<script")
        || lower.contains("javascript:")
        || lower.contains("<foreignobject")
        || lower
            .split(|c: char| c.is_whitespace())
            .any(|w| w.starts_with("on") && w.contains('='));
    (svg && !active).then_some("image/svg+xml")
}

impl AppState {
    /// Stores a product's picture (admins, at HQ): 422 for anything but PNG, JPEG, WebP or SVG
    /// of at most [`MAX_IMAGE_BYTES`].
    pub async fn put_product_image(
        &self,
        user: &CurrentUser,
        id: ProductId,
        bytes: Vec<u8>,
    ) -> ServiceResult<()> {
        self.require_config_writer(user)?;
        if !self.catalog().products.contains_key(&id) {
            return Err(ServiceError::not_found(format!(
                "product {id} does not exist"
            )));
        }
        if bytes.len() > MAX_IMAGE_BYTES {
            return Err(ServiceError::invalid_field(
                "body",
                format!("a picture may have at most {MAX_IMAGE_BYTES} bytes"),
            ));
        }
        let media_type = image_type(&bytes).ok_or_else(|| {
            ServiceError::invalid_field(
                "body",
                "must be a PNG, JPEG, WebP or SVG picture (an SVG without scripts)",
            )
        })?;
        let author = self.author(user.0.id);
        self.write(move |ctx| {
            let doc_id = sdoc::catalog_doc_id();
            let (_, mut doc) = ctx
                .load_doc(doc_id)?
                .ok_or_else(|| ServiceError::not_found(format!("product {id} does not exist")))?;
            sdoc::put_product_image(&mut doc, &id, media_type, &bytes, &author)?;
            let meta = DocMeta {
                kind: DocKind::Catalog,
                call_center: None,
            };
            ctx.put_doc(doc_id, meta, &doc)?;
            Ok(())
        })
        .await
    }

    /// A product's picture: its media type and bytes.
    pub async fn product_image(&self, id: ProductId) -> ServiceResult<(String, Vec<u8>)> {
        let missing = format!("product {id} has no picture");
        let not_found = move || ServiceError::not_found(missing.clone());
        self.read(move |s| {
            let Some((_, doc)) = s.load_doc(sdoc::catalog_doc_id())? else {
                return Err(not_found());
            };
            sdoc::read_product_image(&doc, &id)?.ok_or_else(not_found)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::image_type;

    #[test]
    fn pictures_are_told_by_their_bytes() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(image_type(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(image_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(
            image_type(b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            Some("image/svg+xml")
        );
        assert_eq!(
            image_type(b"<?xml version='1.0'?><svg/>"),
            Some("image/svg+xml")
        );
        assert_eq!(image_type(b"<svg><script>alert(1)</script></svg>"), None);
        assert_eq!(image_type(b"<svg onload=alert(1)></svg>"), None);
        assert_eq!(image_type(b"GIF89a"), None);
        assert_eq!(image_type(b"<html></html>"), None);
        assert_eq!(image_type(b""), None);
    }
}
