//! `GET /console`: the web console's page and assets (crate `switchboard-console`), served
//! without a key. The page itself calls `/api/*`, guarded as usual.

use http::{HeaderValue, Response, StatusCode, header};

use crate::http::body::{self, ResponseBody};

/// The asset at `path`, if the console has one.
pub fn asset(path: &str) -> Option<Response<ResponseBody>> {
    let asset = switchboard_console::asset(path)?;
    let mut response = Response::new(body::full(asset.body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    // Nothing but this origin: no script, style or request to another host, ever.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Some(response)
}
