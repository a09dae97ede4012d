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
mod layout;
mod queues;
mod workflow;
mod workflows;

use crate::frontend::Frontend;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::Markup;

/// The UI's routes over `frontend`.
pub fn router(frontend: Frontend) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/namespaces/default/workflows") }))
        .route("/namespaces", get(workflows::namespaces))
        .route("/namespaces/{namespace}", get(workflows::to_workflows))
        .route("/namespaces/{namespace}/workflows", get(workflows::list))
        .route("/namespaces/{namespace}/task-queues/{queue}", get(queues::task_queue))
        .route("/namespaces/{namespace}/schedules", get(queues::schedules))
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
}
