//! The pages' scripts, compiled into the binary and served from `/static/`, so that pages
//! carry no inline script and their Content-Security-Policy can forbid it.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The waiting page's status poll.
const WAITING: &str = include_str!("../../static/waiting.js");
/// The enrollment page's poll.
const ENROLL: &str = include_str!("../../static/enroll.js");

/// `GET /static/{file}`.
pub async fn script(Path(file): Path<String>) -> Response {
    let body = match file.as_str() {
        "waiting.js" => WAITING,
        "enroll.js" => ENROLL,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            // Short: a new portal version's script reaches open pages within minutes.
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}
