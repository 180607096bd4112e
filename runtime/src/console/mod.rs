//! The console: merchants' manual operations and operators' view, in a browser, served by
//! `wharf serve` at `/console`.
//!
//! The pages are one small script over the HTTP API, checked in and embedded in the binary
//! (no build step, no CDN, nothing fetched at run time): the browser holds the token the
//! visitor signs in with (for the tab's life only) and every request goes to the same API the
//! CLI and ERPs use, so what a token may see and do is decided by the API, never by the page.
//! A tenant token sees its tenant's pages; the operator's token sees every tenant and the
//! operator's pages (tenants and shops, plugins, tokens). Times are shown in the shop's time
//! zone (China Standard Time unless the browser is told otherwise) and amounts as yuan.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// The page, its script and its style, as checked in under `console/assets/`.
const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// Where the console lives; every asset is below it.
pub const PATH: &str = "/console";

/// The console's routes: the page and its two assets, public (they hold no data: the data
/// comes from the API with the visitor's token).
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(PATH, get(|| asset("text/html; charset=utf-8", INDEX_HTML)))
        .route(&format!("{PATH}/"), get(|| asset("text/html; charset=utf-8", INDEX_HTML)))
        .route(&format!("{PATH}/app.js"), get(|| asset("text/javascript; charset=utf-8", APP_JS)))
        .route(&format!("{PATH}/app.css"), get(|| asset("text/css; charset=utf-8", APP_CSS)))
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    // The page may frame nothing and be framed by nobody; scripts only from itself.
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
            ),
        ],
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_its_own_assets() {
        assert!(INDEX_HTML.contains("src=\"/console/app.js\""));
        assert!(INDEX_HTML.contains("href=\"/console/app.css\""));
        // The SVG namespace is a name, not an address the browser fetches.
        for asset in [INDEX_HTML, APP_JS, APP_CSS].map(|a| a.replace("'http://www.w3.org/2000/svg'", "")) {
            assert!(!asset.contains("http://") && !asset.contains("https://"), "nothing from the network");
        }
    }
}
