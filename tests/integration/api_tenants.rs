//! Tenants and tokens through the HTTP API: settings validated with the
//! field named, what only operators may change, tokens shown once and
//! revoked at once.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::api::{Api, error, on_each_engine, send};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_created_with_defaults_and_checked_settings() {
    on_each_engine(|api| async move {
        let (status, t) = send(
            api.op(Method::POST, "/v1/tenants")
                .json(&json!({"id": "otaru", "name": "小樽市"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{t}");
        assert_eq!(t["time_zone"], "Asia/Tokyo");
        assert_eq!(t["send_time"], "09:00");
        assert_eq!(t["span"], "to_3rd_birthday");
        assert_eq!(t["programs"], json!(["standard"]));
        assert_eq!(t["lateness_window_minutes"], 360);
        assert_eq!(t["quiet_hours"], json!(null));
        assert_eq!(t["yearly_births"], json!(null), "births not set");

        let (status, _) = send(
            api.op(Method::POST, "/v1/tenants")
                .json(&json!({"id": "otaru", "name": "again"})),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT);

        let bad = [
            (json!({"id": "Otaru!", "name": "x"}), "id: `Otaru!` is not a tenant id"),
            (json!({"id": "x1", "name": " "}), "name: a tenant needs a name"),
            (
                json!({"id": "x1", "name": "x", "time_zone": "Asia/Tokio"}),
                "time_zone: `Asia/Tokio` is not an IANA time zone",
            ),
            (
                json!({"id": "x1", "name": "x", "send_time": "25:00"}),
                "send_time: `25:00` is not a time of day",
            ),
            (
                json!({"id": "x1", "name": "x", "span": "forever"}),
                "span: unknown delivery span `forever`",
            ),
            (
                json!({"id": "x1", "name": "x", "lateness_window_minutes": 0}),
                "lateness_window_minutes: must be from 1 to 1440",
            ),
            (
                json!({"id": "x1", "name": "x", "quiet_hours": {"start": "21:00", "end": "8am"}}),
                "quiet_hours.end: `8am` is not a time of day",
            ),
            (
                json!({"id": "x1", "name": "x", "send_time": "07:30", "quiet_hours": {"start": "21:00", "end": "08:00"}}),
                "send_time: 07:30 falls in the quiet hours 21:00–08:00",
            ),
            (
                json!({"id": "x1", "name": "x", "programs": ["school-entry"]}),
                "programs[0]: no catalog program `school-entry`",
            ),
            (
                json!({"id": "x1", "name": "x", "yearly_births": 0}),
                "yearly_births: must be from 1 to 1000000",
            ),
            (
                json!({"id": "x1", "name": "x", "yearly_births": 1_000_001}),
                "yearly_births: must be from 1 to 1000000",
            ),
        ];
        for (body, expected) in bad {
            let (status, answer) = send(api.op(Method::POST, "/v1/tenants").json(&body)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
            let (code, message) = error(&answer);
            assert_eq!(code, "invalid_field");
            assert!(message.starts_with(expected), "{body}: {message}");
        }
        // Nothing of the refused tenants was created.
        let (_, list) = send(api.op(Method::GET, "/v1/tenants")).await;
        assert_eq!(list["tenants"].as_array().unwrap().len(), 1, "{list}");
        // Yearly births, given at creation.
        let (status, t) = send(
            api.op(Method::POST, "/v1/tenants")
                .json(&json!({"id": "minato", "name": "港区", "yearly_births": 1_000_000})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{t}");
        assert_eq!(t["yearly_births"], 1_000_000);
        let (_, t) = send(api.op(Method::DELETE, "/v1/tenants/minato")).await;
        assert!(t.is_null(), "{t}");

        // Unknown fields and malformed JSON are refused in the one error shape.
        let (status, answer) = send(
            api.op(Method::POST, "/v1/tenants")
                .json(&json!({"id": "x2", "name": "x", "colour": "blue"})),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(error(&answer).1.contains("colour"), "{answer}");
        let (status, answer) = send(
            api.op(Method::POST, "/v1/tenants")
                .header("content-type", "application/json")
                .body("{\"id\": \"x2\","),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(error(&answer).0, "malformed_json");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_admins_change_their_settings_but_not_the_operators() {
    let api = Api::sqlite().await;
    api.tenant("otaru").await;
    let admin = api.token("tenant_admin", Some("otaru"), &[]).await;

    let (status, t) = send(
        api.with(&admin, Method::PATCH, "/v1/tenants/otaru")
            .json(&json!({
                "send_time": "08:15", "span": "to_6th_birthday", "time_zone": "Asia/Tokyo",
                "quiet_hours": {"start": "21:00", "end": "07:00"}
            })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["send_time"], "08:15");
    assert_eq!(t["span"], "to_6th_birthday");
    assert_eq!(t["quiet_hours"], json!({"start": "21:00", "end": "07:00"}));

    for (body, field) in [
        (json!({"name": "Renamed"}), "name"),
        (
            json!({"lateness_window_minutes": 30}),
            "lateness_window_minutes",
        ),
    ] {
        let (status, answer) = send(
            api.with(&admin, Method::PATCH, "/v1/tenants/otaru")
                .json(&body),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
        assert!(error(&answer).1.starts_with(field), "{answer}");
    }
    // The same value is not a change.
    let (status, _) = send(
        api.with(&admin, Method::PATCH, "/v1/tenants/otaru")
            .json(&json!({"name": "otaru city"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Operators may; null removes the quiet hours.
    let (status, t) = send(api.op(Method::PATCH, "/v1/tenants/otaru").json(&json!({
        "name": "小樽市", "lateness_window_minutes": 30, "quiet_hours": null
    })))
    .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["name"], "小樽市");
    assert_eq!(t["lateness_window_minutes"], 30);
    assert_eq!(t["quiet_hours"], json!(null));
    assert_eq!(t["send_time"], "08:15");

    // Creating and deleting tenants is for operators.
    let (status, _) = send(
        api.with(&admin, Method::POST, "/v1/tenants")
            .json(&json!({"id": "new", "name": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = send(api.with(&admin, Method::DELETE, "/v1/tenants/otaru")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_shown_once_and_revoked_at_once() {
    on_each_engine(|api| async move {
        api.tenant("otaru").await;
        let (status, created) = send(
            api.op(Method::POST, "/v1/tokens")
                .json(&json!({"role": "tenant_admin", "tenant": "otaru"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let token = created["token"].as_str().unwrap().to_string();
        let id = created["id"].as_str().unwrap().to_string();
        assert!(token.starts_with("tyr_"), "{token}");

        // The token works, and the list never shows its text.
        let (status, _) = send(api.with(&token, Method::GET, "/v1/tenants/otaru")).await;
        assert_eq!(status, StatusCode::OK);
        let resp = api.op(Method::GET, "/v1/tokens").send().await.unwrap();
        let text = resp.text().await.unwrap();
        assert!(text.contains(&id) && !text.contains(&token), "{text}");

        // Role, tenant and plugins must agree.
        for (body, field) in [
            (json!({"role": "admin"}), "role: unknown role `admin`"),
            (
                json!({"role": "tenant_admin"}),
                "tenant: a tenant_admin token needs a tenant",
            ),
            (
                json!({"role": "partner"}),
                "plugins: a partner token needs at least one plugin id",
            ),
            (
                json!({"role": "partner", "plugins": ["Bad Id"]}),
                "plugins[0]: `Bad Id` is not a plugin id",
            ),
            (
                json!({"role": "operator", "tenant": "otaru"}),
                "tenant: only a tenant_admin token names a tenant",
            ),
        ] {
            let (status, answer) = send(api.op(Method::POST, "/v1/tokens").json(&body)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
            assert!(error(&answer).1.starts_with(field), "{body}: {answer}");
        }
        let (status, _) = send(
            api.op(Method::POST, "/v1/tokens")
                .json(&json!({"role": "tenant_admin", "tenant": "nowhere"})),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Partners and tenant admins do not mint operators.
        let partner = api.token("partner", None, &["line"]).await;
        let (status, _) = send(
            api.with(&partner, Method::POST, "/v1/tokens")
                .json(&json!({"role": "operator"})),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = send(
            api.with(&token, Method::POST, "/v1/tokens")
                .json(&json!({"role": "operator"})),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // A tenant admin may hand out another admin token of its own tenant.
        let (status, _) = send(
            api.with(&token, Method::POST, "/v1/tokens")
                .json(&json!({"role": "tenant_admin", "tenant": "otaru"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);

        // Revoked: refused at once.
        let (status, revoked) = send(api.op(Method::DELETE, &format!("/v1/tokens/{id}"))).await;
        assert_eq!(status, StatusCode::OK);
        assert!(revoked["revoked_at"].is_string(), "{revoked}");
        let (status, answer) = send(api.with(&token, Method::GET, "/v1/tenants/otaru")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(error(&answer).0, "unauthorized");
        let (status, _) = send(api.op(Method::DELETE, "/v1/tokens/no-such-token")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    })
    .await;
}
