//! The answers every operation can give whatever its handler does, added to
//! the generated OpenAPI document in one place so that no operation can
//! forget them (each with the shared [`ErrorBody`](crate::error::ErrorBody)):
//!
//! - an operation that takes a token: 401 (no token, or a bad one) and 403
//!   (a token without the right);
//! - an operation that takes a body: 400 (a body that is not what its
//!   content type says), 413 (over the route's limit), 415 (another
//!   content type) and 422 (a field that breaks a rule);
//! - an operation with parameters: 400 (a query that does not parse) and
//!   422 (a NUL character, or a value out of its range), and 404 for one
//!   with path parameters (nothing there).
//!
//! A status the handler documents itself keeps its own description.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

fn add(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| error_response(description));
}

fn complete_operation(op: &mut Operation) {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    if secured {
        add(op, "401", "No token, or one that is not valid");
        add(op, "403", "The token does not allow this");
    }
    if op.request_body.is_some() {
        add(op, "400", "The body is not what its content type says");
        add(op, "413", "The body is over this route's limit");
        add(
            op,
            "415",
            "The body's content type is not one this operation takes",
        );
        add(op, "422", "A field breaks a rule; the message names it");
    }
    let parameters = op.parameters.as_deref().unwrap_or_default();
    let any = !parameters.is_empty();
    let in_path = parameters
        .iter()
        .any(|p| matches!(p.parameter_in, ParameterIn::Path));
    if any {
        add(op, "400", "A parameter does not parse");
        add(
            op,
            "422",
            "A parameter breaks a rule (a NUL character, out of range)",
        );
    }
    if in_path {
        add(op, "404", "Not found");
    }
}

/// Adds the shared answers to every operation of `doc`.
pub(crate) fn complete(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ]
        .into_iter()
        .flatten()
        {
            complete_operation(op);
        }
    }
}
