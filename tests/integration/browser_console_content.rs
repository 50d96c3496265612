//! The console's local content pages through the running host: a staff
//! member with the Content permission adds an insert to the day's
//! message, previews it (the preview is exactly what the fake LINE then
//! receives when the dispatcher sends the message) and saves it; axe-core
//! checks the pages in Japanese and in English. Plain HTTP checks the
//! rest: a template with an unknown variable is a 422 naming it with
//! nothing saved, a form without its CSRF token and an account without
//! the Content permission are 403s, another tenant's staff gets the 404
//! of a missing tenant, and a tenant's own message is saved and deleted
//! with the API seeing each change and the audit log recording it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tayori_console::text::Lang;

use crate::support::browser::Browser;
use crate::support::console::*;
use crate::support::host::{Host, TENANT, TENANT_NAME, born_five_days_ago};
use crate::support::platforms::line::FakeLine;

fn ja() -> &'static tayori_console::text::Texts {
    Lang::Ja.texts()
}

fn en() -> &'static tayori_console::text::Texts {
    Lang::En.texts()
}

/// The day's message of a child born five days ago.
const MESSAGE: &str = "child-day-005";
const INSERT: &str = "{{ tenant_name }}の新生児訪問は、保健センター（電話 0134-00-0000）へ。";

async fn inserts(host: &Host) -> Vec<Value> {
    host.call(
        Method::GET,
        &format!("/v1/tenants/{TENANT}/catalog/inserts"),
        None,
    )
    .await["inserts"]
        .as_array()
        .expect("inserts")
        .clone()
}

async fn own_messages(host: &Host) -> Vec<Value> {
    host.call(
        Method::GET,
        &format!("/v1/tenants/{TENANT}/catalog/messages"),
        None,
    )
    .await["messages"]
        .as_array()
        .expect("messages")
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_console_content_previews_an_insert_as_the_dispatcher_sends_it() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let host = Host::start().await;
    let fake = FakeLine::start().await;
    host.put_line_channel(&fake).await;
    let address = format!("U{:032x}", 0x0c0_0015);
    household(
        &host,
        &address,
        json!({"birth_date": born_five_days_ago().to_string()}),
    )
    .await;
    let op = first_operator(&host).await;
    let invitation = invite_with(
        &host,
        &op,
        TENANT,
        "content@otaru.example.jp",
        &["dashboard", "content"],
    )
    .await;

    // The staff member accepts and opens local content from the menu.
    b.open(&host.server.url(&format!("{invitation}?lang=ja")))
        .await;
    b.wait_for_heading(ja().accept_title).await;
    b.fill("#name", "保健 花子").await;
    b.fill("#password", PASSWORD).await;
    b.fill("#confirm", PASSWORD).await;
    b.click("main form button[type=submit]").await;
    b.wait_for_heading(ja().dashboard_title).await;
    b.click(&format!(".main-nav a[href='/t/{TENANT}/content']"))
        .await;
    b.wait_for_heading(ja().content_title).await;
    let messages = b.text("#messages").await;
    assert!(messages.contains(MESSAGE), "the program's messages");
    b.assert_accessible("local content (ja)").await;

    // The day's message: an insert, previewed.
    b.click(&format!(
        "#messages a[href='/t/{TENANT}/content/inserts/message/{MESSAGE}']"
    ))
    .await;
    b.wait_for_heading(ja().insert_message_title).await;
    b.assert_accessible("an insert (ja)").await;
    b.fill("#text-ja", INSERT).await;
    b.click("#preview-button").await;
    b.wait_for("#preview").await;
    let shown = ".preview[data-locale='ja'] .preview-channel[data-channel='line']";
    let subject = b.text(&format!("{shown} [data-part='subject']")).await;
    let body = b.text(&format!("{shown} [data-part='body']")).await;
    let rendered = INSERT.replace("{{ tenant_name }}", TENANT_NAME);
    assert!(body.contains(&rendered), "the insert rendered: {body}");
    assert!(inserts(&host).await.is_empty(), "a preview saves nothing");
    b.assert_accessible("an insert, previewed (ja)").await;
    b.desktop(true).await;
    b.screenshot_as_doc("console-content").await;
    b.desktop(false).await;

    // Saved: the API has it, and the delivery carries what was previewed.
    b.click("#save-button").await;
    b.wait_for("#done-title").await;
    let stored = inserts(&host).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["key"], MESSAGE);
    assert_eq!(stored[0]["content"]["ja"], INSERT);
    host.plan_and_send().await;
    let delivered: Vec<String> = fake
        .deliveries()
        .into_iter()
        .filter(|d| d.user == address)
        .flat_map(|d| d.texts)
        .collect();
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    // LINE has no subject line: the plugin puts it first.
    let previewed = format!("{}\n\n{}", subject.trim(), body.trim());
    assert_eq!(delivered[0].trim(), previewed.trim(), "what a parent reads");

    // The pages in English.
    b.open(&host.server.url(&format!(
        "/t/{TENANT}/content/inserts/message/{MESSAGE}?lang=en"
    )))
    .await;
    b.wait_for_heading(en().insert_message_title).await;
    b.wait_for("#preview").await;
    b.assert_accessible("an insert with its preview (en)").await;
    b.open(&host.server.url(&format!("/t/{TENANT}/content?lang=en")))
        .await;
    b.wait_for_heading(en().content_title).await;
    b.assert_accessible("local content (en)").await;
    b.click("#new-message").await;
    b.wait_for_heading(en().own_new_title).await;
    b.assert_accessible("a new own message (en)").await;
    // An error on the page: the summary links to the field.
    b.fill("#id", "Bad Id").await;
    b.fill("#rule-number", "4").await;
    b.fill("#ja-body", "本文").await;
    b.click("#save-button").await;
    b.wait_for(".error-summary").await;
    assert_eq!(
        b.attr(".error-summary a", "href").await.as_deref(),
        Some("#id")
    );
    b.assert_accessible("a new own message with an error (en)")
        .await;
    b.close().await;
}

