//! The web console through the running host, used as its people would: a
//! real Chromium opens the first start's link and becomes the first
//! operator, who sees every tenant and invites a staff member of one
//! tenant; the staff member accepts, is signed in and reads the tenant's
//! dashboard, whose numbers are the reports API's for the same month;
//! axe-core checks each page in Japanese and in English. Plain HTTP checks
//! what a browser would not show: five wrong passwords lock an account
//! (on the host's clock), a POST without its CSRF token is refused and
//! changes nothing, and a staff member of one tenant gets the 404 of a
//! missing tenant on every page of another.

use chrono::Duration;
use fantoccini::Locator;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tayori_console::text::Lang;

use crate::support::browser::Browser;
use crate::support::chat::{actions, data_of, said};
use crate::support::console::*;
use crate::support::host::{Host, TENANT, TENANT_NAME, born_five_days_ago};
use crate::support::platforms::line::FakeLine;

fn ja() -> &'static tayori_console::text::Texts {
    Lang::Ja.texts()
}

fn en() -> &'static tayori_console::text::Texts {
    Lang::En.texts()
}

/// A number shown on the page.
async fn number(b: &Browser, css: &str) -> u64 {
    let text = b.text(css).await;
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("`{css}` is not a number: {text}"))
}

/// The dashboard shows the reports API's numbers for `month`.
async fn assert_dashboard_is_the_report(b: &Browser, host: &Host, month: &str) {
    let report = host
        .call(
            Method::GET,
            &format!("/v1/tenants/{TENANT}/reports/monthly?month={month}"),
            None,
        )
        .await;
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    assert_eq!(number(b, "#active-users").await, n(&report["active_users"]));
    for stage in ["pregnancy", "0-1", "1-2", "2-3", "later"] {
        assert_eq!(
            number(b, &format!("#active-by-stage tr[data-key='{stage}'] td")).await,
            n(&report["active_by_stage"][stage]),
            "{month}: stage {stage}"
        );
    }
    for (channel, value) in report["active_by_channel"].as_object().unwrap() {
        assert_eq!(
            number(
                b,
                &format!("#active-by-channel tr[data-key='{channel}'] td")
            )
            .await,
            n(value),
            "{month}: channel {channel}"
        );
    }
    for figure in [
        "registrations",
        "households_created",
        "confirmations",
        "stops",
        "blocks",
    ] {
        assert_eq!(
            number(b, &format!("#month-table tr[data-key='{figure}'] td")).await,
            n(&report[figure]),
            "{month}: {figure}"
        );
    }
    for (channel, by) in report["deliveries"].as_object().unwrap() {
        for (status, value) in by.as_object().unwrap() {
            assert_eq!(
                number(
                    b,
                    &format!("#deliveries-table tr[data-key='{channel}/{status}'] td.num")
                )
                .await,
                n(value),
                "{month}: deliveries {channel}/{status}"
            );
        }
    }
    // Registrations in each of the 12 months, and their share of births.
    let by_month = report["registrations_by_month"].as_object().unwrap();
    assert_eq!(by_month.len(), 12);
    for (m, value) in by_month {
        assert_eq!(
            number(b, &format!("#registrations-table tr[data-key='{m}'] td")).await,
            n(value),
            "{month}: registrations in {m}"
        );
    }
    let rate = b.text("#registration-rate").await;
    match report["registration_rate"].as_f64() {
        Some(r) => {
            let births = report["yearly_births"].as_u64().unwrap().to_string();
            let registered = by_month.values().map(n).sum::<u64>().to_string();
            for shown in [format!("{:.1}", r * 100.0), births, registered] {
                assert!(rate.contains(&shown), "{month}: {shown} in {rate}");
            }
        }
        None => assert!(
            rate == ja().db_rate_unset || rate == en().db_rate_unset,
            "{month}: {rate}"
        ),
    }
    // Deliveries by day (the table in its closed `details`: its text
    // content), and failures by reason.
    for (day, by) in report["deliveries_by_day"].as_object().unwrap() {
        for (channel, by) in by.as_object().unwrap() {
            for (status, value) in by.as_object().unwrap() {
                let cell = b
                    .wait_for(&format!(
                        "#by-day-table tr[data-key='{day}/{channel}'] td[data-status='{status}']"
                    ))
                    .await
                    .prop("textContent")
                    .await
                    .unwrap()
                    .unwrap_or_default();
                assert_eq!(
                    cell.trim().parse::<u64>().ok(),
                    Some(n(value)),
                    "{month}: {day} {channel} {status}"
                );
            }
        }
    }
    for (reason, value) in report["failures"].as_object().unwrap() {
        assert_eq!(
            number(b, &format!("#failures-table tr[data-key='{reason}'] td")).await,
            n(value),
            "{month}: failures {reason}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_console_first_operator_invites_staff_who_see_the_report_figures() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let host = Host::start().await;
    let fake = FakeLine::start().await;
    host.put_line_channel(&fake).await;
    let user = |i: u32| format!("U{:032x}", 0x0c00_0000 + i);
    // A parent registers in the chat on 4 January.
    let greeting = said(&host, &fake, vec![fake.follow(&user(6), false)]).await;
    let picker = said(
        &host,
        &fake,
        vec![fake.postback(&user(6), &data_of(&greeting, "生まれた"))],
    )
    .await;
    let data = actions(&picker)[0]["data"].as_str().unwrap().to_string();
    let confirm = said(
        &host,
        &fake,
        vec![fake.picked(&user(6), &data, "2027-01-03")],
    )
    .await;
    said(
        &host,
        &fake,
        vec![fake.postback(&user(6), &data_of(&confirm, "登録する"))],
    )
    .await;
    household(&host, &user(1), json!({"due_date": "2027-06-01"})).await;
    household(&host, &user(2), json!({"birth_date": "2026-12-01"})).await;
    household(
        &host,
        &user(3),
        json!({"birth_date": born_five_days_ago().to_string()}),
    )
    .await;
    household(&host, &user(4), json!({"birth_date": "2025-06-01"})).await;
    household(&host, &user(5), json!({"birth_date": "2024-01-05"})).await;
    // LINE no longer knows the parent whose child is five days old: its
    // message fails (the recipient is gone).
    fake.unknown_user(&user(3));
    host.plan_and_send().await;
    assert!(!host.deliveries("&status=failed").await.is_empty());

    // The first start's link: the first operator sets a name and password.
    let link = host
        .server
        .launched
        .first_sign_in
        .clone()
        .expect("a first start's link");
    assert!(link.starts_with(&host.server.url("/first/")), "{link}");
    b.open(&host.server.url("/")).await;
    b.wait_for_heading(ja().sign_in_title).await;
    b.open(&link).await;
    b.wait_for_heading(ja().accept_title).await;
    b.assert_accessible("the first operator's account (ja)")
        .await;
    b.fill("#name", "運営 太郎").await;
    b.fill("#email", "operator@example.jp").await;
    b.fill("#password", PASSWORD).await;
    b.fill("#confirm", PASSWORD).await;
    b.click("main form button[type=submit]").await;
    b.wait_for_heading(ja().operator_title).await;
    let tenants = b.text("#tenants").await;
    assert!(tenants.contains(TENANT_NAME), "{tenants}");
    b.assert_accessible("the operator's tenants (ja)").await;
    b.desktop(true).await;
    // docs/console-operator.png is browser_console_operator's, with more tenants.
    b.screenshot("console-operator").await;
    b.desktop(false).await;
    b.screenshot("console-operator-phone").await;
    b.open(&host.server.url("/operator?lang=en")).await;
    b.wait_for_heading(en().operator_title).await;
    b.assert_accessible("the operator's tenants (en)").await;
    // The link worked once.
    b.open(&link).await;
    b.wait_for_heading(en().invite_closed_title).await;

    // The operator sets the tenant's yearly births on its dashboard: a
    // wrong number is refused, named in plain words; full-width digits are
    // read.
    b.open(&host.server.url(&format!("/t/{TENANT}?lang=ja")))
        .await;
    b.wait_for_heading(ja().dashboard_title).await;
    assert_eq!(b.text("#registration-rate").await, ja().db_rate_unset);
    b.fill("#yearly-births", "0").await;
    b.click("#save-settings").await;
    b.wait_for(".error-summary").await;
    assert!(
        b.text(".error-summary")
            .await
            .contains(ja().db_births_invalid),
        "the error says what is wrong"
    );
    assert_eq!(
        b.attr("#yearly-births", "aria-invalid").await.as_deref(),
        Some("true")
    );
    b.assert_accessible("the dashboard's settings with an error (ja)")
        .await;
    b.fill("#yearly-births", "１２０").await;
    b.click("#save-settings").await;
    b.wait_for("#saved-title").await;
    assert_eq!(b.value("#yearly-births").await, "120");
    assert_eq!(
        host.call(Method::GET, &format!("/v1/tenants/{TENANT}"), None)
            .await["yearly_births"],
        120
    );
    assert_dashboard_is_the_report(&b, &host, "2027-01").await;
    b.assert_accessible("the dashboard's settings saved (ja)")
        .await;

    // The operator invites a staff member of the tenant.
    b.open(&host.server.url(&format!("/t/{TENANT}/team?lang=ja")))
        .await;
    b.wait_for_heading(ja().team_title).await;
    b.assert_accessible("the team (ja)").await;
    b.fill("#invite-email", "staff@otaru.example.jp").await;
    assert!(
        b.checked("#perm-dashboard").await,
        "the dashboard by default"
    );
    b.click("#perm-team").await;
    b.click("main form button[type=submit]").await;
    let invitation = b.value("#invite-link").await;
    assert!(
        invitation.starts_with(&host.server.url("/invite/")),
        "{invitation}"
    );
    b.assert_accessible("the invitation made (ja)").await;
    let pending = b.text("#pending").await;
    assert!(pending.contains("staff@otaru.example.jp"), "{pending}");
    // Signing out ends the session.
    b.click(".sign-out button").await;
    b.wait_for_heading(ja().sign_in_title).await;
    b.open(&host.server.url("/operator")).await;
    b.wait_for_heading(ja().sign_in_title).await;
    b.assert_accessible("sign in (ja)").await;
    b.screenshot_as_doc("console-sign-in").await;
    b.open(&host.server.url("/sign-in?lang=en")).await;
    b.wait_for_heading(en().sign_in_title).await;
    b.assert_accessible("sign in (en)").await;

    // The staff member accepts: signed in, on the tenant's dashboard.
    b.open(&format!("{invitation}?lang=ja")).await;
    b.wait_for_heading(ja().accept_title).await;
    b.assert_accessible("an invitation (ja)").await;
    b.fill("#name", "職員 花子").await;
    b.fill("#password", PASSWORD).await;
    b.fill("#confirm", "not the same passphrase").await;
    b.click("main form button[type=submit]").await;
    b.wait_for(".error-summary").await;
    b.assert_accessible("an invitation with an error (ja)")
        .await;
    b.fill("#password", PASSWORD).await;
    b.fill("#confirm", PASSWORD).await;
    b.click("main form button[type=submit]").await;
    b.wait_for_heading(ja().dashboard_title).await;
    assert!(
        b.url().await.ends_with(&format!("/t/{TENANT}")),
        "{}",
        b.url().await
    );
    assert!(
        b.text(".caption").await.contains(TENANT_NAME),
        "the tenant's name"
    );
    assert_dashboard_is_the_report(&b, &host, "2027-01").await;
    assert!(
        number(&b, "#active-users").await >= 4,
        "the households count"
    );
    b.wait_for("svg.chart title").await;
    // Births per month as a dashed line; the share of births in words.
    b.wait_for("svg .chart-level").await;
    assert!(
        b.text("#registration-rate").await.contains("0.8"),
        "1 of 120"
    );
    // No settings form without "manage channels and settings".
    assert!(b.text("#births-now").await.contains("120"));
    assert!(b.client.find(Locator::Css("#yearly-births")).await.is_err());
    b.assert_accessible("the dashboard (ja)").await;
    b.desktop(true).await;
    b.screenshot_as_doc("console-dashboard").await;
    b.desktop(false).await;
    b.screenshot("console-dashboard-phone").await;
    // Another month, through the month picker (a GET form).
    b.client
        .find(Locator::Css("#month"))
        .await
        .unwrap()
        .select_by_value("2026-12")
        .await
        .unwrap();
    b.click(".month-form button").await;
    b.wait_for("#month option[value='2026-12'][selected]").await;
    assert!(b.url().await.contains("month=2026-12"), "{}", b.url().await);
    assert_dashboard_is_the_report(&b, &host, "2026-12").await;
    b.open(&host.server.url(&format!("/t/{TENANT}?lang=en")))
        .await;
    b.wait_for_heading(en().dashboard_title).await;
    assert_dashboard_is_the_report(&b, &host, "2027-01").await;
    b.assert_accessible("the dashboard (en)").await;
    // The audit log says who did what.
    b.open(&host.server.url(&format!("/t/{TENANT}/audit")))
        .await;
    b.wait_for_heading(en().audit_title).await;
    let audit = b.text("#audit").await;
    for said in [
        en().action_invitation_made,
        en().action_invitation_used,
        en().action_sign_in,
        en().action_tenant_settings_saved,
    ] {
        assert!(audit.contains(said), "{said} in {audit}");
    }
    assert!(!audit.contains(PASSWORD), "no password in the log");
    b.assert_accessible("the audit log (en)").await;
    b.open(&host.server.url(&format!("/t/{TENANT}/audit?lang=ja")))
        .await;
    b.wait_for_heading(ja().audit_title).await;
    b.assert_accessible("the audit log (ja)").await;
    // The operator's page is not the staff member's.
    b.open(&host.server.url("/operator")).await;
    b.wait_for_heading(ja().not_found_title).await;
    b.assert_accessible("not found (ja)").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_five_wrong_passwords_lock_an_account_for_fifteen_minutes() {
    let host = Host::start().await;
    let op = first_operator(&host).await;
    let invitation = invite(&host, &op, TENANT, "staff@otaru.example.jp").await;
    drop(accept(&host, &invitation).await);
    let browser = Agent::new(&host);
    let sign_in = |password: &'static str| {
        let browser = &browser;
        async move {
            let csrf = browser.csrf("/sign-in").await;
            browser
                .post(
                    "/sign-in",
                    &[
                        ("csrf", &csrf),
                        ("email", "Staff@Otaru.example.jp"),
                        ("password", password),
                    ],
                )
                .await
        }
    };
    for _ in 0..5 {
        let wrong = sign_in("wrong password, again").await;
        assert_eq!(wrong.status, StatusCode::OK);
        assert!(wrong.body.contains(ja().sign_in_failed), "{}", wrong.body);
    }
    // Locked: the right password fails with the same words, and an
    // address with no account reads the same.
    let locked = sign_in(PASSWORD).await;
    assert_eq!(locked.status, StatusCode::OK);
    assert!(locked.body.contains(ja().sign_in_failed));
    assert!(locked.location.is_none());
    let csrf = browser.csrf("/sign-in").await;
    let nobody = browser
        .post(
            "/sign-in",
            &[
                ("csrf", &csrf),
                ("email", "nobody@example.jp"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        between(&nobody.body, "<main", "</main>").replace("nobody@example.jp", ""),
        between(&locked.body, "<main", "</main>").replace("Staff@Otaru.example.jp", ""),
        "a locked account and a missing one read alike"
    );
    host.clock.advance(Duration::minutes(14));
    assert!(sign_in(PASSWORD).await.location.is_none(), "still locked");
    host.clock.advance(Duration::minutes(1));
    let signed = sign_in(PASSWORD).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    assert_eq!(signed.location.as_deref(), Some(&*format!("/t/{TENANT}")));
    // The log has the failures and the lock; never a password.
    let audit = op.get("/audit?lang=en").await;
    assert!(audit.body.contains(en().action_locked), "{}", audit.body);
    assert!(audit.body.contains(en().action_sign_in_failed));
    assert!(!audit.body.contains(PASSWORD) && !audit.body.contains("wrong password"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_a_post_without_its_csrf_token_is_refused_and_changes_nothing() {
    let host = Host::start().await;
    let op = first_operator(&host).await;
    // An invitation without the token (or with another's) is refused.
    for csrf in [None, Some("forged"), Some("")] {
        let mut form = vec![("email", "forged@example.jp"), ("permission", "team")];
        if let Some(c) = csrf {
            form.push(("csrf", c));
        }
        let refused = op.post(&format!("/t/{TENANT}/team"), &form).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{csrf:?}");
        assert!(refused.body.contains(ja().forbidden_title));
    }
    let team = op.get(&format!("/t/{TENANT}/team")).await;
    assert!(
        !team.body.contains("forged@example.jp"),
        "no invitation made"
    );
    // Signing out without it leaves the session.
    assert_eq!(
        op.post("/sign-out", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(op.get("/operator").await.status, StatusCode::OK);
    // The signed-out forms need their pair too.
    let stranger = Agent::new(&host);
    let refused = stranger
        .post(
            "/sign-in",
            &[("email", "operator@example.jp"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.location.is_none(), "not signed in");
    // Another browser's field does not go with this one's cookie.
    let csrf = op.csrf(&format!("/t/{TENANT}/team")).await;
    let other = Agent::new(&host);
    other.csrf("/sign-in").await;
    let refused = other
        .post(
            &format!("/t/{TENANT}/team"),
            &[("csrf", &csrf), ("email", "forged@example.jp")],
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::SEE_OTHER,
        "signed out: to sign in"
    );
    assert_eq!(refused.location.as_deref(), Some("/sign-in"));
    let team = op.get(&format!("/t/{TENANT}/team")).await;
    assert!(
        !team.body.contains("forged@example.jp"),
        "still no invitation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_staff_of_one_tenant_get_404_on_every_page_of_another() {
    let host = Host::start().await;
    host.call(
        Method::POST,
        "/v1/tenants",
        Some(json!({"id": "minato", "name": "港区"})),
    )
    .await;
    let op = first_operator(&host).await;
    let invitation = invite(&host, &op, TENANT, "staff@otaru.example.jp").await;
    let staff = accept(&host, &invitation).await;
    assert_eq!(
        staff.get(&format!("/t/{TENANT}")).await.status,
        StatusCode::OK
    );
    let missing = staff.get("/t/nowhere").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    for path in [
        "/t/minato",
        "/t/minato?month=2027-01",
        "/t/minato/team",
        "/t/minato/audit",
        "/t/minato/poster",
        "/t/minato/poster.svg?line=%40minato",
        "/operator",
        "/audit",
    ] {
        let answer = staff.get(path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            between(&answer.body, "<main", "</main>"),
            between(&missing.body, "<main", "</main>"),
            "{path} reads as a missing tenant"
        );
        assert!(
            !answer.body.contains("港区"),
            "{path} names the other tenant"
        );
    }
    // A POST with the right token to the other tenant changes nothing.
    let csrf = staff.csrf(&format!("/t/{TENANT}/team")).await;
    let refused = staff
        .post(
            "/t/minato/team",
            &[
                ("csrf", &csrf),
                ("email", "sneaky@example.jp"),
                ("permission", "team"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let minato = op.get("/t/minato/team").await;
    assert!(!minato.body.contains("sneaky@example.jp"));
    // The operator reaches both.
    assert_eq!(op.get("/t/minato").await.status, StatusCode::OK);
}

/// A household on LINE made through the API: its id.
async fn line_household(host: &Host, address: &str) -> String {
    let made = host
        .call(
            Method::POST,
            &format!("/v1/tenants/{TENANT}/subscribers"),
            Some(json!({
                "locale": "ja",
                "external_id": "otaru-0042",
                "contacts": [{"channel": "line", "address": address}],
                "children": [{"birth_date": born_five_days_ago().to_string()}],
            })),
        )
        .await;
    made["id"].as_str().expect("an id").to_string()
}

async fn api_status(host: &Host, id: &str) -> String {
    host.call(
        Method::GET,
        &format!("/v1/tenants/{TENANT}/subscribers/{id}"),
        None,
    )
    .await["status"]
        .as_str()
        .expect("a status")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_console_support_finds_a_household_shows_its_history_and_stops_it() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let host = Host::start().await;
    let fake = FakeLine::start().await;
    host.put_line_channel(&fake).await;
    let address = format!("U{:032x}", 0x0d00_0042);
    let id = line_household(&host, &address).await;
    host.plan_and_send().await;
    let op = first_operator(&host).await;
    let invitation = invite_with(
        &host,
        &op,
        TENANT,
        "desk@otaru.example.jp",
        &["dashboard", "channels"],
    )
    .await;

    // The staff member accepts and opens the support desk from the menu.
    b.open(&host.server.url(&format!("{invitation}?lang=ja")))
        .await;
    b.wait_for_heading(ja().accept_title).await;
    b.fill("#name", "窓口 次郎").await;
    b.fill("#password", PASSWORD).await;
    b.fill("#confirm", PASSWORD).await;
    b.click("main form button[type=submit]").await;
    b.wait_for_heading(ja().dashboard_title).await;
    b.click(&format!(".main-nav a[href='/t/{TENANT}/support']"))
        .await;
    b.wait_for_heading(ja().support_title).await;
    b.assert_accessible("the support desk (ja)").await;
    // An address nobody has: said plainly.
    b.fill("#q", "Unobody").await;
    b.click(".search-form button[type=submit]").await;
    b.wait_for("#not-found").await;
    assert!(
        b.text("#not-found").await.contains("Unobody"),
        "the search is named"
    );
    b.assert_accessible("the support desk, nothing found (ja)")
        .await;
    // The household's LINE address finds it.
    b.fill("#q", &address).await;
    b.click(".search-form button[type=submit]").await;
    b.wait_for("#results").await;
    let results = b.text("#results").await;
    assert!(results.contains(&id), "{results}");
    b.assert_accessible("the support desk, a household found (ja)")
        .await;
    b.click(&format!("#results a[href='/t/{TENANT}/support/{id}']"))
        .await;
    b.wait_for_heading(ja().household_title).await;
    let contacts = b.text("#contacts").await;
    assert!(
        contacts.contains(&address) && contacts.contains("line"),
        "{contacts}"
    );
    assert!(contacts.contains(ja().st_valid), "{contacts}");
    let children = b.text("#children").await;
    assert!(
        children.contains(&born_five_days_ago().to_string()),
        "{children}"
    );
    // The day's message, sent: the API's history of the household.
    let history = b.text("#history").await;
    assert!(
        history.contains("child-day-005") && history.contains(ja().st_sent),
        "{history}"
    );
    let api = host
        .call(
            Method::GET,
            &format!("/v1/tenants/{TENANT}/subscribers/{id}/deliveries"),
            None,
        )
        .await;
    let rows = api["items"].as_array().expect("items").len();
    assert!(rows >= 1, "{api}");
    assert_eq!(
        b.client
            .find_all(Locator::Css("#history tbody tr"))
            .await
            .unwrap()
            .len(),
        rows,
        "the API's history"
    );
    b.wait_for("#schedule").await;
    b.assert_accessible("a household (ja)").await;
    b.desktop(true).await;
    b.screenshot_as_doc("console-support").await;
    b.desktop(false).await;
    b.open(
        &host
            .server
            .url(&format!("/t/{TENANT}/support/{id}?lang=en")),
    )
    .await;
    b.wait_for_heading(en().household_title).await;
    b.assert_accessible("a household (en)").await;
    // Stopping without a reason is an error on the page, nothing changed.
    b.click("main form button.button-warning").await;
    b.wait_for(".error-summary").await;
    b.assert_accessible("a household, stop without a reason (en)")
        .await;
    assert_eq!(api_status(&host, &id).await, "active");
    // Stopped with a reason: the API shows it stopped.
    b.client
        .find(Locator::Css("#stop-reason"))
        .await
        .unwrap()
        .select_by_value("moved_away")
        .await
        .unwrap();
    b.click("main form button.button-warning").await;
    b.wait_for("#stopped-title").await;
    assert_eq!(
        b.text("#household-status").await.trim(),
        en().st_stopped,
        "the page says so"
    );
    assert_eq!(api_status(&host, &id).await, "stopped");
    let children = b.text("#children").await;
    assert!(children.contains(en().reason_moved_away), "{children}");
    b.assert_accessible("a household stopped (en)").await;
    // The audit log says who stopped which household and why.
    let audit = op.get(&format!("/t/{TENANT}/audit?lang=en")).await;
    assert!(
        audit.body.contains(en().action_household_stopped),
        "{}",
        audit.body
    );
    assert!(audit.body.contains(&id) && audit.body.contains("moved_away"));
    assert!(audit.body.contains("窓口 次郎"), "who");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_support_is_scoped_to_the_tenant_and_stops_need_csrf_and_permission() {
    let host = Host::start().await;
    let fake = FakeLine::start().await;
    host.put_line_channel(&fake).await;
    host.call(
        Method::POST,
        "/v1/tenants",
        Some(json!({"id": "minato", "name": "港区"})),
    )
    .await;
    let address = format!("U{:032x}", 0x0d00_0043);
    let id = line_household(&host, &address).await;
    let op = first_operator(&host).await;
    let desk = accept(
        &host,
        &invite_with(
            &host,
            &op,
            TENANT,
            "desk@otaru.example.jp",
            &["dashboard", "channels"],
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
            "desk@minato.example.jp",
            &["dashboard", "channels"],
        )
        .await,
    )
    .await;
    let household = format!("/t/{TENANT}/support/{id}");
    // Found by its address and by its external id.
    for q in [address.as_str(), "otaru-0042", id.as_str()] {
        let found = desk.get(&format!("/t/{TENANT}/support?q={q}")).await;
        assert_eq!(found.status, StatusCode::OK);
        assert!(found.body.contains(&household), "{q}: {}", found.body);
    }
    assert_eq!(desk.get(&household).await.status, StatusCode::OK);
    // Another tenant's staff: the 404 of a missing page, whichever way.
    let missing = other.get("/t/nowhere").await;
    for path in [
        household.clone(),
        format!("/t/{TENANT}/support?q={address}"),
        format!("/t/minato/support/{id}"),
    ] {
        let answer = other.get(&path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            between(&answer.body, "<main", "</main>"),
            between(&missing.body, "<main", "</main>"),
            "{path}"
        );
        // (The language switch repeats the request's own query.)
        assert!(
            path.contains(&address) || !answer.body.contains(&address),
            "{path} shows the address"
        );
    }
    let found = other.get(&format!("/t/minato/support?q={address}")).await;
    assert_eq!(found.status, StatusCode::OK);
    assert!(
        !found.body.contains(&id),
        "not in the other tenant's search"
    );
    let csrf = other.csrf("/t/minato/support").await;
    let refused = other
        .post(
            &format!("{household}/stop"),
            &[("csrf", &csrf), ("reason", "other")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let refused = other
        .post(
            &format!("/t/minato/support/{id}/stop"),
            &[("csrf", &csrf), ("reason", "other")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    assert_eq!(api_status(&host, &id).await, "active");
    // Without its CSRF token (or with a forged one): refused, nothing changed.
    for csrf in [None, Some("forged"), Some("")] {
        let mut form = vec![("reason", "unsubscribed")];
        if let Some(c) = csrf {
            form.push(("csrf", c));
        }
        let refused = desk.post(&format!("{household}/stop"), &form).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{csrf:?}");
        assert!(refused.body.contains(ja().forbidden_title));
    }
    assert_eq!(api_status(&host, &id).await, "active");
    // Seeing needs the dashboard; stopping, channels and settings.
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
    let page = viewer.get(&household).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("stop-reason"), "no stop form");
    let csrf = between(&page.body, "name=\"csrf\" value=\"", "\"");
    let refused = viewer
        .post(
            &format!("{household}/stop"),
            &[("csrf", &csrf), ("reason", "unsubscribed")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains(ja().no_permission_title));
    let blind = accept(
        &host,
        &invite_with(&host, &op, TENANT, "team@otaru.example.jp", &["team"]).await,
    )
    .await;
    let refused = blind.get(&household).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(!refused.body.contains(&address));
    assert_eq!(api_status(&host, &id).await, "active");
    // An unknown reason is refused; a known one stops it, with its audit line.
    let csrf = desk.csrf(&household).await;
    let wrong = desk
        .post(
            &format!("{household}/stop"),
            &[("csrf", &csrf), ("reason", "bored")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert!(wrong.body.contains(ja().support_reason_missing));
    assert_eq!(api_status(&host, &id).await, "active");
    let stopped = desk
        .post(
            &format!("{household}/stop"),
            &[("csrf", &csrf), ("reason", "duplicate")],
        )
        .await;
    assert_eq!(stopped.status, StatusCode::SEE_OTHER, "{}", stopped.body);
    assert_eq!(api_status(&host, &id).await, "stopped");
    let audit = op.get(&format!("/t/{TENANT}/audit?lang=en")).await;
    assert!(audit.body.contains(en().action_household_stopped));
    assert!(audit.body.contains("duplicate"));

    // Erasing asks for the ticked confirmation, needs the permission and
    // the CSRF token, then removes the contacts and dates as the API's
    // DELETE does.
    let page = desk.get(&household).await;
    assert!(
        page.body.contains("id=\"erase-form\""),
        "a stopped household can be erased"
    );
    let viewer_csrf = viewer.csrf(&household).await;
    let refused = viewer
        .post(
            &format!("{household}/erase"),
            &[("csrf", &viewer_csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = desk
        .post(&format!("{household}/erase"), &[("confirm", "yes")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "no CSRF token");
    let unconfirmed = desk
        .post(&format!("{household}/erase"), &[("csrf", &csrf)])
        .await;
    assert_eq!(unconfirmed.status, StatusCode::OK);
    assert!(unconfirmed.body.contains(ja().erase_confirm_missing));
    assert_eq!(
        api_status(&host, &id).await,
        "stopped",
        "nothing erased unconfirmed"
    );
    let erased = desk
        .post(
            &format!("{household}/erase"),
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(erased.status, StatusCode::SEE_OTHER, "{}", erased.body);
    assert_eq!(api_status(&host, &id).await, "erased");
    let page = desk.get(&format!("{household}?erased=1")).await;
    assert!(page.body.contains("id=\"erased\""));
    assert!(!page.body.contains(&address), "the address is gone");
    assert!(
        !page.body.contains("id=\"erase-form\""),
        "nothing left to erase"
    );
    let found = desk.get(&format!("/t/{TENANT}/support?q={address}")).await;
    assert!(
        found.body.contains("id=\"not-found\""),
        "no longer found by its address"
    );
    let audit = op.get(&format!("/t/{TENANT}/audit?lang=en")).await;
    assert!(audit.body.contains(en().action_household_erased));
}

/// The tenant's yearly births, as the API says.
async fn births(host: &Host) -> Value {
    host.call(Method::GET, &format!("/v1/tenants/{TENANT}"), None)
        .await["yearly_births"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_settings_need_csrf_and_the_settings_permission() {
    let host = Host::start().await;
    host.call(
        Method::POST,
        "/v1/tenants",
        Some(json!({"id": "minato", "name": "港区"})),
    )
    .await;
    let op = first_operator(&host).await;
    let staff =
        |email: &'static str, tenant: &'static str, permissions: &'static [&'static str]| {
            let (host, op) = (&host, &op);
            async move {
                accept(
                    host,
                    &invite_with(host, op, tenant, email, permissions).await,
                )
                .await
            }
        };
    let settings = staff(
        "settings@otaru.example.jp",
        TENANT,
        &["dashboard", "channels"],
    )
    .await;
    let viewer = staff("viewer@otaru.example.jp", TENANT, &["dashboard"]).await;
    let other = staff(
        "settings@minato.example.jp",
        "minato",
        &["dashboard", "channels"],
    )
    .await;
    let path = format!("/t/{TENANT}/settings");
    // Seeing the dashboard does not give the form, nor the right to post it.
    let page = viewer.get(&format!("/t/{TENANT}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("yearly_births"), "no settings form");
    assert!(page.body.contains(ja().db_births_none));
    let csrf = between(&page.body, "name=\"csrf\" value=\"", "\"");
    let refused = viewer
        .post(&path, &[("csrf", &csrf), ("yearly_births", "700")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains(ja().no_permission_title));
    // Another tenant's staff: the 404 of a missing tenant.
    let csrf = other.csrf("/t/minato").await;
    let refused = other
        .post(&path, &[("csrf", &csrf), ("yearly_births", "700")])
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    // Without its CSRF token (or with a forged one): refused.
    for csrf in [None, Some("forged"), Some("")] {
        let mut form = vec![("yearly_births", "700")];
        if let Some(c) = csrf {
            form.push(("csrf", c));
        }
        let refused = settings.post(&path, &form).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{csrf:?}");
        assert!(refused.body.contains(ja().forbidden_title));
    }
    assert_eq!(births(&host).await, Value::Null, "nothing changed");
    // Not a number of births: refused in plain words, what was typed kept.
    let csrf = settings.csrf(&format!("/t/{TENANT}")).await;
    for bad in ["0", "1000001", "たくさん", "12.5"] {
        let wrong = settings
            .post(
                &path,
                &[
                    ("csrf", &csrf),
                    ("yearly_births", bad),
                    ("month", "2026-12"),
                ],
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(wrong.body.contains(ja().db_births_invalid), "{bad}");
        assert!(wrong.body.contains(&format!("value=\"{bad}\"")), "{bad}");
        assert!(
            wrong.body.contains("value=\"2026-12\" selected"),
            "the month kept"
        );
    }
    assert_eq!(births(&host).await, Value::Null);
    // Saved, back on the month shown; then emptied.
    let saved = settings
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("yearly_births", "1,200"),
                ("month", "2026-12"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(
        saved.location.as_deref(),
        Some(format!("/t/{TENANT}?saved=settings&month=2026-12").as_str())
    );
    assert_eq!(births(&host).await, 1200);
    let page = settings.get(saved.location.as_deref().unwrap()).await;
    assert!(page.body.contains(ja().db_settings_saved));
    assert!(page.body.contains("value=\"1200\""));
    let emptied = settings
        .post(&path, &[("csrf", &csrf), ("yearly_births", " ")])
        .await;
    assert_eq!(emptied.status, StatusCode::SEE_OTHER);
    assert_eq!(births(&host).await, Value::Null);
    let audit = op.get(&format!("/t/{TENANT}/audit?lang=en")).await;
    assert!(audit.body.contains(en().action_tenant_settings_saved));
    assert!(audit.body.contains("1200"), "{}", audit.body);
}
