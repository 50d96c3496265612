//! The console's channels page, used as staff use it: a real Chromium
//! opens the LINE channel's settings (a form made from the plugin's JSON
//! Schema), whose secrets are never shown, not even in the page's source;
//! a wrong number is an error on the page and changes nothing; a save
//! with a new token goes through the API's own checks and keeps the token
//! sealed; a test send reaches the fake LINE; a pause holds the channel
//! with its reason and a resume ends it; axe-core checks each page in
//! Japanese and in English. Plain HTTP checks what a browser would not
//! show: a POST without its CSRF token changes nothing, staff without the
//! permission get a 403, staff of another tenant the 404 of a missing one.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tayori_console::text::Lang;

use crate::support::browser::Browser;
use crate::support::console::*;
use crate::support::host::{Host, TENANT};
use crate::support::platforms::line::{ACCESS_TOKEN, CHANNEL_SECRET, FakeLine};

fn ja() -> &'static tayori_console::text::Texts {
    Lang::Ja.texts()
}

fn en() -> &'static tayori_console::text::Texts {
    Lang::En.texts()
}

/// The page's HTML as the browser has it.
async fn source(b: &Browser) -> String {
    b.client.source().await.expect("the page source")
}

fn assert_no_secret(page: &str, what: &str) {
    assert!(
        !page.contains(ACCESS_TOKEN),
        "{what} shows the access token"
    );
    assert!(
        !page.contains(CHANNEL_SECRET),
        "{what} shows the channel secret"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_console_channel_settings_keep_secrets_unseen_test_send_pause_and_resume() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let host = Host::start().await;
    let fake = FakeLine::start().await;
    host.put_line_channel(&fake).await;
    let op = first_operator(&host).await;
    let invitation = invite_with(
        &host,
        &op,
        TENANT,
        "it@otaru.example.jp",
        &["dashboard", "channels"],
    )
    .await;

    b.open(&host.server.url(&format!("{invitation}?lang=ja")))
        .await;
    b.wait_for_heading(ja().accept_title).await;
    b.fill("#name", "情報 三郎").await;
    b.fill("#password", PASSWORD).await;
    b.fill("#confirm", PASSWORD).await;
    b.click("main form button[type=submit]").await;
    b.wait_for_heading(ja().dashboard_title).await;
    b.click(&format!(".main-nav a[href='/t/{TENANT}/channels']"))
        .await;
    b.wait_for_heading(ja().ch_title).await;
    let line = b.text("#channel-line").await;
    assert!(
        line.contains("line") && line.contains(ja().ch_active),
        "{line}"
    );
    let api = host.channel("line").await;
    let version = api["resolved_version"].as_str().expect("a version in use");
    assert!(
        b.text("#channel-line .version").await.contains(version),
        "the version in use"
    );
    b.assert_accessible("the channels (ja)").await;
    assert_no_secret(&source(&b).await, "the channels page");
    b.desktop(true).await;
    b.screenshot_as_doc("console-channels").await;
    b.desktop(false).await;

    // The settings: made from the plugin's schema; the secrets are empty
    // password fields that say a value is saved.
    b.click("#channel-line a.edit-link").await;
    b.wait_for_heading(&ja().ch_edit_title.replace("{c}", "line"))
        .await;
    let token = "input[name='cfg.channel_access_token']";
    assert_eq!(b.attr(token, "type").await.as_deref(), Some("password"));
    assert_eq!(b.value(token).await, "");
    assert_eq!(
        b.value("input[name='cfg.channel_secret']").await,
        "",
        "never filled in"
    );
    assert_eq!(b.value("input[name='cfg.api_base']").await, fake.api_base());
    assert!(b.text("#config-form").await.contains(ja().ch_secret_stored));
    assert_no_secret(&source(&b).await, "the settings form");
    b.assert_accessible("a channel's settings (ja)").await;
    b.desktop(true).await;
    b.screenshot_as_doc("console-channel-settings").await;
    b.desktop(false).await;

    // A number that is not one: said at the field, nothing saved.
    b.fill("input[name='cfg.multicast_min_recipients']", "many")
        .await;
    b.fill(token, "a-new-token-that-must-not-be-kept").await;
    b.click("#config-form button[type=submit]").await;
    b.wait_for(".error-summary").await;
    assert!(
        b.text(".error-summary")
            .await
            .contains(ja().ch_not_a_number)
    );
    assert_eq!(b.value(token).await, "", "a typed secret is not sent back");
    assert!(
        !source(&b)
            .await
            .contains("a-new-token-that-must-not-be-kept"),
        "the refused page shows the typed secret"
    );
    b.assert_accessible("a channel's settings with an error (ja)")
        .await;
    let unchanged = host.channel("line").await;
    assert_eq!(unchanged["config"], api["config"], "nothing saved");

    // Saved with the token typed again: the API's checks, the token sealed.
    b.fill("input[name='cfg.multicast_min_recipients']", "60")
        .await;
    b.fill(token, ACCESS_TOKEN).await;
    b.click("#config-form button[type=submit]").await;
    b.wait_for("#done").await;
    assert!(b.text("#done").await.contains("line"));
    let saved = host.channel("line").await;
    assert_eq!(saved["config"]["multicast_min_recipients"], 60);
    assert_eq!(saved["config"]["channel_access_token"], "<redacted>");
    assert_eq!(
        saved["secrets_set"],
        json!(["channel_access_token", "channel_secret"]),
        "the secret left empty is kept"
    );
    assert_eq!(
        saved["allowed_hosts"], api["allowed_hosts"],
        "the operator's hosts stay"
    );
    assert_no_secret(&source(&b).await, "the channels page after a save");

    // A test send reaches the fake LINE, from the channel's own token.
    let staff_user = format!("U{:032x}", 0x0e00_0001);
    b.click("#channel-line details.test summary").await;
    b.fill("#address-line", &staff_user).await;
    b.click("#channel-line .test-form button[type=submit]")
        .await;
    b.wait_for("#done").await;
    assert!(
        b.text("#done")
            .await
            .contains(&ja().ch_tested_done.replace("{c}", "line"))
    );
    let pushed: Vec<String> = fake
        .deliveries()
        .into_iter()
        .filter(|d| d.user == staff_user)
        .flat_map(|d| d.texts)
        .collect();
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    assert!(pushed[0].contains("テスト送信"), "{pushed:?}");

    // A pause needs a reason; then the channel says why and since when.
    b.open(&host.server.url(&format!("/t/{TENANT}/channels?lang=en")))
        .await;
    b.wait_for_heading(en().ch_title).await;
    b.assert_accessible("the channels (en)").await;
    b.click("#channel-line details.pause summary").await;
    b.click("#channel-line .pause-form button[type=submit]")
        .await;
    b.wait_for(".error-summary").await;
    assert!(
        b.text(".error-summary")
            .await
            .contains(en().ch_reason_missing)
    );
    b.assert_accessible("the channels, a pause without a reason (en)")
        .await;
    assert_eq!(
        host.channel("line").await["paused"],
        serde_json::Value::Null
    );
    b.fill("#reason-line", "Renewing the token").await;
    b.click("#channel-line .pause-form button[type=submit]")
        .await;
    b.wait_for("#done").await;
    assert_eq!(
        b.attr("#channel-line .state", "data-key").await.as_deref(),
        Some("paused")
    );
    assert!(
        b.text("#channel-line .state")
            .await
            .contains("Renewing the token")
    );
    assert_eq!(
        host.channel("line").await["paused"]["reason"],
        "Renewing the token"
    );
    b.assert_accessible("the channels, paused (en)").await;
    // A paused channel sends no test: the page says why.
    b.click("#channel-line details.test summary").await;
    b.fill("#address-line", &staff_user).await;
    b.click("#channel-line .test-form button[type=submit]")
        .await;
    b.wait_for(".test-failed").await;
    assert!(b.text(".test-failed").await.contains("paused"));
    b.assert_accessible("the channels, a test refused (en)")
        .await;
    assert_eq!(
        fake.deliveries()
            .iter()
            .filter(|d| d.user == staff_user)
            .count(),
        1,
        "nothing more was sent"
    );
    b.click("#channel-line .resume-form button[type=submit]")
        .await;
    b.wait_for("#done").await;
    assert_eq!(
        b.attr("#channel-line .state", "data-key").await.as_deref(),
        Some("active")
    );
    assert_eq!(
        host.channel("line").await["paused"],
        serde_json::Value::Null
    );

    // The audit log: who saved, tested, paused and resumed.
    let audit = op.get(&format!("/t/{TENANT}/audit?lang=en")).await;
    for action in [
        "channel_saved",
        "channel_test_sent",
        "channel_paused",
        "channel_resumed",
    ] {
        assert!(audit.body.contains(action), "{action}: {}", audit.body);
    }
    assert!(audit.body.contains("情報 三郎"), "who");
    assert_no_secret(&audit.body, "the audit log");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_channels_need_csrf_and_permission_and_stay_in_their_tenant() {
    let host = Host::start().await;
    let fake = FakeLine::start().await;
    host.put_line_channel(&fake).await;
    host.call(
        Method::POST,
        "/v1/tenants",
        Some(json!({"id": "minato", "name": "港区"})),
    )
    .await;
    let op = first_operator(&host).await;
    let manager = accept(
        &host,
        &invite_with(&host, &op, TENANT, "it@otaru.example.jp", &["channels"]).await,
    )
    .await;
    let viewer = accept(
        &host,
        &invite_with(&host, &op, TENANT, "view@otaru.example.jp", &["dashboard"]).await,
    )
    .await;
    let before = host.channel("line").await;

    // Without its CSRF token a save, a pause and a test change nothing.
    for (path, form) in [
        (
            format!("/t/{TENANT}/channels/line"),
            vec![("plugin", "line"), ("cfg.channel_access_token", "stolen")],
        ),
        (
            format!("/t/{TENANT}/channels/line/pause"),
            vec![("reason", "x")],
        ),
        (
            format!("/t/{TENANT}/channels/line/test"),
            vec![("address", "Uxx")],
        ),
    ] {
        let refused = manager.post(&path, &form).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(host.channel("line").await, before, "nothing changed");
    assert!(fake.deliveries().is_empty(), "nothing sent");

    // Without "manage channels": a 403 page, on every page and form.
    assert_eq!(
        viewer.get(&format!("/t/{TENANT}/channels")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        viewer
            .get(&format!("/t/{TENANT}/channels/line"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let csrf = viewer.csrf(&format!("/t/{TENANT}")).await;
    let refused = viewer
        .post(
            &format!("/t/{TENANT}/channels/line/pause"),
            &[("csrf", &csrf), ("reason", "x")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        host.channel("line").await["paused"],
        serde_json::Value::Null
    );

    // Another tenant's channels are a missing tenant's.
    let missing = manager.get("/t/nowhere/channels").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    for path in [
        "/t/minato/channels",
        "/t/minato/channels/line",
        "/t/minato/channels/new?plugin=line&name=line",
    ] {
        let answer = manager.get(path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!answer.body.contains("港区"), "{path}");
    }
    let csrf = manager.csrf(&format!("/t/{TENANT}/channels")).await;
    let refused = manager
        .post(
            "/t/minato/channels/line/pause",
            &[("csrf", &csrf), ("reason", "x")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);

    // A page a browser never shows with a secret: the form, read as HTML.
    let form = manager.get(&format!("/t/{TENANT}/channels/line")).await;
    assert_eq!(form.status, StatusCode::OK);
    assert_no_secret(&form.body, "the settings form");

    // A new channel's name is checked before its form is shown.
    for (name, expected) in [
        ("Bad_Name", ja().ch_name_invalid),
        ("line", ja().ch_name_taken),
    ] {
        let answer = manager
            .get(&format!("/t/{TENANT}/channels/new?plugin=line&name={name}"))
            .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        assert!(answer.body.contains(expected), "{name}: {}", answer.body);
    }
    let answer = manager
        .get(&format!(
            "/t/{TENANT}/channels/new?plugin=nothing&name=other"
        ))
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.body.contains(ja().ch_plugin_missing));

    // A new channel made by staff: the API's checks (a required secret
    // missing is named), then saved with the hosts its plugin names.
    let new = manager
        .get(&format!("/t/{TENANT}/channels/new?plugin=line&name=line-2"))
        .await;
    assert_eq!(new.status, StatusCode::OK, "{}", new.body);
    let csrf = between(&new.body, "name=\"csrf\" value=\"", "\"");
    let refused = manager
        .post(
            &format!("/t/{TENANT}/channels/line-2"),
            &[
                ("csrf", &csrf),
                ("plugin", "line"),
                ("cfg.mode", "push_only"),
            ],
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains(&ja().ch_required.replace("{f}", "channel_access_token")),
        "{}",
        refused.body
    );
    let made = manager
        .post(
            &format!("/t/{TENANT}/channels/line-2"),
            &[
                ("csrf", &csrf),
                ("plugin", "line"),
                ("cfg.mode", "push_only"),
                ("cfg.channel_access_token", "another-token"),
                // Not LINE itself: this machine has no way out, and the
                // fake is not among the hosts staff may approve, so the
                // rich menu's set-up is refused in the sandbox at once.
                ("cfg.api_base", &fake.api_base()),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let line2 = host.channel("line-2").await;
    assert_eq!(line2["config"]["mode"], "push_only");
    assert_eq!(line2["secrets_set"], json!(["channel_access_token"]));
    assert_eq!(
        line2["allowed_hosts"],
        json!(["api.line.me", "api-data.line.me"])
    );
}