#[tokio::test]
async fn console_content_checks_templates_csrf_permission_and_tenant() {
    let host = Host::start().await;
    host.call(
        Method::POST,
        "/v1/tenants",
        Some(json!({"id": "minato", "name": "港区"})),
    )
    .await;
    let op = first_operator(&host).await;
    let editor = accept(
        &host,
        &invite_with(
            &host,
            &op,
            TENANT,
            "editor@otaru.example.jp",
            &["dashboard", "content"],
        )
        .await,
    )
    .await;
    let viewer = accept(
        &host,
        &invite_with(
            &host,
            &op,
            TENANT,
            "viewer@otaru.example.jp",
            &["dashboard"],
        )
        .await,
    )
    .await;
    let other = accept(
        &host,
        &invite_with(
            &host,
            &op,
            "minato",
            "editor@minato.example.jp",
            &["dashboard", "content"],
        )
        .await,
    )
    .await;
    let page = format!("/t/{TENANT}/content/inserts/message/{MESSAGE}");
    let list = editor.get(&format!("/t/{TENANT}/content")).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.body.contains(&page),
        "the message's insert page is linked"
    );

    // A template naming a variable the renderer does not have: 422, named.
    let csrf = editor.csrf(&page).await;
    for action in ["preview", "save"] {
        let refused = editor
            .post(
                &page,
                &[
                    ("csrf", &csrf),
                    ("text_ja", "{{ nosuch_variable }}の案内"),
                    ("action", action),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{action}");
        let summary = between(&refused.body, "class=\"error-summary\"", "</div>");
        assert!(summary.contains("nosuch_variable"), "{summary}");
        assert!(summary.contains("href=\"#text-ja\""), "{summary}");
    }
    assert!(inserts(&host).await.is_empty(), "nothing saved");

    // No CSRF token: 403, nothing saved.
    let forged = editor
        .post(&page, &[("text_ja", "案内"), ("action", "save")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(inserts(&host).await.is_empty(), "nothing saved");

    // Without the Content permission: 403 on the page and on the form.
    assert_eq!(
        viewer.get(&format!("/t/{TENANT}/content")).await.status,
        StatusCode::FORBIDDEN
    );
    assert!(
        !viewer
            .get(&format!("/t/{TENANT}"))
            .await
            .body
            .contains(&format!("/t/{TENANT}/content")),
        "no menu item without the permission"
    );
    let viewer_csrf = viewer.csrf(&format!("/t/{TENANT}")).await;
    let denied = viewer
        .post(
            &page,
            &[
                ("csrf", &viewer_csrf),
                ("text_ja", "案内"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert!(inserts(&host).await.is_empty(), "nothing saved");

    // Another tenant's staff: the 404 of a missing tenant.
    let missing = other.get("/t/nowhere").await;
    for path in [
        format!("/t/{TENANT}/content"),
        page.clone(),
        format!("/t/{TENANT}/content/new-message"),
    ] {
        let answer = other.get(&path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            between(&answer.body, "<main", "</main>"),
            between(&missing.body, "<main", "</main>"),
            "{path}"
        );
    }
    let other_csrf = other.csrf("/t/minato/content").await;
    let refused = other
        .post(
            &page,
            &[
                ("csrf", &other_csrf),
                ("text_ja", "案内"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    assert!(inserts(&host).await.is_empty(), "nothing saved");

    // Saved by its editor: the API has it, the audit log says so.
    let saved = editor
        .post(
            &page,
            &[
                ("csrf", &csrf),
                ("text_ja", "{{ tenant_name }}の案内"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(inserts(&host).await.len(), 1);

    // A stage's insert, then deleted after its confirmation page.
    let stage = format!("/t/{TENANT}/content/inserts/stage/month-0");
    let saved = editor
        .post(
            &stage,
            &[
                ("csrf", &csrf),
                ("text_ja", "段階の案内"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(inserts(&host).await.len(), 2);
    let confirm = editor.get(&format!("{stage}/delete")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("confirm-delete"));
    let deleted = editor
        .post(&format!("{stage}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert_eq!(inserts(&host).await.len(), 1);

    // An own message: a bad rule is the domain's problem, then saved.
    let new = format!("/t/{TENANT}/content/new-message");
    let form = |n: &'static str, action: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("id", "kenshin-4m".to_string()),
            ("stage", "month-4".to_string()),
            ("rule_kind", "child_month".to_string()),
            ("rule_number", n.to_string()),
            ("ja_subject", "4か月児健診".to_string()),
            (
                "ja_body",
                "{{ tenant_name }}の4か月児健診のご案内です。".to_string(),
            ),
            ("en_subject", String::new()),
            ("en_body", String::new()),
            ("action", action.to_string()),
        ]
    };
    let bad = form("9999", "save");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = editor.post(&new, &bad).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let summary = between(&refused.body, "class=\"error-summary\"", "</div>");
    assert!(summary.contains("child_month must be at most"), "{summary}");
    assert!(summary.contains("href=\"#rule-number\""), "{summary}");
    assert!(own_messages(&host).await.is_empty(), "nothing saved");
    let preview = form("4", "preview");
    let preview: Vec<(&str, &str)> = preview.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let shown = editor.post(&new, &preview).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(
        shown.body.contains("小樽市の4か月児健診のご案内です。"),
        "the preview renders the message"
    );
    assert!(
        own_messages(&host).await.is_empty(),
        "a preview saves nothing"
    );
    let good = form("4", "save");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let saved = editor.post(&new, &good).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let own = own_messages(&host).await;
    assert_eq!(own.len(), 1, "{own:?}");
    assert_eq!(own[0]["id"], "kenshin-4m");
    assert_eq!(own[0]["rule"], json!({"child_month": 4}));
    let listed = editor.get(&format!("/t/{TENANT}/content")).await;
    assert!(
        listed
            .body
            .contains(&format!("/t/{TENANT}/content/messages/kenshin-4m"))
    );
    let message = format!("/t/{TENANT}/content/messages/kenshin-4m");
    assert_eq!(editor.get(&message).await.status, StatusCode::OK);
    let deleted = editor
        .post(&format!("{message}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert!(own_messages(&host).await.is_empty());

    // Every change is in the audit log.
    let audit = op.get(&format!("/t/{TENANT}/audit?lang=en")).await;
    assert_eq!(audit.status, StatusCode::OK);
    for words in [
        en().action_content_insert_saved,
        en().action_content_insert_deleted,
        en().action_content_message_saved,
        en().action_content_message_deleted,
    ] {
        assert!(audit.body.contains(words), "{words}");
    }
}
