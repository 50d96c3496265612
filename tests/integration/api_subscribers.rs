//! Subscribers through the HTTP API: registration checked field by field,
//! birth reports, stops and erasure as DESIGN.md says, pagination, body
//! limits, and the CSV import (all or nothing, idempotent, every bad line
//! named).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::api::{Api, error, on_each_engine, send, tokyo_day};

async fn ready(api: &Api) {
    api.upload_echo().await;
    api.tenant("otaru").await;
    api.echo_channel("otaru", "line").await;
    api.echo_channel("otaru", "email").await;
}

fn text_of(v: &Value) -> String {
    v.to_string()
}

fn create(api: &Api, body: &Value) -> reqwest::RequestBuilder {
    api.op(Method::POST, "/v1/tenants/otaru/subscribers")
        .json(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_are_checked_and_the_field_named() {
    on_each_engine(|api| async move {
        ready(&api).await;
        let due = tokyo_day(120).to_string();
        let contact = json!([{"channel": "line", "address": "U1"}]);
        let too_far = tokyo_day(320).to_string();
        let long_past = tokyo_day(-30).to_string();
        let tomorrow = tokyo_day(1).to_string();
        let bad = [
            (json!({"contacts": contact, "children": [{"due_date": "2027-02-30"}]}), "children[0].due_date: `2027-02-30` is not a date"),
            (json!({"contacts": contact, "children": [{"due_date": due}, {"due_date": too_far}]}), "children[1].due_date: "),
            (json!({"contacts": contact, "children": [{"due_date": long_past}]}), "children[0].due_date: "),
            (json!({"contacts": contact, "children": [{"birth_date": tomorrow}]}), "children[0].birth_date: "),
            (json!({"contacts": contact, "children": [{}]}), "children[0]: a child needs a due_date or a birth_date"),
            (json!({"contacts": contact, "children": []}), "children: at least one child"),
            (json!({"contacts": [], "children": [{"due_date": due}]}), "contacts: at least one contact"),
            (json!({"locale": "fr", "contacts": contact, "children": [{"due_date": due}]}), "locale: unknown locale `fr`; expected one of: ja, ja-easy, en"),
            (json!({"contacts": [{"channel": "fax", "address": "1"}], "children": [{"due_date": due}]}), "contacts[0].channel: the tenant has no channel `fax`; its channels: email, line"),
            (json!({"contacts": [{"channel": "line", "address": " "}], "children": [{"due_date": due}]}), "contacts[0].address: is empty"),
            (json!({"contacts": [{"channel": "line", "address": "U1"}, {"channel": "line", "address": "U1"}], "children": [{"due_date": due}]}), "contacts[1]: the same channel and address as contacts[0]"),
        ];
        for (body, expected) in bad {
            let (status, answer) = send(create(&api, &body)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
            let (code, message) = error(&answer);
            assert_eq!(code, "invalid_field");
            assert!(message.starts_with(expected), "{body}: {message}");
        }
        // The rules are said in the messages.
        let (_, answer) = send(create(&api, &json!({"contacts": contact, "children": [{"due_date": too_far}]}))).await;
        assert!(error(&answer).1.contains("more than 10 months ahead"), "{answer}");
        let (_, answer) = send(create(&api, &json!({"contacts": contact, "children": [{"due_date": long_past}]}))).await;
        assert!(error(&answer).1.contains("more than 14 days past"), "{answer}");
        let (_, answer) = send(create(&api, &json!({"contacts": contact, "children": [{"birth_date": tomorrow}]}))).await;
        assert!(error(&answer).1.contains("is in the future"), "{answer}");

        // Malformed JSON: 400; oversize: 413; both in the one error shape.
        let (status, answer) = send(
            api.op(Method::POST, "/v1/tenants/otaru/subscribers")
                .header("content-type", "application/json")
                .body("{\"contacts\": ["),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(error(&answer).0, "malformed_json");
        let huge = format!("{{\"external_id\": \"{}\"}}", "x".repeat((1 << 20) + 64));
        let (status, answer) = send(
            api.op(Method::POST, "/v1/tenants/otaru/subscribers")
                .header("content-type", "application/json")
                .body(huge),
        )
        .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(error(&answer).0, "too_large");

        // Nothing was registered.
        let (_, counts) = send(api.op(Method::GET, "/v1/tenants/otaru/subscribers/counts")).await;
        assert_eq!(counts, json!({"active": 0, "stopped": 0, "erased": 0}));

        // A good one, exactly as DESIGN.md shows it.
        let (status, s) = send(create(&api, &json!({
            "locale": "ja",
            "contacts": [{"channel": "line", "address": "U4af4980629"}],
            "children": [{"due_date": due}]
        }))).await;
        assert_eq!(status, StatusCode::CREATED, "{s}");
        assert_eq!(s["status"], "active");
        assert_eq!(s["children"][0]["status"], "expecting");
        let (status, answer) = send(create(&api, &json!({
            "contacts": [{"channel": "line", "address": "U4af4980629"}],
            "children": [{"due_date": due}]
        }))).await;
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn birth_stop_and_erase_do_what_the_design_says() {
    on_each_engine(|api| async move {
        ready(&api).await;
        let due = tokyo_day(10).to_string();
        let (status, s) = send(create(&api, &json!({
            "external_id": "K1",
            "locale": "ja-easy",
            "contacts": [{"channel": "line", "address": "U-family"}, {"channel": "email", "address": "parent@example.jp"}],
            "children": [{"due_date": due}, {"birth_date": tokyo_day(-400).to_string()}]
        }))).await;
        assert_eq!(status, StatusCode::CREATED, "{s}");
        let id = s["id"].as_str().unwrap().to_string();
        let first = s["children"][0]["id"].as_str().unwrap().to_string();
        let second = s["children"][1]["id"].as_str().unwrap().to_string();
        let base = format!("/v1/tenants/otaru/subscribers/{id}");

        // Birth: the birth date becomes the anchor.
        let (status, answer) = send(api.op(Method::POST, &format!("{base}/children/{first}/birth")).json(&json!({"birth_date": tokyo_day(1).to_string()}))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert!(error(&answer).1.starts_with("birth_date: "), "{answer}");
        let born = tokyo_day(-1).to_string();
        let (status, child) = send(api.op(Method::POST, &format!("{base}/children/{first}/birth")).json(&json!({"birth_date": born}))).await;
        assert_eq!(status, StatusCode::OK, "{child}");
        assert_eq!(child["status"], "born");
        assert_eq!(child["birth_date"], json!(born));
        assert_eq!(child["due_date"], json!(due));

        // Stop one child (pregnancy loss / child loss): that child only.
        let (status, answer) = send(api.op(Method::POST, &format!("{base}/children/{second}/stop")).json(&json!({"reason": "bored"}))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(error(&answer).1.starts_with("reason: unknown reason `bored`"), "{answer}");
        let (status, child) = send(api.op(Method::POST, &format!("{base}/children/{second}/stop")).json(&json!({"reason": "child_loss"}))).await;
        assert_eq!(status, StatusCode::OK, "{child}");
        assert_eq!(child["status"], "stopped");
        let (_, s) = send(api.op(Method::GET, &base)).await;
        assert_eq!(s["status"], "active");
        assert_eq!(s["children"][0]["status"], "born");
        // A stopped child's birth is not reported.
        let (status, _) = send(api.op(Method::POST, &format!("{base}/children/{second}/birth")).json(&json!({"birth_date": born}))).await;
        assert_eq!(status, StatusCode::CONFLICT);

        // Stop the last child: the subscriber is stopped; a new pregnancy
        // makes it active again.
        let (_, _) = send(api.op(Method::POST, &format!("{base}/children/{first}/stop")).json(&json!({"reason": "unsubscribed"}))).await;
        let (_, s) = send(api.op(Method::GET, &base)).await;
        assert_eq!(s["status"], "stopped", "{s}");
        let (status, child) = send(api.op(Method::POST, &format!("{base}/children")).json(&json!({"due_date": tokyo_day(200).to_string()}))).await;
        assert_eq!(status, StatusCode::CREATED, "{child}");
        let (_, s) = send(api.op(Method::GET, &base)).await;
        assert_eq!(s["status"], "active");
        let (status, s) = send(api.op(Method::POST, &format!("{base}/stop")).json(&json!({"reason": "moved_away"}))).await;
        assert_eq!(status, StatusCode::OK);
        assert!(s["children"].as_array().unwrap().iter().all(|c| c["status"] == "stopped"), "{s}");

        // Patch locale and contacts.
        let (status, s) = send(api.op(Method::PATCH, &base).json(&json!({"locale": "en", "contacts": [{"channel": "email", "address": "parent@example.jp"}]}))).await;
        assert_eq!(status, StatusCode::OK, "{s}");
        assert_eq!(s["locale"], "en");
        assert_eq!(s["contacts"].as_array().unwrap().len(), 1);

        // Another subscriber stays active: counts by status.
        let (status, _) = send(create(&api, &json!({"contacts": [{"channel": "line", "address": "U-other"}], "children": [{"due_date": due}]}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, counts) = send(api.op(Method::GET, "/v1/tenants/otaru/subscribers/counts")).await;
        assert_eq!(counts, json!({"active": 1, "stopped": 1, "erased": 0}));

        // Erase: personal data gone, the anonymous count kept.
        let (status, _) = send(api.op(Method::DELETE, &base)).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, s) = send(api.op(Method::GET, &base)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(s["status"], "erased");
        assert_eq!(s["external_id"], json!(null));
        assert_eq!(s["contacts"], json!([]));
        for c in s["children"].as_array().unwrap() {
            // Dates gone; the stop reason (personal: a loss) replaced.
            assert_eq!((&c["due_date"], &c["birth_date"], &c["status"]), (&json!(null), &json!(null), &json!("stopped")), "{s}");
            assert!(c["stopped_reason"].is_null() || c["stopped_reason"] == "erased", "{s}");
        }
        assert!(!text_of(&s).contains("child_loss") && !text_of(&s).contains("moved_away"), "{s}");
        let text = s.to_string();
        assert!(!text.contains("parent@example.jp") && !text.contains("U-family") && !text.contains("K1"), "{text}");
        let (_, counts) = send(api.op(Method::GET, "/v1/tenants/otaru/subscribers/counts")).await;
        assert_eq!(counts, json!({"active": 1, "stopped": 0, "erased": 1}));
        // The address is free again; erasing twice changes nothing.
        let (status, _) = send(create(&api, &json!({"external_id": "K1", "contacts": [{"channel": "email", "address": "parent@example.jp"}], "children": [{"due_date": due}]}))).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, _) = send(api.op(Method::DELETE, &base)).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = send(api.op(Method::POST, &format!("{base}/children")).json(&json!({"due_date": due}))).await;
        assert_eq!(status, StatusCode::CONFLICT);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_are_paginated_by_cursor() {
    let api = Api::sqlite().await;
    ready(&api).await;
    let due = tokyo_day(100).to_string();
    let mut csv = String::from("external_id,channel,address,due_date\n");
    for i in 0..25 {
        csv.push_str(&format!("E{i:02},line,U{i:02},{due}\n"));
    }
    let (status, result) = send(
        api.op(Method::POST, "/v1/tenants/otaru/subscribers/import")
            .header("content-type", "text/csv")
            .body(csv),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/v1/tenants/otaru/subscribers?limit=10".to_string();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = send(api.op(Method::GET, &path)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        pages += 1;
        for s in page["items"].as_array().unwrap() {
            seen.push(s["external_id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 25);
    for bad in ["limit=0", "limit=501"] {
        let (status, answer) =
            send(api.op(Method::GET, &format!("/v1/tenants/otaru/subscribers?{bad}"))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert!(
            error(&answer).1.starts_with("limit: must be from 1 to 500"),
            "{answer}"
        );
    }
    let (status, answer) =
        send(api.op(Method::GET, "/v1/tenants/otaru/subscribers?limit=many")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(&answer).1.contains("limit"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_imports_are_all_or_nothing_and_idempotent() {
    on_each_engine(|api| async move {
        ready(&api).await;
        let due = tokyo_day(90).to_string();
        let born = tokyo_day(-30).to_string();
        let import = |body: String| {
            api.op(Method::POST, "/v1/tenants/otaru/subscribers/import")
                .header("content-type", "text/csv")
                .body(body)
        };
        let good = format!(
            "external_id,locale,channel,address,due_date,birth_date\n\
             K0001,ja,line,Uaaa,{due},\n\
             K0002,ja-easy,line,Ubbb,,{born}\n\
             K0002,,email,b@example.jp,,\n\
             K0003,en,line,Uccc,{due},\n\
             K0003,en,line,Uccc,{due},\n"
        );
        let (status, r) = send(import(good.clone())).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        assert_eq!(
            r,
            json!({"lines": 5, "subscribers": 3, "created": 3, "updated": 0, "unchanged": 0})
        );
        let (status, r) = send(import(good.clone())).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        assert_eq!(
            r,
            json!({"lines": 5, "subscribers": 3, "created": 0, "updated": 0, "unchanged": 3})
        );
        let (_, page) = send(api.op(Method::GET, "/v1/tenants/otaru/subscribers")).await;
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 3);
        let k3 = items.iter().find(|s| s["external_id"] == "K0003").unwrap();
        assert_eq!(
            (
                k3["contacts"].as_array().unwrap().len(),
                k3["children"].as_array().unwrap().len()
            ),
            (1, 2),
            "twins: {k3}"
        );
        let k2 = items.iter().find(|s| s["external_id"] == "K0002").unwrap();
        assert_eq!(k2["locale"], "ja-easy");
        assert_eq!(k2["contacts"].as_array().unwrap().len(), 2);

        // A birth reported through a re-import updates that household only.
        let reported = good.replace(
            &format!("K0001,ja,line,Uaaa,{due},"),
            &format!("K0001,ja,line,Uaaa,{due},{born}"),
        );
        let (_, r) = send(import(reported)).await;
        assert_eq!(
            (r["updated"].as_u64(), r["unchanged"].as_u64()),
            (Some(1), Some(2)),
            "{r}"
        );

        // Bad lines: every one named with its line and column; nothing written.
        let bad = format!(
            "external_id,locale,channel,address,due_date,birth_date\n\
             N1,ja,line,Unew1,{due},\n\
             N2,ja,line,Unew2,2027-13-01,\n\
             N3,fr,line,Unew3,{due},\n\
             N4,ja,fax,Unew4,{due},\n\
             N5,ja,line,Unew1,{due},\n\
             N6,ja,line,Unew6,,\n\
             N7,ja,line,Uaaa,{due},\n"
        );
        let (status, answer) = send(import(bad)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        let (code, message) = error(&answer);
        assert_eq!(code, "invalid_csv");
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(lines.len(), 6, "{message}");
        assert_eq!(
            lines[0],
            "line 3: due_date: `2027-13-01` is not a date (YYYY-MM-DD)"
        );
        assert!(
            lines[1].starts_with("line 4: locale: unknown locale `fr`"),
            "{message}"
        );
        assert!(
            lines[2].starts_with("line 5: channel: the tenant has no channel `fax`"),
            "{message}"
        );
        assert!(
            lines[3].starts_with("line 6: address: the same line address is on line 2"),
            "{message}"
        );
        assert!(
            lines[4].starts_with("line 7: due_date: external_id `N6` has no child"),
            "{message}"
        );
        // An address a household outside the file has is named in the same
        // answer as the file's own bad lines.
        assert_eq!(
            lines[5],
            "line 8: address: this line address is already registered to another subscriber",
            "{message}"
        );
        // A file whose only faults are addresses other households have:
        // every such line is named at once, and nothing is written.
        let taken = format!(
            "external_id,channel,address,due_date\n\
             N1,line,Unew1,{due}\n\
             N7,line,Uaaa,{due}\n\
             N8,line,Unew8,{due}\n\
             N8,line,Uccc,\n\
             K0002,email,b@example.jp,{due}\n"
        );
        let (status, answer) = send(import(taken)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        let message = error(&answer).1;
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(
            lines,
            [
                "line 3: address: this line address is already registered to another subscriber",
                "line 5: address: this line address is already registered to another subscriber",
            ],
            "K0002 keeps its own address: {message}"
        );
        let (_, counts) = send(api.op(Method::GET, "/v1/tenants/otaru/subscribers/counts")).await;
        assert_eq!(
            counts["active"], 3,
            "nothing of a refused file is written: {counts}"
        );

        // Headers, media type and size.
        let (status, answer) = send(import("external_id,chanel,address,due_date\n".into())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            error(&answer)
                .1
                .starts_with("line 1: unknown column `chanel`"),
            "{answer}"
        );
        let (status, _) = send(
            api.op(Method::POST, "/v1/tenants/otaru/subscribers/import")
                .json(&json!({})),
        )
        .await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let mut huge = String::from("external_id,channel,address,due_date\n");
        let line = format!("{},line,U,{due}\n", "x".repeat(1000));
        while huge.len() <= 64 << 20 {
            huge.push_str(&line);
        }
        let (status, answer) = send(import(huge)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
        assert_eq!(error(&answer).0, "too_large");
    })
    .await;
}
