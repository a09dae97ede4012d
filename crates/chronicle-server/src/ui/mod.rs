//! The web UI (`--ui-port`): pages rendered here from the same calls the
//! SDKs make (the WorkflowService, in process), at the URLs Temporal's UI
//! uses, so links people paste keep their shape:
//! `/namespaces/{ns}/workflows` (`?query=`), and
//! `/namespaces/{ns}/workflows/{workflowId}/{runId}/history`.
//!
//! Everything a user or a workflow wrote (ids, types, payloads, failure
//! messages) goes through maud's escaping: shown as text, never run. The
//! pages work without JavaScript. What the UI shows it reads with the
//! server's own authority, so it is served only where the client port
//! needs no API key (see `serve_ui` in lib.rs).

mod actions;
mod activities;
mod layout;
mod queues;
mod schedules;
mod start;
mod workflow;
mod workflows;

use crate::frontend::Frontend;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::Markup;

/// The UI's base path from `--ui-public-path`: empty for the root, else
/// `/a/b` (a leading slash, none at the end, plain path characters only,
/// so it can go into links unescaped).
pub fn base_path(public_path: &str) -> anyhow::Result<String> {
    let trimmed = public_path.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || "-._~/".contains(c);
    if !trimmed.starts_with('/') || !trimmed.chars().all(plain) || trimmed.contains("//") || trimmed.contains("/.") {
        anyhow::bail!(
            "--ui-public-path {public_path:?}: a path such as /temporal (letters, digits, - . _ ~ and / between segments)"
        );
    }
    Ok(trimmed.to_string())
}

/// The UI's routes over `frontend`, under `base` (see `base_path`).
pub fn router(frontend: Frontend, base: &str) -> Router {
    let pages = pages(frontend);
    if base.is_empty() {
        return pages;
    }
    let home = format!("{base}/");
    let list = format!("{base}/namespaces/default/workflows");
    Router::new()
        .nest(base, pages.layer(axum::middleware::map_response_with_state(base.to_string(), under_base)))
        .route(&home, get(move || async move { Redirect::to(&list) }))
}

/// Puts a page's links, forms and redirects under `base`. Every such URL
/// is written by the UI itself as an attribute starting `href="/`,
/// `action="/` (user strings cannot: maud escapes their quotes) or as a
/// redirect's Location.
async fn under_base(axum::extract::State(base): axum::extract::State<String>, response: Response) -> Response {
    use axum::http::{HeaderValue, header};
    let (mut parts, body) = response.into_parts();
    if let Some(location) = parts.headers.get(header::LOCATION).and_then(|l| l.to_str().ok())
        && location.starts_with('/')
        && let Ok(moved) = HeaderValue::from_str(&format!("{base}{location}"))
    {
        parts.headers.insert(header::LOCATION, moved);
    }
    let html = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|t| t.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if !html {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return page_error(StatusCode::INTERNAL_SERVER_ERROR, "The page could not be read.");
    };
    let text = String::from_utf8_lossy(&bytes)
        .replace("href=\"/", &format!("href=\"{base}/"))
        .replace("action=\"/", &format!("action=\"{base}/"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(text))
}

/// The pages, at the root.
fn pages(frontend: Frontend) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/namespaces/default/workflows") }))
        .route("/namespaces", get(workflows::namespaces))
        .route("/namespaces/{namespace}", get(workflows::to_workflows))
        .route("/namespaces/{namespace}/workflows", get(workflows::list))
        .route("/namespaces/{namespace}/task-queues/{queue}", get(queues::task_queue))
        .route("/namespaces/{namespace}/activities", get(activities::list))
        .route("/namespaces/{namespace}/activities/{activity_id}", get(activities::latest))
        .route("/namespaces/{namespace}/activities/{activity_id}/{run_id}", get(activities::activity))
        .route("/namespaces/{namespace}/schedules", get(schedules::schedules))
        .route("/namespaces/{namespace}/schedules/{schedule_id}", get(schedules::schedule))
        .route("/namespaces/{namespace}/schedules/{schedule_id}/{action}", get(schedules::confirm).post(schedules::act))
        .route("/namespaces/{namespace}/workflows/start-workflow", get(start::form).post(start::start))
        .route("/namespaces/{namespace}/workflows/{workflow_id}", get(workflow::latest))
        .route("/namespaces/{namespace}/workflows/{workflow_id}/{run_id}", get(workflow::to_history))
        .route("/namespaces/{namespace}/workflows/{workflow_id}/{run_id}/history", get(workflow::history))
        .route("/namespaces/{namespace}/workflows/{workflow_id}/{run_id}/history.json", get(workflow::download))
        .route("/namespaces/{namespace}/workflows/{workflow_id}/{run_id}/call-stack", get(workflow::call_stack))
        .route(
            "/namespaces/{namespace}/workflows/{workflow_id}/{run_id}/{action}",
            get(actions::confirm).post(actions::act),
        )
        .route("/assets/ui.css", get(|| async { ([(axum::http::header::CONTENT_TYPE, "text/css")], layout::CSS) }))
        .fallback(|| async { page_error(StatusCode::NOT_FOUND, "No such page.") })
        .layer(axum::middleware::map_response(guard_headers))
        .with_state(frontend)
}

