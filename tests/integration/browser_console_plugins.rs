//! The operator's plugin and partner pages, used as the operator uses
//! them: two versions of the echo plugin (a real component that posts to
//! a loopback platform) are uploaded; real deliveries through the
//! dispatcher succeed on 1.0.0 and fail on 2.0.0 (the platform refuses),
//! and the plugins page shows each version's counts and failure rate; in
//! a real Chromium the operator puts a tenant on a canary of 2.0.0, makes
//! it active for every tenant after a confirmation, rolls back with one
//! button (and a confirmation) and ends the canary, each change seen on
//! the page and in the API; a partner token is shown once and never
//! again, then revoked; axe-core checks the pages in Japanese and in
//! English. Plain HTTP checks what a browser would not show: staff get the
//! 404 of a missing page on every one of these pages and forms, and a POST
//! without its CSRF token is a 403 that changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tayori_console::text::Lang;
use tayori_plugin_artifacts as artifacts;

use crate::support::browser::Browser;
use crate::support::console::*;
use crate::support::fake::Fake;
use crate::support::host::{Host, TENANT, TENANT_NAME, approved, born_five_days_ago};

fn ja() -> &'static tayori_console::text::Texts {
    Lang::Ja.texts()
}

fn en() -> &'static tayori_console::text::Texts {
    Lang::En.texts()
}

async fn upload(host: &Host, path: &str) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let response = host
        .server
        .op(Method::POST, "/v1/plugins")
        .header("content-type", "application/wasm")
        .body(bytes)
        .send()
        .await
        .expect("an upload");
    assert!(response.status().is_success(), "{}", response.status());
}

/// The channel `echo` of the tenant, posting to `path` of the fake.
async fn echo_channel(host: &Host, fake: &Fake, path: &str) {
    host.put_channel(
        "echo",
        json!({
            "plugin": "echo",
            "config": { "endpoint": fake.url(path) },
            "allowed_hosts": approved(fake.addr),
        }),
    )
    .await;
}

