//! The parents' pages through the running host, used as a parent would:
//! a real Chromium at a phone's size fills the registration form in each
//! language (with a register link, and without one through the
//! confirmation mail the fake mail provider receives), sees its errors,
//! follows an expired or altered link, and stops the messages; axe-core
//! checks every page. Plain HTTP checks what a browser cannot show: a POST
//! without its CSRF pair, the rate limit, the security headers and the
//! RFC 8058 one-click stop.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tayori_core::{LinkClaims, LinkPurpose, Locale};
use tayori_parents::text::texts;

use crate::support::browser::Browser;
use crate::support::host::{TENANT, born_five_days_ago, today};
use crate::support::parents::{
    FROM, LOCALES, alter, form_body, form_pair, parents_host, shot, signer, subscriber_at,
    subscribers, token,
};
use crate::support::platforms::line::FakeLine;
use crate::support::platforms::sendgrid::FakeSendGrid;

/// Fills the form: the stage, the date's three fields, the language of the
/// messages, and the consent when `consent`.
async fn fill_form(b: &Browser, stage: &str, date: Ymd<'_>, locale: Locale, consent: bool) {
    b.click(&format!("#stage-{stage}")).await;
    b.fill("#date-year", date.0).await;
    b.fill("#date-month", date.1).await;
    b.fill("#date-day", date.2).await;
    b.click(&format!("#locale-{locale}")).await;
    if consent != b.checked("#consent").await {
        b.click("#consent").await;
    }
}

/// A date as typed: year, month, day.
type Ymd<'a> = (&'a str, &'a str, &'a str);

