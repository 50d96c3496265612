//! The console's Broadcasts pages (issue 15) through the running host: a
//! staff member with the Broadcasts permission writes a notice for the
//! 0–1 stage in a real Chromium, sees the count, a sample and the LINE
//! preview, confirms, and the fake LINE receives it for exactly those
//! households; axe-core checks each page in Japanese and in English.
//! Plain HTTP checks what a browser would not show: a POST without its
//! CSRF token is refused and creates nothing, bad input is a 422 page
//! naming the field, an account without the permission gets a 403, staff
//! of another tenant the 404 of a missing tenant, and a scheduled
//! broadcast's waiting deliveries can be cancelled.

use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tayori_console::text::Lang;

use crate::support::browser::Browser;
use crate::support::console::*;
use crate::support::host::{Host, TENANT, born_five_days_ago, today};
use crate::support::platforms::line::FakeLine;

fn ja() -> &'static tayori_console::text::Texts {
    Lang::Ja.texts()
}

fn en() -> &'static tayori_console::text::Texts {
    Lang::En.texts()
}

/// Households on LINE: two babies (the 0–1 stage), one expecting, one
/// two-year-old. Answers the babies' addresses.
async fn households(host: &Host, first: u32) -> Vec<String> {
    let address = |n: u32| format!("U{:032x}", n);
    let babies = vec![address(first), address(first + 1)];
    for a in &babies {
        household(
            host,
            a,
            json!({"birth_date": born_five_days_ago().to_string()}),
        )
        .await;
    }
    household(
        host,
        &address(first + 2),
        json!({"due_date": (today() + Duration::days(60)).to_string()}),
    )
    .await;
    household(
        host,
        &address(first + 3),
        json!({"birth_date": (today() - Duration::days(800)).to_string()}),
    )
    .await;
    babies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_console_broadcasts_count_preview_and_confirm_reach_the_fake_line() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let host = Host::start().await;
    let fake = FakeLine::start().await;
    host.put_line_channel(&fake).await;
    let babies = households(&host, 0x0b00_0001).await;
    let op = first_operator(&host).await;
    let invitation = invite_with(
        &host,
        &op,
        TENANT,
        "notice@otaru.example.jp",
        &["dashboard", "broadcasts"],
    )
    .await;

    b.open(&host.server.url(&format!("{invitation}?lang=ja")))
        .await;
    b.wait_for_heading(ja().accept_title).await;
    b.fill("#name", "広報 三郎").await;
    b.fill("#password", PASSWORD).await;
    b.fill("#confirm", PASSWORD).await;
    b.click("main form button[type=submit]").await;
    b.wait_for_heading(ja().dashboard_title).await;
    b.click(&format!(".main-nav a[href='/t/{TENANT}/broadcasts']"))
        .await;
    b.wait_for_heading(ja().broadcasts_title).await;
    b.wait_for("#no-broadcasts").await;
    b.assert_accessible("broadcasts, none yet (ja)").await;
    b.click("#new-broadcast").await;
    b.wait_for_heading(ja().broadcast_new_title).await;
    b.assert_accessible("a new broadcast (ja)").await;

    // No message: the form again, the error named and linked.
    b.click("#check").await;
    b.wait_for(".error-summary").await;
    assert!(
        b.text(".error-summary")
            .await
            .contains(ja().broadcast_body_missing),
        "the field is named"
    );
    assert_eq!(
        b.attr(".error-summary a", "href").await.as_deref(),
        Some("#body")
    );
    b.assert_accessible("a new broadcast, no message (ja)")
        .await;

    let body = "【お知らせ】明日の乳児健診は、大雪のため中止します。";
    b.fill("#body", body).await;
    b.click("#stage-0-1").await;
    b.click("#check").await;
    b.wait_for_heading(ja().broadcast_confirm_title).await;
    assert_eq!(
        b.attr("#reach", "data-households").await.as_deref(),
        Some("2"),
        "the two babies"
    );
    assert_eq!(
        b.attr("#reach", "data-contacts").await.as_deref(),
        Some("2")
    );
    let sample = b.text("#sample").await;
    assert!(
        !sample.contains(&babies[0]),
        "addresses are masked: {sample}"
    );
    assert!(sample.contains(&babies[0][..3]), "{sample}");
    let preview = b.text("#preview-title + .notice-preview").await;
    assert!(
        preview.contains(body) && preview.contains("line"),
        "{preview}"
    );
    b.assert_accessible("a broadcast to confirm (ja)").await;
    b.desktop(true).await;
    b.screenshot_as_doc("console-broadcast-confirm").await;
    b.desktop(false).await;
    // Nothing made before the confirmation.
    assert!(host.deliveries("").await.is_empty());

    b.click("#send").await;
    b.wait_for("#created-title").await;
    b.wait_for("#progress").await;
    assert_eq!(b.text("#deliveries").await.trim(), "2");
    b.assert_accessible("a broadcast made (ja)").await;

    // The dispatcher sends it: the fake LINE gets it for the babies only.
    host.send().await;
    let mut reached: Vec<String> = fake
        .deliveries()
        .into_iter()
        .filter(|d| d.texts.iter().any(|t| t.contains(body)))
        .map(|d| d.user)
        .collect();
    reached.sort();
    assert_eq!(reached, babies);
    assert_eq!(fake.deliveries().len(), 2, "no other push");

    // The page shows the progress, in English too; nothing left to cancel.
    let url = b.url().await;
    let path = url.split('?').next().unwrap().to_string();
    b.open(&format!("{path}?lang=en")).await;
    b.wait_for_heading(en().broadcast_title).await;
    let progress = b.text("#progress").await;
    assert!(
        progress.contains(en().st_sent) && progress.contains('2'),
        "{progress}"
    );
    assert!(
        b.client
            .find(fantoccini::Locator::Css("#cancel"))
            .await
            .is_err()
    );
    b.assert_accessible("a broadcast sent (en)").await;
    b.open(&host.server.url(&format!("/t/{TENANT}/broadcasts?lang=en")))
        .await;
    b.wait_for("#broadcasts").await;
    b.assert_accessible("broadcasts (en)").await;
    b.open(
        &host
            .server
            .url(&format!("/t/{TENANT}/broadcasts/new?lang=en")),
    )
    .await;
    b.wait_for_heading(en().broadcast_new_title).await;
    b.assert_accessible("a new broadcast (en)").await;

    let audit = op.get(&format!("/t/{TENANT}/audit?lang=en")).await;
    assert!(
        audit.body.contains(en().action_broadcast_created) && audit.body.contains("広報 三郎"),
        "{}",
        audit.body
    );
    b.close().await;
}