/// The plugin as `GET /v1/plugins` lists it.
async fn plugin(host: &Host, id: &str) -> Value {
    let list = host.call(Method::GET, "/v1/plugins", None).await;
    list["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .find(|p| p["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no plugin {id} in {list}"))
}

/// A broadcast to every household, sent now through the dispatcher.
async fn broadcast_and_send(host: &Host, body: &str) {
    host.broadcast(None, body).await;
    host.send().await;
}

/// The text of the row of `version` in the table `table`.
async fn row(b: &Browser, table: &str, version: &str) -> String {
    b.text(&format!("{table} tr[data-version='{version}']"))
        .await
}

/// The cell `class` of the row of `version` in the table `table`.
async fn cell(b: &Browser, table: &str, version: &str, class: &str) -> String {
    b.text(&format!("{table} tr[data-version='{version}'] .{class}"))
        .await
}

/// Two households on the echo channel, one broadcast sent on 1.0.0 (the
/// platform accepts) and, with otaru on a canary of 2.0.0 made through
/// the API, one refused on 2.0.0 (the platform answers 400).
async fn deliveries_on_two_versions(host: &Host, fake: &Fake) {
    echo_channel(host, fake, "/ok").await;
    for i in 1..=2 {
        host.subscriber(
            "ja",
            "echo",
            &format!("echo-parent-{i}"),
            born_five_days_ago(),
        )
        .await;
    }
    broadcast_and_send(host, "1.0.0 で送るお知らせ").await;
    let sent = host.deliveries("&status=sent").await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent.iter().all(|d| d["plugin_version"] == "1.0.0"),
        "{sent:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_console_plugins_canary_rollback_and_partner_tokens() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let host = Host::start().await;
    let fake = Fake::start().await;
    upload(&host, artifacts::ECHO).await;
    upload(&host, artifacts::ECHO_V2).await;
    deliveries_on_two_versions(&host, &fake).await;
    host.call(
        Method::POST,
        "/v1/tenants",
        Some(json!({"id": "minato", "name": "港区"})),
    )
    .await;

    // The first operator signs in.
    let link = host
        .server
        .launched
        .first_sign_in
        .clone()
        .expect("a first start's link");
    b.open(&link).await;
    b.wait_for_heading(ja().accept_title).await;
    b.fill("#name", "運営 太郎").await;
    b.fill("#email", "operator@example.jp").await;
    b.fill("#password", PASSWORD).await;
    b.fill("#confirm", PASSWORD).await;
    b.click("main form button[type=submit]").await;
    b.wait_for_heading(ja().operator_title).await;

    // The plugins: echo with its active version, its channel, and the
    // deliveries of 1.0.0.
    b.click(".main-nav a[href='/operator/plugins']").await;
    b.wait_for_heading(ja().pl_title).await;
    assert_eq!(b.text("#plugin-echo .active").await, "1.0.0");
    assert_eq!(b.text("#plugin-echo .channels").await, "1");
    assert!(
        b.text("#plugin-echo .canaries")
            .await
            .contains(ja().pl_canaries_none)
    );
    assert_eq!(cell(&b, "#rates-echo", "1.0.0", "sent").await, "2");
    assert_eq!(cell(&b, "#rates-echo", "1.0.0", "failed").await, "0");
    assert_eq!(cell(&b, "#rates-echo", "1.0.0", "rate").await, "0.0%");
    assert_eq!(
        cell(&b, "#rates-echo", "1.0.0", "health").await,
        ja().pl_health_ok
    );
    assert!(
        b.text("#plugin-line").await.contains("line"),
        "the bundled plugins too"
    );
    b.assert_accessible("the plugins (ja)").await;

    // A canary of 2.0.0 for otaru: the tenant ticked, the version chosen.
    b.click("#plugin-echo a.open-link").await;
    b.wait_for_heading("echo").await;
    b.assert_accessible("a plugin (ja)").await;
    // No tenant: refused on the page, nothing changed.
    select(&b, "#canary-version", "2.0.0").await;
    b.click(".canary-form button[type=submit]").await;
    b.wait_for(".error-summary").await;
    assert!(
        b.text(".error-summary")
            .await
            .contains(ja().pl_tenants_missing)
    );
    assert_eq!(plugin(&host, "echo").await["canaries"], json!({}));
    b.assert_accessible("a canary without a tenant (ja)").await;
    // An unknown tenant typed: the API's refusal, nothing changed.
    b.click("input[name='tenant'][value='otaru']").await;
    b.fill("#canary-ids", "nowhere").await;
    b.click(".canary-form button[type=submit]").await;
    b.wait_for(".error-summary").await;
    assert!(
        b.text(".error-summary")
            .await
            .contains(&ja().pl_tenant_unknown.replace("{t}", "nowhere")),
        "{}",
        b.text(".error-summary").await
    );
    assert_eq!(plugin(&host, "echo").await["canaries"], json!({}));
    assert!(
        b.checked("input[name='tenant'][value='otaru']").await,
        "the form kept"
    );
    b.fill("#canary-ids", "").await;
    b.click(".canary-form button[type=submit]").await;
    b.wait_for("#done").await;
    assert!(
        b.text("#done").await.contains("2.0.0"),
        "{}",
        b.text("#done").await
    );
    assert_eq!(
        plugin(&host, "echo").await["canaries"],
        json!({ TENANT: "2.0.0" })
    );
    assert!(
        row(&b, "#versions", "2.0.0").await.contains(
            &ja()
                .pl_where_canary
                .replace("{tenants}", &format!("{TENANT_NAME} ({TENANT})"))
        )
    );

    // The platform now refuses: the next broadcast fails on 2.0.0.
    echo_channel(&host, &fake, "/status/400").await;
    broadcast_and_send(&host, "2.0.0 で送るお知らせ").await;
    let failed = host.deliveries("&status=failed").await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed.iter().all(|d| d["plugin_version"] == "2.0.0"),
        "{failed:?}"
    );
    b.open(&host.server.url("/operator/plugins")).await;
    b.wait_for_heading(ja().pl_title).await;
    assert_eq!(cell(&b, "#rates-echo", "2.0.0", "sent").await, "0");
    assert_eq!(cell(&b, "#rates-echo", "2.0.0", "failed").await, "2");
    assert_eq!(cell(&b, "#rates-echo", "2.0.0", "rate").await, "100.0%");
    assert_eq!(
        cell(&b, "#rates-echo", "2.0.0", "health").await,
        ja().pl_health_many
    );
    assert!(
        b.text("#plugin-echo .canaries").await.contains(TENANT_NAME),
        "the canary on the list"
    );
    assert_eq!(cell(&b, "#rates-echo", "1.0.0", "rate").await, "0.0%");
    b.desktop(true).await;
    b.screenshot_as_doc("console-plugins").await;
    b.desktop(false).await;

    // 2.0.0 for every tenant: asked first, then done.
    b.click("#plugin-echo a.open-link").await;
    b.wait_for_heading("echo").await;
    select(&b, "#activate-version", "2.0.0").await;
    b.click(".activate-form button[type=submit]").await;
    b.wait_for_heading(&ja().pl_confirm_activate_title.replace("{v}", "2.0.0"))
        .await;
    assert_eq!(
        plugin(&host, "echo").await["active_version"],
        "1.0.0",
        "nothing before the confirmation"
    );
    b.assert_accessible("confirm an activation (ja)").await;
    b.click("#confirm").await;
    b.wait_for("#done").await;
    assert_eq!(b.text("#active-version").await, "2.0.0");
    assert_eq!(plugin(&host, "echo").await["active_version"], "2.0.0");

    // One button rolls back (after its confirmation): 1.0.0 again.
    b.open(&host.server.url("/operator/plugins/echo?lang=en"))
        .await;
    b.wait_for_heading("echo").await;
    b.assert_accessible("a plugin (en)").await;
    b.click("#rollback").await;
    b.wait_for_heading(&en().pl_confirm_rollback_title.replace("{p}", "echo"))
        .await;
    b.assert_accessible("confirm a rollback (en)").await;
    b.click("#confirm").await;
    b.wait_for("#done").await;
    assert!(
        b.text("#done").await.contains(
            &en()
                .pl_done_rolled_back
                .replace("{p}", "echo")
                .replace("{v}", "1.0.0")
        ),
        "{}",
        b.text("#done").await
    );
    assert_eq!(b.text("#active-version").await, "1.0.0");
    assert_eq!(plugin(&host, "echo").await["active_version"], "1.0.0");
    assert!(
        row(&b, "#versions", "1.0.0")
            .await
            .contains(en().pl_where_active)
    );

    // The canary ends with its own button: otaru follows 1.0.0.
    b.click(&format!("#end-canary-{TENANT} button[type=submit]"))
        .await;
    // The page before had a `#done` too (the rollback's): wait for this
    // answer's own words.
    b.client
        .wait()
        .at_most(std::time::Duration::from_secs(30))
        .for_element(fantoccini::Locator::XPath(
            "//*[@id='done'][contains(., 'has ended')]",
        ))
        .await
        .expect("the canary's end is confirmed on the page");
    assert_eq!(plugin(&host, "echo").await["canaries"], json!({}));
    assert!(
        row(&b, "#versions", "2.0.0")
            .await
            .contains(en().pl_where_retired)
    );
    let resolved = host
        .server
        .launched
        .state
        .plugins
        .resolve("echo", Some(TENANT), None);
    assert_eq!(
        resolved.expect("a version").record.version.to_string(),
        "1.0.0"
    );

    // A partner account: the token shown once, then never again.
    b.click(".main-nav a[href='/operator/partners']").await;
    b.wait_for_heading(en().pt_title).await;
    b.wait_for("#no-partners").await;
    b.assert_accessible("the partners, none yet (en)").await;
    b.click(".partner-form button[type=submit]").await;
    b.wait_for(".error-summary").await;
    assert!(
        b.text(".error-summary")
            .await
            .contains(en().pt_label_missing)
    );
    b.fill("#label", "Echo Works Ltd.").await;
    b.click(".partner-form button[type=submit]").await;
    b.wait_for(".error-summary").await;
    assert!(
        b.text(".error-summary")
            .await
            .contains(en().pt_plugins_missing)
    );
    b.assert_accessible("a partner without plugins (en)").await;
    let echo_box = "input[name='plugin'][value='echo']";
    b.click(echo_box).await;
    b.click(".partner-form button[type=submit]").await;
    b.wait_for("#made").await;
    let token = b.value("#partner-token").await;
    assert!(token.starts_with("tyr_"), "{token}");
    b.assert_accessible("a partner token made (en)").await;
    // The token works for its plugin, as a partner's.
    let listed = host
        .server
        .http
        .get(host.server.url("/v1/plugins"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    let listed: Value = listed.json().await.unwrap();
    assert_eq!(listed["plugins"].as_array().unwrap().len(), 1, "{listed}");
    // Not shown again: the list has its name and plugins, never its text.
    b.open(&host.server.url("/operator/partners?lang=ja")).await;
    b.wait_for_heading(ja().pt_title).await;
    let partners = b.text("#partners").await;
    assert!(
        partners.contains("Echo Works Ltd.") && partners.contains("echo"),
        "{partners}"
    );
    let page = b.client.source().await.unwrap();
    assert!(!page.contains(&token), "the token is shown again");
    assert!(
        !page.contains(&token["tyr_".len()..]),
        "a part of the token is shown"
    );
    b.assert_accessible("the partners (ja)").await;

    // Revoked after a confirmation: the token stops working.
    b.click("#partners a.revoke-link").await;
    b.wait_for_heading(&ja().pt_revoke_title.replace("{l}", "Echo Works Ltd."))
        .await;
    b.assert_accessible("confirm a revocation (ja)").await;
    b.click("#confirm-revoke").await;
    b.wait_for("#done").await;
    assert!(
        b.text("#done").await.contains("Echo Works Ltd."),
        "{}",
        b.text("#done").await
    );
    let state = b.text("#partners .state").await;
    assert!(
        state.starts_with(&ja().pt_revoked.replace("{at}", "")[..6]),
        "revoked, with when: {state}"
    );
    let refused = host
        .server
        .http
        .get(host.server.url("/v1/plugins"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    // The audit log: every change, never the token.
    b.open(&host.server.url("/audit?lang=en")).await;
    b.wait_for_heading(en().audit_title).await;
    let audit = b.client.source().await.unwrap();
    for action in [
        en().pl_action_canary,
        en().pl_action_activated,
        en().pl_action_rolled_back,
        en().pt_action_created,
        en().pt_action_revoked,
    ] {
        assert!(audit.contains(action), "{action}");
    }
    assert!(!audit.contains(&token), "the token is in the audit log");
    b.close().await;
}

/// Chooses `value` in the select `css`.
async fn select(b: &Browser, css: &str, value: &str) {
    b.wait_for(css)
        .await
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("cannot choose {value} in {css}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_plugins_and_partners_are_the_operators_and_need_csrf() {
    let host = Host::start().await;
    let fake = Fake::start().await;
    upload(&host, artifacts::ECHO).await;
    upload(&host, artifacts::ECHO_V2).await;
    echo_channel(&host, &fake, "/ok").await;
    let op = first_operator(&host).await;
    let staff = accept(
        &host,
        &invite_with(
            &host,
            &op,
            TENANT,
            "it@otaru.example.jp",
            &["dashboard", "channels", "team"],
        )
        .await,
    )
    .await;
    let made = host
        .call(
            Method::POST,
            "/v1/tokens",
            Some(json!({"role": "partner", "plugins": ["echo"], "label": "Echo Works"})),
        )
        .await;
    let token_id = made["id"].as_str().unwrap().to_string();
    let before = plugin(&host, "echo").await;

    // Staff: the 404 of a missing page, on every page and form.
    let missing = staff.get("/t/nowhere").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    for path in [
        "/operator/plugins".to_string(),
        "/operator/plugins/echo".to_string(),
        "/operator/partners".to_string(),
        format!("/operator/partners/{token_id}/revoke"),
    ] {
        let answer = staff.get(&path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            answer.body.contains(ja().not_found_title)
                && missing.body.contains(ja().not_found_title),
            "{path}: the page of a missing one"
        );
        // Nothing of the plugin or the token (the page's own links name
        // its path, as on any missing page).
        for secret in ["2.0.0", "Echo Works", "<h1>echo"] {
            assert!(!answer.body.contains(secret), "{path}: {secret}");
        }
    }
    let csrf = staff.csrf(&format!("/t/{TENANT}")).await;
    for (path, form) in [
        (
            "/operator/plugins/echo/activate".to_string(),
            vec![("version", "2.0.0"), ("confirmed", "yes")],
        ),
        (
            "/operator/plugins/echo/canary".to_string(),
            vec![("version", "2.0.0"), ("tenant", TENANT)],
        ),
        (
            "/operator/plugins/echo/rollback".to_string(),
            vec![("confirmed", "yes")],
        ),
        (
            "/operator/partners".to_string(),
            vec![("label", "x"), ("plugin", "echo")],
        ),
        (format!("/operator/partners/{token_id}/revoke"), vec![]),
    ] {
        let mut form = form;
        form.push(("csrf", csrf.as_str()));
        let answer = staff.post(&path, &form).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
    }

    // The operator without the CSRF token: a 403, nothing changed.
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/operator/plugins/echo/activate".into(),
            vec![("version", "2.0.0"), ("confirmed", "yes")],
        ),
        (
            "/operator/plugins/echo/canary".into(),
            vec![("version", "2.0.0"), ("tenant", TENANT)],
        ),
        (
            "/operator/plugins/echo/rollback".into(),
            vec![("confirmed", "yes")],
        ),
        (
            "/operator/partners".into(),
            vec![("label", "Stolen"), ("plugin", "echo")],
        ),
        (format!("/operator/partners/{token_id}/revoke"), vec![]),
    ];
    for (path, form) in &forms {
        let answer = op.post(path, form).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
        assert!(answer.body.contains(ja().forbidden_title), "{path}");
        let mut wrong = form.clone();
        wrong.push(("csrf", "not-the-session-s"));
        assert_eq!(
            op.post(path, &wrong).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    assert_eq!(plugin(&host, "echo").await, before, "no plugin change");
    let tokens = host.call(Method::GET, "/v1/tokens", None).await;
    let partners: Vec<&Value> = tokens["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["role"] == "partner")
        .collect();
    assert_eq!(partners.len(), 1, "no token made: {tokens}");
    assert_eq!(partners[0]["revoked_at"], Value::Null, "none revoked");

    // With it, the API's own refusals: nothing to roll back to, a version
    // that does not exist.
    let csrf = op.csrf("/operator/plugins/echo").await;
    let refused = op
        .post(
            "/operator/plugins/echo/rollback",
            &[("csrf", &csrf), ("confirmed", "yes")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(
        refused.body.contains(ja().pl_nothing_to_roll_back),
        "{}",
        refused.body
    );
    let refused = op
        .post(
            "/operator/plugins/echo/activate",
            &[("csrf", &csrf), ("version", "9.9.9"), ("confirmed", "yes")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
    assert!(refused.body.contains("9.9.9"), "{}", refused.body);
    assert_eq!(plugin(&host, "echo").await, before, "no plugin change");
    // A plugin that does not exist is a missing page.
    assert_eq!(
        op.get("/operator/plugins/nothing").await.status,
        StatusCode::NOT_FOUND
    );

    // The token list shows the label, never a token's text or hash.
    let list = op.get("/operator/partners").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("Echo Works") && list.body.contains(&token_id));
    assert!(!list.body.contains(made["token"].as_str().unwrap()));
}
