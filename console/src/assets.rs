//! Assets embedded in the binary (no CDN, no JavaScript build step): the style sheet, the
//! script; and product pictures: the one uploaded to the catalog, else one drawn as SVG from the
//! product's name, so lines show a picture with no link to the internet, also during a WAN outage.

use crate::auth::{SignInFirst, Watching};
use crate::Console;
use axum::extract::{Path, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use switchboard_domain::ProductId;

const CSS: &str = include_str!("../assets/console.css");
const JS: &str = include_str!("../assets/console.js");

/// `GET /console/assets/{name}`.
pub async fn asset(Path(name): Path<String>) -> Response {
    let (ty, body) = match name.as_str() {
        "console.css" => ("text/css; charset=utf-8", CSS),
        "console.js" => ("text/javascript; charset=utf-8", JS),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(CONTENT_TYPE, ty), (CACHE_CONTROL, "no-cache")], body).into_response()
}

fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '&' => "&amp;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// The picture of a product: its initials on a colour of its own.
pub fn product_svg(id: &str, name: &str) -> String {
    let hue = id
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % 360;
    let initials: String = name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .collect::<String>()
        .to_uppercase();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"48\" height=\"48\" viewBox=\"0 0 48 48\" role=\"img\" aria-label=\"{label}\">\
<rect width=\"48\" height=\"48\" rx=\"8\" fill=\"hsl({hue},55%,40%)\"/>\
<text x=\"24\" y=\"31\" font-family=\"sans-serif\" font-size=\"18\" fill=\"#fff\" text-anchor=\"middle\">{initials}</text></svg>",
        label = escape(name),
        initials = escape(&initials),
    )
}

/// `GET /console/product-image/{id}` (signed in): the product's picture.
pub async fn product_image(
    State(console): State<Console>,
    signed: Result<Watching, SignInFirst>,
    Path(id): Path<String>,
) -> Response {
    if let Err(e) = signed {
        return e.into_response();
    }
    let catalog = console.app.catalog();
    let product = ProductId::parse(id)
        .ok()
        .and_then(|id| catalog.products.get(&id).cloned());
    // The picture uploaded for the product (kept in the catalog, so it shows offline too), else
    // one drawn from its name.
    if let Some(p) = &product {
        if let Ok((media_type, bytes)) = console.app.product_image(p.id.clone()).await {
            let ty = HeaderValue::from_str(&media_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            return (
                [
                    (CONTENT_TYPE, ty),
                    (
                        CACHE_CONTROL,
                        HeaderValue::from_static("private, max-age=300"),
                    ),
                    (
                        CONTENT_SECURITY_POLICY,
                        HeaderValue::from_static(
                            "default-src 'none'; style-src 'unsafe-inline'; sandbox",
                        ),
                    ),
                    (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
                ],
                bytes,
            )
                .into_response();
        }
    }
    match product {
        Some(p) => (
            [
                (CONTENT_TYPE, "image/svg+xml"),
                (CACHE_CONTROL, "private, max-age=300"),
            ],
            product_svg(p.id.as_str(), &p.name),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_escape_names() {
        let svg = product_svg("w", "<Wid> & \"get\"");
        assert!(svg.contains("&lt;Wid&gt; &amp; &quot;get&quot;"));
        assert!(!svg.contains("<Wid>"));
        assert!(svg.starts_with("<svg"));
    }
}