/// Posts a form of owned pairs.
async fn post(agent: &Agent, path: String, pairs: Vec<(String, String)>) -> Answer {
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    agent.post(&path, &refs).await
}

/// The broadcast id of a create's redirect.
fn created_id(location: &str) -> String {
    let rest = location
        .strip_prefix(&format!("/t/{TENANT}/broadcasts/"))
        .unwrap_or_else(|| panic!("{location}"));
    rest.split('?').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_broadcasts_need_csrf_and_permission_stay_in_the_tenant_and_cancel() {
    let host = Host::start().await;
    let fake = FakeLine::start().await;
    host.put_line_channel(&fake).await;
    host.call(
        Method::POST,
        "/v1/tenants",
        Some(json!({"id": "minato", "name": "港区"})),
    )
    .await;
    households(&host, 0x0b01_0001).await;
    let op = first_operator(&host).await;
    let sender = accept(
        &host,
        &invite_with(
            &host,
            &op,
            TENANT,
            "b@otaru.example.jp",
            &["dashboard", "broadcasts"],
        )
        .await,
    )
    .await;
    let viewer = accept(
        &host,
        &invite_with(&host, &op, TENANT, "v@otaru.example.jp", &["dashboard"]).await,
    )
    .await;
    let other = accept(
        &host,
        &invite_with(
            &host,
            &op,
            "minato",
            "m@minato.example.jp",
            &["dashboard", "broadcasts"],
        )
        .await,
    )
    .await;
    let new = format!("/t/{TENANT}/broadcasts/new");
    let create = format!("/t/{TENANT}/broadcasts");
    let csrf = sender.csrf(&new).await;
    let form = |csrf: &str| -> Vec<(String, String)> {
        vec![
            ("csrf".into(), csrf.into()),
            ("body".into(), "臨時のお知らせ".into()),
            ("stage".into(), "0-1".into()),
            ("when".into(), "now".into()),
        ]
    };

    // Without the CSRF token: 403, nothing made.
    let mut no_csrf = form(&csrf);
    no_csrf.remove(0);
    let refused = post(&sender, create.clone(), no_csrf.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let refused = post(&sender, new.clone(), no_csrf).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(host.deliveries("").await.is_empty());
    // Bad input: 422, the field named and linked, nothing made.
    let mut blank = form(&csrf);
    blank[1].1 = "   ".into();
    let bad = post(&sender, create.clone(), blank).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("href=\"#body\""), "{}", bad.body);
    assert!(bad.body.contains(ja().broadcast_body_missing));
    let mut nul = form(&csrf);
    nul[1].1 = "臨時\u{0}のお知らせ".into();
    let bad = post(&sender, create.clone(), nul).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("href=\"#body\"") && bad.body.contains(ja().broadcast_nul));
    let mut past = form(&csrf);
    past[3].1 = "later".into();
    past.push(("at".into(), "2001-01-01 09:00".into()));
    let bad = post(&sender, new.clone(), past).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("href=\"#at\"") && bad.body.contains(ja().broadcast_at_past));
    let mut unknown = form(&csrf);
    unknown.push(("channel".into(), "fax".into()));
    let bad = post(&sender, new.clone(), unknown).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains(ja().broadcast_channel_unknown),
        "{}",
        bad.body
    );
    assert!(host.deliveries("").await.is_empty());
    // The confirmation page counts, creating nothing.
    let check = post(&sender, new.clone(), form(&csrf)).await;
    assert_eq!(check.status, StatusCode::OK, "{}", check.body);
    assert!(
        check.body.contains("data-households=\"2\""),
        "{}",
        check.body
    );
    assert!(host.deliveries("").await.is_empty());

    // Without the permission: 403 on every page and form.
    let viewer_csrf = viewer.csrf(&format!("/t/{TENANT}/support")).await;
    assert_eq!(viewer.get(&create).await.status, StatusCode::FORBIDDEN);
    assert_eq!(viewer.get(&new).await.status, StatusCode::FORBIDDEN);
    let denied = post(&viewer, create.clone(), form(&viewer_csrf)).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert!(host.deliveries("").await.is_empty());
    let menu = viewer.get(&format!("/t/{TENANT}")).await;
    assert!(
        !menu.body.contains(&format!("/t/{TENANT}/broadcasts")),
        "no menu item"
    );

    // At a time: made, waiting; another tenant's staff get the 404.
    let tomorrow = (today() + Duration::days(1))
        .format("%Y-%m-%d 10:00")
        .to_string();
    let mut later = form(&csrf);
    later[3].1 = "later".into();
    later.push(("at".into(), tomorrow));
    let made = post(&sender, create.clone(), later).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let id = created_id(made.location.as_deref().unwrap());
    assert_eq!(host.deliveries("&status=pending").await.len(), 2);
    let page = format!("/t/{TENANT}/broadcasts/{id}");
    let shown = sender.get(&page).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body.contains("id=\"cancel\""), "{}", shown.body);
    let other_csrf = other.csrf("/t/minato/broadcasts").await;
    assert_eq!(other.get(&page).await.status, StatusCode::NOT_FOUND);
    assert_eq!(other.get(&create).await.status, StatusCode::NOT_FOUND);
    let cancel = format!("{page}/cancel");
    let theirs = post(&other, cancel.clone(), vec![("csrf".into(), other_csrf)]).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(
        other
            .get(&format!("/t/minato/broadcasts/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND,
        "not theirs under their own tenant either"
    );
    assert_eq!(host.deliveries("&status=pending").await.len(), 2);
    // Cancelling needs the token, then stops the waiting deliveries.
    let refused = post(&sender, cancel.clone(), vec![]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(host.deliveries("&status=pending").await.len(), 2);
    let cancelled = post(&sender, cancel, vec![("csrf".into(), csrf.clone())]).await;
    assert_eq!(
        cancelled.status,
        StatusCode::SEE_OTHER,
        "{}",
        cancelled.body
    );
    assert!(host.deliveries("&status=pending").await.is_empty());
    assert_eq!(host.deliveries("&status=cancelled").await.len(), 2);
    let shown = sender.get(cancelled.location.as_deref().unwrap()).await;
    assert!(
        shown.body.contains("id=\"cancelled-body\""),
        "{}",
        shown.body
    );
    assert!(
        !shown.body.contains("id=\"cancel\""),
        "nothing left to cancel"
    );
    let audit = op.get(&format!("/t/{TENANT}/audit?lang=en")).await;
    assert!(
        audit.body.contains(en().action_broadcast_created),
        "{}",
        audit.body
    );
    assert!(audit.body.contains(en().action_broadcast_cancelled));
    // Later, nothing goes out.
    host.clock.advance(Duration::days(2));
    host.send().await;
    assert!(fake.deliveries().is_empty());
}