/// Headers every answer carries: no script runs at all (the pages have
/// none; whatever a user string might smuggle in is refused by the
/// browser too), no other site may frame the pages (a click on a
/// confirmation cannot be stolen), and types are not guessed.
async fn guard_headers(mut response: Response) -> Response {
    use axum::http::{HeaderValue, header};
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// A page, or an error page saying what went wrong.
type Page = Result<Html<String>, Response>;

fn page(markup: Markup) -> Html<String> {
    Html(markup.into_string())
}

/// An error page with the status a gRPC error stands for.
fn status_page(status: &tonic::Status) -> Response {
    use tonic::Code::*;
    let code = match status.code() {
        InvalidArgument | FailedPrecondition | OutOfRange => StatusCode::BAD_REQUEST,
        NotFound => StatusCode::NOT_FOUND,
        AlreadyExists => StatusCode::CONFLICT,
        PermissionDenied | Unauthenticated => StatusCode::FORBIDDEN,
        ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Unavailable | DeadlineExceeded => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    page_error(code, status.message())
}

fn page_error(code: StatusCode, message: &str) -> Response {
    let body = layout::page(
        "Error",
        None,
        maud::html! {
            h1 { "Error " (code.as_u16()) }
            p.error { (message) }
            p { a href="/namespaces/default/workflows" { "Workflows" } }
        },
    );
    (code, Html(body.into_string())).into_response()
}

/// A run's history page, every part encoded; its actions live beside it
/// (`.../{runId}/signal`).
fn history_path(namespace: &str, workflow_id: &str, run_id: &str) -> String {
    format!("/namespaces/{}/workflows/{}/{}/history", encode(namespace), encode(workflow_id), encode(run_id))
}

/// Bytes as lowercase hex (page tokens in links).
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex back to bytes; None if it is not hex.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// Percent-encodes a path segment or query value: all but RFC 3986's
/// unreserved characters.
fn encode(text: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const RESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    utf8_percent_encode(text, RESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_segments_round_trip() {
        assert_eq!(unhex(&hex(&[0, 1, 254, 255])), Some(vec![0, 1, 254, 255]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(encode("a b/<c>?"), "a%20b%2F%3Cc%3E%3F");
    }

    #[test]
    fn public_paths_are_plain_paths() {
        assert_eq!(base_path("").unwrap(), "");
        assert_eq!(base_path("/").unwrap(), "");
        assert_eq!(base_path("/temporal/").unwrap(), "/temporal");
        assert_eq!(base_path("/a/b-c").unwrap(), "/a/b-c");
        for bad in ["temporal", "/a b", "/a\"/", "//x", "/a/../b", "/<x>"] {
            assert!(base_path(bad).is_err(), "{bad}");
        }
    }
}