async fn submit(b: &Browser) {
    b.click("form button[type=submit]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_a_parent_registers_with_a_register_link_in_each_language() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let (mail, line_fake) = (FakeSendGrid::start().await, FakeLine::start().await);
    let host = parents_host(&mail, &line_fake).await;
    for (i, locale) in LOCALES.into_iter().enumerate() {
        let t = texts(locale);
        // A LINE user for Japanese, a proven email address for the others.
        let (channel, address) = match locale {
            Locale::Ja => ("line", "U4af4980629aaaabbbbccccddddeeee01".to_string()),
            _ => ("email", format!("parent{i}@example.jp")),
        };
        let register = token(&host, LinkPurpose::Register, channel, &address, 1);
        b.open(
            &host
                .server
                .url(&format!("/r/{TENANT}?lang={locale}&t={register}")),
        )
        .await;
        assert_eq!(
            b.lang().await,
            if locale == Locale::En { "en" } else { "ja" }
        );
        assert_eq!(b.text("h1").await, t.form_title);
        let width = b
            .client
            .execute("return window.innerWidth;", vec![])
            .await
            .unwrap();
        assert_eq!(
            width,
            json!(crate::support::browser::PHONE.0),
            "a phone's width"
        );
        assert!(
            b.checked(&format!("#locale-{locale}")).await,
            "the page's language is chosen"
        );
        let contact = b.text(".contact").await;
        let shown = if channel == "line" {
            "LINE"
        } else {
            address.as_str()
        };
        assert!(contact.contains(shown), "{contact}");
        assert!(
            b.client
                .find(fantoccini::Locator::Css("#email"))
                .await
                .is_err(),
            "a register link asks no email address"
        );
        b.assert_accessible(&format!("the form ({locale})")).await;
        b.screenshot_for_docs(&format!("form-{locale}")).await;

        let expecting = i % 2 == 0;
        let date = if expecting {
            ("2027", "5", "1")
        } else {
            ("2026", "12", "24")
        };
        fill_form(
            &b,
            if expecting { "expecting" } else { "born" },
            date,
            locale,
            true,
        )
        .await;
        submit(&b).await;
        b.wait_for_heading(t.registered_title).await;
        assert!(b.url().await.contains("/registered"), "{}", b.url().await);
        b.assert_accessible(&format!("registered ({locale})")).await;
        shot(&b, "registered", locale).await;

        let subscriber = subscriber_at(&host, &address)
            .await
            .unwrap_or_else(|| panic!("{address} is registered"));
        assert_eq!(subscriber["locale"], locale.as_str());
        assert_eq!(subscriber["contacts"][0]["channel"], channel);
        let child = &subscriber["children"][0];
        if expecting {
            assert_eq!(child["due_date"], "2027-05-01");
            assert_eq!(child["status"], "expecting");
        } else {
            assert_eq!(child["birth_date"], "2026-12-24");
            assert_eq!(child["status"], "born");
        }

        // The same link again: already registered, with the way to look.
        b.open(
            &host
                .server
                .url(&format!("/r/{TENANT}?lang={locale}&t={register}")),
        )
        .await;
        fill_form(&b, "expecting", ("2027", "6", "1"), locale, true).await;
        submit(&b).await;
        b.wait_for_heading(t.already_title).await;
        b.assert_accessible(&format!("already registered ({locale})"))
            .await;
        b.click("ul.links a").await;
        b.wait_for_heading(t.manage_title).await;
        b.assert_accessible(&format!("the registration ({locale})"))
            .await;
    }
    assert_eq!(
        subscribers(&host).await.len(),
        3,
        "one household per parent"
    );
    assert!(mail.mails().is_empty(), "a register link needs no mail");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_wrong_dates_show_the_error_summary_and_keep_the_values() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let (mail, line_fake) = (FakeSendGrid::start().await, FakeLine::start().await);
    let host = parents_host(&mail, &line_fake).await;
    let rules = tayori_core::registration::DateRules::new(today());
    let cases: [(Locale, &str, Ymd, String); 3] = [
        (
            Locale::Ja,
            "expecting",
            ("2028", "1", "1"),
            rules
                .due("2028-01-01".parse().unwrap())
                .unwrap_err()
                .message(Locale::Ja),
        ),
        (
            Locale::JaEasy,
            "expecting",
            ("2027", "2", "30"),
            texts(Locale::JaEasy).err_date_impossible.to_string(),
        ),
        (
            Locale::En,
            "born",
            ("2027", "1", "5"),
            rules
                .birth("2027-01-05".parse().unwrap())
                .unwrap_err()
                .message(Locale::En),
        ),
    ];
    for (i, (locale, stage, date, problem)) in cases.into_iter().enumerate() {
        let t = texts(locale);
        let address = format!("dates{i}@example.jp");
        let register = token(&host, LinkPurpose::Register, "email", &address, 1);
        b.open(
            &host
                .server
                .url(&format!("/r/{TENANT}?lang={locale}&t={register}")),
        )
        .await;
        // English leaves the consent unticked: two problems at once.
        fill_form(&b, stage, date, locale, locale != Locale::En).await;
        submit(&b).await;
        b.wait_for(".error-summary").await;
        assert_eq!(b.text(".error-summary h2").await, t.error_summary);
        let summary = b.text(".error-summary ul").await;
        assert!(summary.contains(&problem), "{summary} lacks {problem}");
        let legend = b.text(".group-error legend").await;
        assert!(
            legend.contains(&problem),
            "the error is said in the legend: {legend}"
        );
        if locale == Locale::En {
            assert!(summary.contains(t.err_consent), "{summary}");
        }
        // The values are kept, and the date's fields are marked.
        assert_eq!(b.value("#date-year").await, date.0);
        assert_eq!(b.value("#date-month").await, date.1);
        assert_eq!(b.value("#date-day").await, date.2);
        assert!(b.checked(&format!("#stage-{stage}")).await);
        assert_eq!(
            b.attr("#date-year", "aria-invalid").await.as_deref(),
            Some("true")
        );
        assert!(b.client.source().await.unwrap().contains("<title>"));
        b.assert_accessible(&format!("the form with errors ({locale})"))
            .await;
        shot(&b, "errors", locale).await;
        // The summary's link leads to the date's first field.
        b.click(".error-summary a[href='#date-year']").await;
        let focused = b
            .client
            .execute("return document.activeElement.id;", vec![])
            .await
            .unwrap();
        assert_eq!(focused, json!("date-year"));
        assert!(
            subscriber_at(&host, &address).await.is_none(),
            "nothing stored"
        );

        // Corrected, the same form registers.
        fill_form(&b, "expecting", ("2027", "5", "1"), locale, true).await;
        submit(&b).await;
        b.wait_for_heading(t.registered_title).await;
        assert!(subscriber_at(&host, &address).await.is_some());
    }
    b.close().await;
}

/// The confirmation link in the last mail the fake received for `to`.
fn confirmation_link(mail: &FakeSendGrid, to: &str) -> String {
    mail.mails()
        .into_iter()
        .rev()
        .find(|m| m.recipients().iter().any(|r| r == to))
        .unwrap_or_else(|| panic!("no mail to {to}"))
        .first_link()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_without_a_link_a_confirmation_mail_registers_on_confirm() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let (mail, line_fake) = (FakeSendGrid::start().await, FakeLine::start().await);
    let host = parents_host(&mail, &line_fake).await;
    for (i, locale) in LOCALES.into_iter().enumerate() {
        let t = texts(locale);
        let address = format!("mama{i}@example.jp");
        b.open(&host.server.url(&format!("/r/{TENANT}?lang={locale}")))
            .await;
        let filter = b.text("#email-filter").await;
        assert!(filter.contains(FROM), "what to allow: {filter}");
        b.assert_accessible(&format!("the form with email ({locale})"))
            .await;
        shot(&b, "form-email", locale).await;
        fill_form(&b, "expecting", ("2027", "7", "15"), locale, true).await;
        b.fill("#email", &address).await;
        submit(&b).await;
        b.wait_for_heading(t.check_title).await;
        assert!(b.text("main").await.contains(&address));
        b.assert_accessible(&format!("check your mail ({locale})"))
            .await;
        shot(&b, "check-mail", locale).await;
        assert!(
            subscriber_at(&host, &address).await.is_none(),
            "nothing is stored before the confirmation"
        );

        let link = confirmation_link(&mail, &address);
        assert!(link.starts_with(&host.server.url("/c/")), "{link}");
        // A mail scanner's GET changes nothing.
        let scanned = reqwest::get(&link).await.unwrap();
        assert_eq!(scanned.status(), StatusCode::OK);
        assert!(subscriber_at(&host, &address).await.is_none());

        b.open(&link).await;
        assert_eq!(b.text("h1").await, t.confirm_title);
        b.assert_accessible(&format!("confirm ({locale})")).await;
        shot(&b, "confirm", locale).await;
        b.click("form button[type=submit]").await;
        b.wait_for_heading(t.registered_title).await;
        let subscriber = subscriber_at(&host, &address)
            .await
            .expect("registered on confirm");
        assert_eq!(subscriber["locale"], locale.as_str());
        assert_eq!(subscriber["contacts"][0]["channel"], "email");
        assert_eq!(subscriber["children"][0]["due_date"], "2027-07-15");
    }
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_an_expired_or_altered_link_shows_a_clear_page_and_changes_nothing() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let (mail, line_fake) = (FakeSendGrid::start().await, FakeLine::start().await);
    let host = parents_host(&mail, &line_fake).await;
    let expired = token(&host, LinkPurpose::Register, "email", "late@example.jp", -1);
    let good = token(&host, LinkPurpose::Register, "email", "cut@example.jp", 1);
    let altered = alter(&good);
    let cut = &good[..good.len() / 2];
    let http = reqwest::Client::new();
    for (locale, path, status) in [
        (
            Locale::Ja,
            format!("/r/{TENANT}?lang=ja&t={expired}"),
            StatusCode::GONE,
        ),
        (
            Locale::JaEasy,
            format!("/r/{TENANT}?lang=ja-easy&t={altered}"),
            StatusCode::BAD_REQUEST,
        ),
        (
            Locale::En,
            format!("/c/{cut}?lang=en"),
            StatusCode::BAD_REQUEST,
        ),
        (
            Locale::En,
            format!("/u/{expired}?lang=en"),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let t = texts(locale);
        let response = http.get(host.server.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        b.open(&host.server.url(&path)).await;
        assert_eq!(b.text("h1").await, t.link_title, "{path}");
        if path.starts_with("/r/") {
            let again = b.attr("ul.links a", "href").await.unwrap_or_default();
            assert!(
                again.ends_with(&format!("/r/{TENANT}?lang={locale}")),
                "{again}"
            );
        }
        b.assert_accessible(&format!("a link problem ({path})"))
            .await;
    }
    b.open(&host.server.url(&format!("/r/{TENANT}?lang=ja&t={expired}")))
        .await;
    b.screenshot_for_docs("link-expired-ja").await;

    // A confirmation link opened after its 48 hours: the page says so, and
    // its button does nothing.
    let claims = LinkClaims {
        purpose: LinkPurpose::Confirm,
        tenant: TENANT.into(),
        channel: "email".into(),
        address: "slow@example.jp".into(),
        data: json!({"l": "ja", "s": "expecting", "d": "2027-05-01", "p": "ja"}).to_string(),
        expires_at: host.now() + Duration::hours(tayori_parents::CONFIRM_HOURS),
    };
    let confirm = signer(&host).sign(&claims);
    b.open(&host.server.url(&format!("/c/{confirm}"))).await;
    assert_eq!(b.text("h1").await, texts(Locale::Ja).confirm_title);
    host.clock
        .advance(Duration::hours(tayori_parents::CONFIRM_HOURS + 1));
    b.click("form button[type=submit]").await;
    b.wait_for_heading(texts(Locale::Ja).link_title).await;
    assert!(
        subscribers(&host).await.is_empty(),
        "nothing was registered"
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_a_parent_stops_the_messages_from_the_stop_page() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let (mail, line_fake) = (FakeSendGrid::start().await, FakeLine::start().await);
    let host = parents_host(&mail, &line_fake).await;
    for (i, locale) in LOCALES.into_iter().enumerate() {
        let t = texts(locale);
        let address = format!("stop{i}@example.jp");
        let created = host
            .subscriber(locale.as_str(), "email", &address, born_five_days_ago())
            .await;
        let stop = token(&host, LinkPurpose::Unsubscribe, "email", &address, 24 * 30);
        // The page speaks the subscriber's language without `?lang=`.
        b.open(&host.server.url(&format!("/u/{stop}"))).await;
        assert_eq!(b.text("h1").await, t.stop_title);
        assert!(b.text("main").await.contains(&address));
        b.assert_accessible(&format!("stop ({locale})")).await;
        shot(&b, "stop", locale).await;
        // Rather than stopping, the parent may change what is registered.
        b.click("ul.links a").await;
        b.wait_for_heading(t.manage_title).await;
        assert!(b.text("main").await.contains(&address));
        b.open(&host.server.url(&format!("/u/{stop}"))).await;
        b.click("form button[type=submit]").await;
        b.wait_for_heading(t.stopped_title).await;
        b.assert_accessible(&format!("stopped ({locale})")).await;
        shot(&b, "stopped", locale).await;
        let id = created["id"].as_str().unwrap();
        let after = host.get_subscriber(id).await;
        assert_eq!(after["contacts"][0]["status"], "invalid", "{after}");
    }
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_the_not_found_page_is_accessible() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let (mail, line_fake) = (FakeSendGrid::start().await, FakeLine::start().await);
    let host = parents_host(&mail, &line_fake).await;
    for locale in LOCALES {
        b.open(&host.server.url(&format!("/r/nowhere?lang={locale}")))
            .await;
        assert_eq!(b.text("h1").await, texts(locale).not_found_title);
        b.assert_accessible(&format!("not found ({locale})")).await;
    }
    b.close().await;
}

// ------------------------------------------------------ plain HTTP checks

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_http_a_post_without_its_csrf_pair_is_refused_and_changes_nothing() {
    let (mail, line_fake) = (FakeSendGrid::start().await, FakeLine::start().await);
    let host = parents_host(&mail, &line_fake).await;
    let register = token(&host, LinkPurpose::Register, "email", "csrf@example.jp", 1);
    let form_url = host
        .server
        .url(&format!("/r/{TENANT}?lang=en&t={register}"));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (cookie, field) = form_pair(&http, &form_url).await;
    let answers = [
        ("t", register.as_str()),
        ("stage", "expecting"),
        ("year", "2027"),
        ("month", "5"),
        ("day", "1"),
        ("locale", "en"),
        ("consent", "yes"),
    ];
    let post_url = host.server.url(&format!("/r/{TENANT}?lang=en"));
    let post = |cookie: Option<&str>, field: Option<&str>| {
        let mut pairs = answers.to_vec();
        if let Some(f) = field {
            pairs.push(("csrf", f));
        }
        let mut request = http
            .post(&post_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&pairs));
        if let Some(c) = cookie {
            request = request.header("cookie", c);
        }
        request.send()
    };
    // Another site's form: no cookie, no field; or the field of another
    // browser; or a cookie without its field.
    let (_, other_field) = form_pair(&reqwest::Client::new(), &form_url).await;
    for (cookie, field) in [
        (None, None),
        (None, Some(field.as_str())),
        (Some(cookie.as_str()), None),
        (Some(cookie.as_str()), Some(other_field.as_str())),
    ] {
        let response = post(cookie, field).await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::FORBIDDEN,
            "{cookie:?} {field:?}"
        );
        let page = response.text().await.unwrap();
        assert!(page.contains(texts(Locale::En).csrf_title), "{page}");
    }
    assert!(subscribers(&host).await.is_empty(), "nothing changed");
    // With the pair, the same POST registers.
    let response = post(Some(&cookie), Some(&field)).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(subscriber_at(&host, "csrf@example.jp").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_http_pages_carry_security_headers_and_posts_are_rate_limited() {
    let (mail, line_fake) = (FakeSendGrid::start().await, FakeLine::start().await);
    let host = parents_host(&mail, &line_fake).await;
    let http = reqwest::Client::new();
    let page = http
        .get(host.server.url(&format!("/r/{TENANT}")))
        .send()
        .await
        .unwrap();
    let headers = page.headers();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(csp.contains("script-src 'none'"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    let cookie = headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script"), "no script");
    let css = http
        .get(host.server.url("/parents.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(
        css.text().await.unwrap().len() < 8 * 1024,
        "a tiny style sheet"
    );

    // A burst of 10 POSTs (refused for their CSRF, but counted), then 429.
    let post = || {
        http.post(host.server.url(&format!("/r/{TENANT}?lang=en")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("stage=born")
            .send()
    };
    for _ in 0..tayori_parents::limit::BURST {
        assert_eq!(post().await.unwrap().status(), StatusCode::FORBIDDEN);
    }
    let limited = post().await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("seconds");
    assert!((1..=6).contains(&retry), "{retry}");
    let page = limited.text().await.unwrap();
    assert!(page.contains(texts(Locale::En).limited_title), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_http_a_one_click_stop_invalidates_the_contact_and_cancels_its_deliveries() {
    let (mail, line_fake) = (FakeSendGrid::start().await, FakeLine::start().await);
    let host = parents_host(&mail, &line_fake).await;
    let address = "oneclick@example.jp";
    let created = host
        .subscriber("ja", "email", address, born_five_days_ago())
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    // Today's message is planned (not sent yet).
    host.server
        .launched
        .state
        .scheduler
        .planner()
        .run_once()
        .await
        .expect("planning");
    let pending = host.deliveries("&status=pending").await;
    assert!(
        pending.iter().any(|d| d["subscriber_id"] == id.as_str()),
        "{pending:#?}"
    );
    let stop = token(&host, LinkPurpose::Unsubscribe, "email", address, 24 * 30);
    let http = reqwest::Client::new();
    // RFC 8058: the mail client POSTs this body, with no cookie and no page.
    let response = http
        .post(host.server.url(&format!("/u/{stop}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let after = host.get_subscriber(&id).await;
    assert_eq!(after["contacts"][0]["status"], "invalid", "{after}");
    let still: Vec<Value> = host
        .deliveries("&status=pending")
        .await
        .into_iter()
        .filter(|d| d["subscriber_id"] == id.as_str())
        .collect();
    assert!(
        still.is_empty(),
        "nothing pending for the stopped contact: {still:#?}"
    );
    // Again: nothing more to stop, still 200.
    let again = http
        .post(host.server.url(&format!("/u/{stop}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    // An altered stop link stops nothing.
    let other = host
        .subscriber("ja", "email", "kept@example.jp", born_five_days_ago())
        .await;
    let kept = token(
        &host,
        LinkPurpose::Unsubscribe,
        "email",
        "kept@example.jp",
        24,
    );
    let altered = alter(&kept);
    let refused = http
        .post(host.server.url(&format!("/u/{altered}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let other = host.get_subscriber(other["id"].as_str().unwrap()).await;
    assert_eq!(other["contacts"][0]["status"], "valid");
}
