//! The page of what is registered (`/m/{token}`) as a self-service page,
//! used as a parent would in a real Chromium, in each language: report the
//! birth of an expected child, change the language of the messages, stop
//! the messages about one child (the others go on), add a child, invite a
//! second parent (by email, through the join link; on LINE, with the code
//! sent in the chat), each checked through the API; axe-core checks every
//! page. Wrong input (a date that does not
//! exist or is in the future, an unknown or stopped child, a POST without
//! its CSRF pair, an expired or altered link) is said clearly, with the
//! right status, and changes nothing.

use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tayori_core::domain::conversation::INVITE_PREFIX;
use tayori_core::registration::{DateRules, written_date};
use tayori_core::{LinkClaims, LinkPurpose, Locale};
use tayori_parents::limit;
use tayori_parents::text::texts;

use crate::support::browser::Browser;
use crate::support::chat::said;
use crate::support::host::{Host, TENANT, TENANT_NAME, born_five_days_ago, today};
use crate::support::parents::{
    LOCALES, alter, form_body, form_pair, parents_host, shot, signer, subscriber_at, token,
};
use crate::support::platforms::line::FakeLine;
use crate::support::platforms::sendgrid::FakeSendGrid;

/// The due dates of the two expected children of every household here.
const DUE_FIRST: &str = "2027-01-20";
const DUE_SECOND: &str = "2027-03-01";

/// A household at `address` (email) with two expected children and one
/// born five days ago, in that order.
async fn household(host: &Host, locale: Locale, address: &str) -> Value {
    host.call(
        Method::POST,
        &format!("/v1/tenants/{TENANT}/subscribers"),
        Some(json!({
            "locale": locale.as_str(),
            "contacts": [{"channel": "email", "address": address}],
            "children": [
                {"due_date": DUE_FIRST},
                {"due_date": DUE_SECOND},
                {"birth_date": born_five_days_ago().to_string()},
            ],
        })),
    )
    .await
}

/// The manage link's token for `address`.
fn manage(host: &Host, address: &str) -> String {
    token(host, LinkPurpose::Manage, "email", address, 24)
}

/// The children as the API shows them now.
async fn children(host: &Host, id: &str) -> Vec<Value> {
    host.get_subscriber(id).await["children"]
        .as_array()
        .expect("children")
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_a_parent_reports_a_birth_changes_the_language_and_stops_one_child() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let (mail, line_fake) = (FakeSendGrid::start().await, FakeLine::start().await);
    let host = parents_host(&mail, &line_fake).await;
    for (i, locale) in LOCALES.into_iter().enumerate() {
        let t = texts(locale);
        let address = format!("self{i}@example.jp");
        let created = household(&host, locale, &address).await;
        let id = created["id"].as_str().unwrap().to_string();
        let m = manage(&host, &address);
        // No `?lang=`: the page speaks the household's language.
        b.open(&host.server.url(&format!("/m/{m}"))).await;
        b.wait_for_heading(t.manage_title).await;
        assert_eq!(
            b.lang().await,
            if locale == Locale::En { "en" } else { "ja" }
        );
        assert!(b.text(".contact").await.contains(&address));
        let due_first = written_date(DUE_FIRST.parse().unwrap(), locale);
        assert_eq!(
            b.text("#child-1 h3").await,
            t.child_due.replace("{date}", &due_first)
        );
        // Only the expected children are asked for a birth date.
        b.wait_for("#birth-1-year").await;
        b.wait_for("#birth-2-year").await;
        assert!(
            b.client
                .find(fantoccini::Locator::Css("#birth-3-year"))
                .await
                .is_err(),
            "a born child is asked no birth date"
        );
        assert!(b.checked(&format!("#locale-{locale}")).await);
        let stop_all = b.attr("#stop-all", "href").await.unwrap_or_default();
        assert!(stop_all.contains("/u/"), "{stop_all}");
        b.assert_accessible(&format!("the manage page ({locale})"))
            .await;
        shot(&b, "manage", locale).await;

        // The first child is born, yesterday (typed full-width in Japanese).
        let born = today() - Duration::days(1);
        let (y, mo, d) = match locale {
            Locale::Ja => ("２０２７", "１", "３"),
            _ => ("2027", "1", "3"),
        };
        b.fill("#birth-1-year", y).await;
        b.fill("#birth-1-month", mo).await;
        b.fill("#birth-1-day", d).await;
        b.click("#birth-1-report").await;
        b.wait_for(".notification-banner[data-done=birth]").await;
        assert_eq!(
            b.attr(".notification-banner", "role").await.as_deref(),
            Some("alert")
        );
        let banner = b.text(".notification-banner").await;
        assert!(
            banner.contains(&t.birth_done.replace("{date}", &written_date(born, locale))),
            "{banner}"
        );
        let now = children(&host, &id).await;
        assert_eq!(now[0]["birth_date"], born.to_string(), "{now:#?}");
        assert_eq!(now[0]["status"], "born");
        assert_eq!(now[1]["status"], "expecting");
        let subscriber = host.get_subscriber(&id).await;
        assert_eq!(subscriber["children"][0]["birth_date"], born.to_string());
        // The first child is now known by its birthday and asked no more.
        assert_eq!(
            b.text("#child-1 h3").await,
            t.child_born.replace("{date}", &written_date(born, locale))
        );
        assert!(
            b.client
                .find(fantoccini::Locator::Css("#birth-1-year"))
                .await
                .is_err()
        );
        b.assert_accessible(&format!("a birth reported ({locale})"))
            .await;
        shot(&b, "manage-birth-reported", locale).await;

        // The language of the messages changes; the page's stays.
        let other = LOCALES[(i + 1) % LOCALES.len()];
        b.click(&format!("#locale-{other}")).await;
        b.click("#language-change").await;
        b.wait_for(".notification-banner[data-done=language]").await;
        assert_eq!(b.text("h1").await, t.manage_title);
        assert!(b.checked(&format!("#locale-{other}")).await);
        assert_eq!(host.get_subscriber(&id).await["locale"], other.as_str());
        b.assert_accessible(&format!("the language changed ({locale})"))
            .await;

        // The second (expected) child is stopped, after a question: gentle
        // words, and the other children go on.
        let due_second = written_date(DUE_SECOND.parse().unwrap(), locale);
        let second = t.child_due.replace("{date}", &due_second);
        b.click("#child-2 .card-stop a").await;
        b.wait_for_heading(&t.stop_child_title.replace("{child}", &second))
            .await;
        assert!(
            b.text("main")
                .await
                .contains(&t.stop_expected_body.replace("{child}", &second))
        );
        assert!(
            b.attr("form button[type=submit]", "class")
                .await
                .unwrap_or_default()
                .contains("button-warning")
        );
        assert_eq!(
            children(&host, &id).await[1]["status"],
            "expecting",
            "the question changes nothing"
        );
        b.assert_accessible(&format!("stop one child ({locale})"))
            .await;
        shot(&b, "manage-stop-child", locale).await;
        b.click("form button[type=submit]").await;
        b.wait_for(".notification-banner[data-done=stopped]").await;
        assert_eq!(
            b.attr(".notification-banner", "role").await.as_deref(),
            Some("status")
        );
        let banner = b.text(".notification-banner").await;
        assert!(
            banner.contains(&t.stopped_expected.replace("{child}", &second)),
            "{banner}"
        );
        if locale == Locale::Ja {
            assert!(banner.contains("保健師"), "{banner}");
        }
        assert!(
            !banner.contains('?') && !banner.contains('？'),
            "never asks why"
        );
        assert_eq!(b.text("#child-2 h3").await, t.child_stopped);
        b.assert_accessible(&format!("one child stopped ({locale})"))
            .await;
        shot(&b, "manage-stopped-expected", locale).await;
        let now = children(&host, &id).await;
        assert_eq!(now[1]["status"], "stopped", "{now:#?}");
        assert_eq!(now[0]["status"], "born", "the others go on");
        assert_eq!(now[2]["status"], "born");
        let subscriber = host.get_subscriber(&id).await;
        assert_eq!(subscriber["status"], "active", "{subscriber}");
        assert_eq!(subscriber["contacts"][0]["status"], "valid");

        // A born child stops with plain words.
        if locale == Locale::En {
            let third = t
                .child_born
                .replace("{date}", &written_date(born_five_days_ago(), locale));
            b.click("#child-3 .card-stop a").await;
            b.wait_for_heading(&t.stop_child_title.replace("{child}", &third))
                .await;
            b.click("form button[type=submit]").await;
            b.wait_for(".notification-banner[data-done=stopped]").await;
            let banner = b.text(".notification-banner").await;
            assert!(
                banner.contains(&t.stopped_child.replace("{child}", &third)),
                "{banner}"
            );
            let now = children(&host, &id).await;
            assert_eq!(now[2]["status"], "stopped");
            assert_eq!(now[0]["status"], "born");
        }
    }
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_wrong_birth_dates_show_the_error_summary_and_change_nothing() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let (mail, line_fake) = (FakeSendGrid::start().await, FakeLine::start().await);
    let host = parents_host(&mail, &line_fake).await;
    let rules = DateRules::new(today());
    let tomorrow = today() + Duration::days(1);
    let cases: [(Locale, (&str, &str, &str), String, &str); 3] = [
        (
            Locale::Ja,
            ("2027", "2", "30"),
            texts(Locale::Ja).err_date_impossible.to_string(),
            "birth-2-year",
        ),
        (
            Locale::JaEasy,
            ("2027", "1", ""),
            texts(Locale::JaEasy)
                .err_date_missing
                .replace("{parts}", &texts(Locale::JaEasy).day.to_lowercase()),
            "birth-2-day",
        ),
        (
            Locale::En,
            ("2027", "1", "5"),
            rules.birth(tomorrow).unwrap_err().message(Locale::En),
            "birth-2-year",
        ),
    ];
    for (i, (locale, (y, m, d), problem, anchor)) in cases.into_iter().enumerate() {
        let t = texts(locale);
        let address = format!("wrong{i}@example.jp");
        let created = household(&host, locale, &address).await;
        let id = created["id"].as_str().unwrap().to_string();
        let before = host.get_subscriber(&id).await;
        b.open(
            &host
                .server
                .url(&format!("/m/{}?lang={locale}", manage(&host, &address))),
        )
        .await;
        b.fill("#birth-2-year", y).await;
        b.fill("#birth-2-month", m).await;
        b.fill("#birth-2-day", d).await;
        b.click("#birth-2-report").await;
        b.wait_for(".error-summary").await;
        assert_eq!(b.text(".error-summary h2").await, t.error_summary);
        let summary = b.text(".error-summary ul").await;
        assert!(summary.contains(&problem), "{summary} lacks {problem}");
        let legend = b.text("#child-2 .group-error legend").await;
        assert!(legend.contains(&problem), "said at the question: {legend}");
        assert!(
            b.client
                .find(fantoccini::Locator::Css("#child-1 .group-error"))
                .await
                .is_err(),
            "only the child whose date was wrong"
        );
        assert_eq!(b.value("#birth-2-year").await, y, "values kept");
        assert_eq!(b.value("#birth-2-day").await, d);
        assert_eq!(
            b.attr(&format!("#{anchor}"), "aria-invalid")
                .await
                .as_deref(),
            Some("true")
        );
        let title = b.client.title().await.unwrap();
        assert!(title.starts_with(t.error_prefix), "{title}");
        b.assert_accessible(&format!("a wrong birth date ({locale})"))
            .await;
        shot(&b, "manage-errors", locale).await;
        b.click(&format!(".error-summary a[href='#{anchor}']"))
            .await;
        let focused = b
            .client
            .execute("return document.activeElement.id;", vec![])
            .await
            .unwrap();
        assert_eq!(focused, json!(anchor));
        assert_eq!(host.get_subscriber(&id).await, before, "nothing changed");
    }
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_an_expired_or_altered_manage_link_is_refused_in_each_language() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let (mail, line_fake) = (FakeSendGrid::start().await, FakeLine::start().await);
    let host = parents_host(&mail, &line_fake).await;
    household(&host, Locale::Ja, "late@example.jp").await;
    let expired = token(&host, LinkPurpose::Manage, "email", "late@example.jp", -1);
    let altered = alter(&manage(&host, "late@example.jp"));
    for (locale, link) in [
        (Locale::Ja, &expired),
        (Locale::JaEasy, &altered),
        (Locale::En, &expired),
    ] {
        b.open(&host.server.url(&format!("/m/{link}?lang={locale}")))
            .await;
        assert_eq!(b.text("h1").await, texts(locale).link_title);
        b.assert_accessible(&format!("a manage link refused ({locale})"))
            .await;
    }
    b.close().await;
}

// ------------------------------------------------------ plain HTTP checks

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_http_wrong_posts_to_the_manage_page_are_refused_and_change_nothing() {
    let (mail, line_fake) = (FakeSendGrid::start().await, FakeLine::start().await);
    let host = parents_host(&mail, &line_fake).await;
    let address = "posts@example.jp";
    let created = household(&host, Locale::En, address).await;
    let id = created["id"].as_str().unwrap().to_string();
    let child = |n: usize| created["children"][n]["id"].as_str().unwrap().to_string();
    let m = manage(&host, address);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (cookie, field) = form_pair(&http, &host.server.url(&format!("/m/{m}?lang=en"))).await;
    // Every POST from its own loopback address: more than the limiter's
    // burst are sent here, and the limit is not what is tested.
    let next = std::sync::atomic::AtomicU8::new(10);
    let post = |path: String, pairs: Vec<(&'static str, String)>, csrf: bool| {
        let mut pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if csrf {
            pairs.push(("csrf", field.as_str()));
        }
        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(std::net::IpAddr::from([127, 0, 0, n]))
            .build()
            .unwrap();
        let request = client
            .post(host.server.url(&path))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookie.as_str())
            .body(form_body(&pairs));
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            (status, response.text().await.unwrap())
        }
    };
    let t = texts(Locale::En);
    let date = |y: &str, m: &str, d: &str| {
        vec![
            ("year", y.to_string()),
            ("month", m.to_string()),
            ("day", d.to_string()),
        ]
    };
    let before = host.get_subscriber(&id).await;
    let birth = |child: &str| format!("/m/{m}/birth/{child}?lang=en");
    let cases: Vec<(
        String,
        Vec<(&'static str, String)>,
        bool,
        StatusCode,
        String,
    )> = vec![
        // No CSRF pair.
        (
            birth(&child(0)),
            date("2027", "1", "3"),
            false,
            StatusCode::FORBIDDEN,
            t.csrf_title.to_string(),
        ),
        (
            format!("/m/{m}/stop/{}?lang=en", child(1)),
            Vec::new(),
            false,
            StatusCode::FORBIDDEN,
            t.csrf_title.to_string(),
        ),
        (
            format!("/m/{m}/language?lang=en"),
            vec![("locale", "ja".into())],
            false,
            StatusCode::FORBIDDEN,
            t.csrf_title.to_string(),
        ),
        // A date in the future, one that does not exist, not numbers.
        (
            birth(&child(0)),
            date("2027", "1", "5"),
            true,
            StatusCode::UNPROCESSABLE_ENTITY,
            DateRules::new(today())
                .birth("2027-01-05".parse().unwrap())
                .unwrap_err()
                .message(Locale::En),
        ),
        (
            birth(&child(0)),
            date("2026", "2", "30"),
            true,
            StatusCode::UNPROCESSABLE_ENTITY,
            t.err_date_impossible.to_string(),
        ),
        (
            birth(&child(0)),
            date("2026", "Dec", "1"),
            true,
            StatusCode::UNPROCESSABLE_ENTITY,
            t.err_date_numbers.to_string(),
        ),
        // A child that is not this household's.
        (
            birth("not-a-child"),
            date("2027", "1", "3"),
            true,
            StatusCode::NOT_FOUND,
            t.child_unknown_title.to_string(),
        ),
        (
            format!("/m/{m}/stop/not-a-child?lang=en"),
            Vec::new(),
            true,
            StatusCode::NOT_FOUND,
            t.child_unknown_title.to_string(),
        ),
        // A language that does not exist.
        (
            format!("/m/{m}/language?lang=en"),
            vec![("locale", "fr".into())],
            true,
            StatusCode::UNPROCESSABLE_ENTITY,
            t.err_locale.to_string(),
        ),
        // An altered or expired link.
        (
            format!("/m/{}/birth/{}?lang=en", alter(&m), child(0)),
            date("2027", "1", "3"),
            true,
            StatusCode::BAD_REQUEST,
            t.link_title.to_string(),
        ),
        (
            format!(
                "/m/{}/stop/{}?lang=en",
                token(&host, LinkPurpose::Manage, "email", address, -1),
                child(1)
            ),
            Vec::new(),
            true,
            StatusCode::GONE,
            t.link_title.to_string(),
        ),
        // A link of another purpose.
        (
            format!(
                "/m/{}/stop/{}?lang=en",
                token(&host, LinkPurpose::Unsubscribe, "email", address, 1),
                child(1)
            ),
            Vec::new(),
            true,
            StatusCode::BAD_REQUEST,
            t.link_title.to_string(),
        ),
    ];
    for (path, pairs, csrf, status, says) in cases {
        let (got, page) = post(path.clone(), pairs, csrf).await;
        assert_eq!(got, status, "{path}: {page}");
        assert!(page.contains(&says), "{path} does not say {says}: {page}");
    }
    assert_eq!(host.get_subscriber(&id).await, before, "nothing changed");

    // A good stop, then the same again: already stopped (409), and a birth
    // for the stopped child is refused too.
    let stop = format!("/m/{m}/stop/{}?lang=en", child(1));
    let (got, _) = post(stop.clone(), Vec::new(), true).await;
    assert_eq!(got, StatusCode::SEE_OTHER);
    let after_stop = host.get_subscriber(&id).await;
    assert_eq!(after_stop["children"][1]["status"], "stopped");
    for (path, pairs) in [
        (stop, Vec::new()),
        (birth(&child(1)), date("2027", "1", "3")),
    ] {
        let (got, page) = post(path.clone(), pairs, true).await;
        assert_eq!(got, StatusCode::CONFLICT, "{path}: {page}");
        assert!(page.contains(t.child_already_title), "{page}");
    }
    let confirm = http
        .get(
            host.server
                .url(&format!("/m/{m}/stop/{}?lang=en", child(1))),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), StatusCode::CONFLICT);
    assert_eq!(host.get_subscriber(&id).await, after_stop, "nothing more");

    // With its pair, a good birth and a good language go through (303).
    let (got, _) = post(birth(&child(0)), date("2027", "1", "3"), true).await;
    assert_eq!(got, StatusCode::SEE_OTHER);
    let (got, _) = post(
        format!("/m/{m}/language?lang=en"),
        vec![("locale", "ja-easy".into())],
        true,
    )
    .await;
    assert_eq!(got, StatusCode::SEE_OTHER);
    let done = subscriber_at(&host, address).await.expect("the household");
    assert_eq!(done["children"][0]["birth_date"], "2027-01-03");
    assert_eq!(done["children"][0]["status"], "born");
    assert_eq!(done["locale"], "ja-easy");
}

// ------------------------------------------- adding a child, inviting

/// A due date inside the domain's range on the suites' day.
const DUE_NEW: &str = "2027-06-10";

/// A household at `address` (email) with one child, born five days ago.
async fn one_child(host: &Host, locale: Locale, address: &str) -> String {
    host.call(
        Method::POST,
        &format!("/v1/tenants/{TENANT}/subscribers"),
        Some(json!({
            "locale": locale.as_str(),
            "contacts": [{"channel": "email", "address": address}],
            "children": [{"birth_date": born_five_days_ago().to_string()}],
        })),
    )
    .await["id"]
        .as_str()
        .expect("an id")
        .to_string()
}

/// An invitation to household `id` for `address` on `channel` (empty: a
/// LINE code), valid for `hours`.
fn invitation(host: &Host, channel: &str, address: &str, id: &str, hours: i64) -> String {
    signer(host).sign(&LinkClaims {
        purpose: LinkPurpose::Invite,
        tenant: TENANT.into(),
        channel: channel.into(),
        address: address.into(),
        data: id.into(),
        expires_at: host.now() + Duration::hours(hours),
    })
}

/// The addresses of a household's contacts, in order.
async fn addresses(host: &Host, id: &str) -> Vec<String> {
    host.get_subscriber(id).await["contacts"]
        .as_array()
        .expect("contacts")
        .iter()
        .map(|c| c["address"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A screenshot for docs/ under exactly `name` (Japanese only).
async fn doc_shot(b: &Browser, name: &str, locale: Locale) {
    if locale == Locale::Ja {
        b.screenshot_for_docs(name).await;
    } else {
        b.screenshot(&format!("{name}-{locale}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_a_parent_adds_an_expected_child_and_a_wrong_date_changes_nothing() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let (mail, line_fake) = (FakeSendGrid::start().await, FakeLine::start().await);
    let host = parents_host(&mail, &line_fake).await;
    let rules = DateRules::new(today());
    let too_late = "2028-03-01".parse().unwrap();
    // What is wrong, in each language: an impossible date, no choice, a
    // due date outside the domain's range (its own words).
    let wrongs: [(Option<&str>, (&str, &str, &str), String, &str); 3] = [
        (
            Some("expecting"),
            ("2027", "2", "30"),
            texts(Locale::Ja).err_date_impossible.to_string(),
            "add-date-year",
        ),
        (
            None,
            ("2027", "6", "10"),
            texts(Locale::JaEasy).err_stage.to_string(),
            "add-stage-expecting",
        ),
        (
            Some("expecting"),
            ("2028", "3", "1"),
            rules.due(too_late).unwrap_err().message(Locale::En),
            "add-date-year",
        ),
    ];
    for (i, (locale, (stage, (y, m, d), problem, anchor))) in
        LOCALES.into_iter().zip(wrongs).enumerate()
    {
        let t = texts(locale);
        let address = format!("add{i}@example.jp");
        let id = one_child(&host, locale, &address).await;
        let before = host.get_subscriber(&id).await;
        b.open(
            &host
                .server
                .url(&format!("/m/{}?lang={locale}", manage(&host, &address))),
        )
        .await;
        b.wait_for_heading(t.manage_title).await;
        assert_eq!(b.text("#add-child-title").await, t.add_child_title);
        // The domain's range is said at the question.
        let (from, to) = rules.due_range();
        let hint = b.text("#add-date-hint").await;
        assert!(hint.contains(&written_date(from, locale)), "{hint}");
        assert!(hint.contains(&written_date(to, locale)), "{hint}");

        // Wrong: the page again, the problem named and linked, nothing changed.
        if let Some(stage) = stage {
            b.click(&format!("#add-stage-{stage}")).await;
        }
        b.fill("#add-date-year", y).await;
        b.fill("#add-date-month", m).await;
        b.fill("#add-date-day", d).await;
        b.click("#add-child-submit").await;
        b.wait_for(".error-summary").await;
        assert_eq!(b.text(".error-summary h2").await, t.error_summary);
        let summary = b.text(".error-summary ul").await;
        assert!(summary.contains(&problem), "{summary} lacks {problem}");
        let legends = b.text("#add-child .group-error legend").await;
        assert!(
            legends.contains(&problem),
            "said at the question: {legends}"
        );
        assert_eq!(b.value("#add-date-year").await, y, "values kept");
        assert_eq!(b.value("#add-date-day").await, d);
        assert_eq!(
            b.attr(&format!("#{anchor}"), "aria-invalid")
                .await
                .as_deref(),
            Some("true")
        );
        let title = b.client.title().await.unwrap();
        assert!(title.starts_with(t.error_prefix), "{title}");
        b.assert_accessible(&format!("a wrong new child ({locale})"))
            .await;
        b.screenshot(&format!("add-child-errors-{locale}")).await;
        b.click(&format!(".error-summary a[href='#{anchor}']"))
            .await;
        let focused = b
            .client
            .execute("return document.activeElement.id;", vec![])
            .await
            .unwrap();
        assert_eq!(focused, json!(anchor));
        assert_eq!(host.get_subscriber(&id).await, before, "nothing changed");

        // Right: expecting, due on DUE_NEW; the household has two children.
        b.click("#add-stage-expecting").await;
        let due: chrono::NaiveDate = DUE_NEW.parse().unwrap();
        let (y, m, d) = match locale {
            Locale::Ja => ("２０２７", "６", "１０"),
            _ => ("2027", "6", "10"),
        };
        b.fill("#add-date-year", y).await;
        b.fill("#add-date-month", m).await;
        b.fill("#add-date-day", d).await;
        b.click("#add-child-submit").await;
        b.wait_for(".notification-banner[data-done=child]").await;
        let label = t.child_due.replace("{date}", &written_date(due, locale));
        let banner = b.text(".notification-banner").await;
        assert!(
            banner.contains(&t.child_added.replace("{child}", &label)),
            "{banner}"
        );
        assert_eq!(
            b.text("#child-2 h3").await,
            label,
            "the new child is listed"
        );
        assert!(b.value("#add-date-year").await.is_empty(), "asked afresh");
        let now = children(&host, &id).await;
        assert_eq!(now.len(), 2, "{now:#?}");
        assert_eq!(now[1]["due_date"], DUE_NEW);
        assert_eq!(now[1]["status"], "expecting");
        assert_eq!(now[0]["status"], "born", "the first child goes on");
        b.assert_accessible(&format!("a child added ({locale})"))
            .await;
        doc_shot(&b, "add-child", locale).await;
    }
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_a_parent_invites_a_second_parent_by_email_who_joins_from_the_link() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let (mail, line_fake) = (FakeSendGrid::start().await, FakeLine::start().await);
    let host = parents_host(&mail, &line_fake).await;
    for (i, locale) in LOCALES.into_iter().enumerate() {
        let t = texts(locale);
        let (address, invited) = (format!("mama{i}@example.jp"), format!("papa{i}@example.jp"));
        let id = one_child(&host, locale, &address).await;
        b.open(
            &host
                .server
                .url(&format!("/m/{}?lang={locale}", manage(&host, &address))),
        )
        .await;
        assert_eq!(b.text("#invite-title").await, t.invite_title);

        // Not an address: named, linked, and nothing sent.
        let sent = mail.mails().len();
        b.fill("#invite-email", "papa@").await;
        b.click("#invite-send").await;
        b.wait_for(".error-summary").await;
        let summary = b.text(".error-summary ul").await;
        assert!(summary.contains(t.err_email_invalid), "{summary}");
        assert_eq!(
            b.attr(".error-summary a", "href").await.as_deref(),
            Some("#invite-email")
        );
        assert_eq!(
            b.attr("#invite-email", "aria-invalid").await.as_deref(),
            Some("true")
        );
        assert_eq!(b.value("#invite-email").await, "papa@", "kept");
        b.assert_accessible(&format!("a wrong invitation address ({locale})"))
            .await;
        assert_eq!(mail.mails().len(), sent, "nothing sent");

        // An address: the mail goes, the banner says to whom.
        b.fill("#invite-email", &invited).await;
        b.click("#invite-send").await;
        b.wait_for(".notification-banner[data-done=invite]").await;
        let banner = b.text(".notification-banner").await;
        assert!(
            banner.contains(
                &t.invite_sent
                    .replace("{address}", &invited)
                    .replace("{hours}", "72")
            ),
            "{banner}"
        );
        tokio::time::timeout(std::time::Duration::from_secs(30), mail.received(sent + 1))
            .await
            .expect("the invitation mail reached the provider");
        let sent_mail = mail
            .mails()
            .into_iter()
            .rev()
            .find(|m| m.recipients().contains(&invited))
            .expect("a mail to the invited address");
        assert_eq!(
            sent_mail.body["subject"].as_str().unwrap_or_default(),
            t.invite_mail_subject.replace("{tenant}", TENANT_NAME)
        );
        let link = sent_mail.first_link();
        assert!(link.starts_with(&host.server.url("/j/")), "{link}");
        assert_eq!(addresses(&host, &id).await, [address.clone()], "not yet");

        // A mail scanner's GET changes nothing.
        let scanned = reqwest::get(&link).await.unwrap();
        assert_eq!(scanned.status(), StatusCode::OK);
        assert_eq!(addresses(&host, &id).await, [address.clone()]);

        // The invited parent opens the link and presses the button.
        b.open(&link).await;
        assert_eq!(
            b.text("h1").await,
            t.join_title.replace("{tenant}", TENANT_NAME)
        );
        assert!(b.text("main").await.contains(&invited));
        b.assert_accessible(&format!("the join page ({locale})"))
            .await;
        doc_shot(&b, "join", locale).await;
        b.click("form button[type=submit]").await;
        b.wait_for_heading(t.joined_title).await;
        assert!(b.text("main").await.contains(&invited));
        b.assert_accessible(&format!("joined ({locale})")).await;
        shot(&b, "joined", locale).await;
        assert_eq!(
            addresses(&host, &id).await,
            [address.clone(), invited.clone()]
        );
        let household = host.get_subscriber(&id).await;
        assert_eq!(household["contacts"][1]["channel"], "email");
        assert_eq!(household["contacts"][1]["status"], "valid");

        // The new parent's own page of what is registered.
        b.click(".links a").await;
        b.wait_for_heading(t.manage_title).await;
        assert!(b.text(".contact").await.contains(&invited));

        // The link again: already registered, nothing changes.
        b.open(&link).await;
        assert_eq!(b.text("h1").await, t.join_already_title);
        b.assert_accessible(&format!("already joined ({locale})"))
            .await;
        assert_eq!(addresses(&host, &id).await, [address, invited]);
    }
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_a_line_invitation_code_on_the_page_joins_a_second_parent_from_the_chat() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let (mail, line_fake) = (FakeSendGrid::start().await, FakeLine::start().await);
    let host = parents_host(&mail, &line_fake).await;
    for (i, locale) in LOCALES.into_iter().enumerate() {
        let t = texts(locale);
        let address = format!("line{i}@example.jp");
        let id = one_child(&host, locale, &address).await;
        b.open(
            &host
                .server
                .url(&format!("/m/{}?lang={locale}", manage(&host, &address))),
        )
        .await;
        let code = b.text("#invite-code").await;
        assert!(code.starts_with(INVITE_PREFIX), "{code}");
        let how = b.text("#invite-line").await;
        assert!(
            how.contains(&t.invite_code_expiry.replace("{hours}", "72")),
            "{how}"
        );
        let share = b.attr("#invite-share", "href").await.unwrap_or_default();
        assert!(
            share.starts_with("https://line.me/R/share?text="),
            "{share}"
        );
        // The code is the chat's own: an invitation to this household.
        let claims = signer(&host)
            .verify(
                &code[INVITE_PREFIX.len()..],
                LinkPurpose::Invite,
                host.now(),
            )
            .expect("a signed invitation");
        assert_eq!(
            (claims.tenant.as_str(), claims.channel.as_str()),
            (TENANT, "line")
        );
        assert_eq!(claims.data, id);
        assert!(claims.expires_at - host.now() >= Duration::hours(71));
        b.assert_accessible(&format!("the invitation code ({locale})"))
            .await;
        shot(&b, "invite-line", locale).await;

        // The second parent adds the account and sends the code.
        let second = format!("U{:032x}", 0x0d00_0000 + i);
        said(&host, &line_fake, vec![line_fake.follow(&second, false)]).await;
        let joined = said(&host, &line_fake, vec![line_fake.text(&second, &code)]).await;
        assert!(!joined.texts.is_empty(), "answered");
        assert_eq!(addresses(&host, &id).await, [address, second.clone()]);
        let household = host.get_subscriber(&id).await;
        assert_eq!(household["contacts"][1]["channel"], "line");
    }
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_http_wrong_invitations_and_joins_are_refused_and_change_nothing() {
    let (mail, line_fake) = (FakeSendGrid::start().await, FakeLine::start().await);
    let host = parents_host(&mail, &line_fake).await;
    let (address, other) = ("inviter@example.jp", "elsewhere@example.jp");
    let id = one_child(&host, Locale::En, address).await;
    let other_id = one_child(&host, Locale::En, other).await;
    let m = manage(&host, address);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (cookie, field) = form_pair(&http, &host.server.url(&format!("/m/{m}?lang=en"))).await;
    // Every POST from its own loopback address: the per-client limit is
    // not what is tested here.
    let next = std::sync::atomic::AtomicU8::new(10);
    let post = |path: String, pairs: Vec<(&'static str, String)>, csrf: bool| {
        let mut pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if csrf {
            pairs.push(("csrf", field.as_str()));
        }
        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(std::net::IpAddr::from([127, 0, 0, n]))
            .build()
            .unwrap();
        let request = client
            .post(host.server.url(&path))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookie.as_str())
            .body(form_body(&pairs));
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let retry = response.headers().get("retry-after").cloned();
            (status, response.text().await.unwrap(), retry)
        }
    };
    let t = texts(Locale::En);
    let before = host.get_subscriber(&id).await;
    let invite = format!("/m/{m}/invite?lang=en");
    let children_path = format!("/m/{m}/children?lang=en");
    let cases: Vec<(String, Vec<(&'static str, String)>, bool, StatusCode, &str)> = vec![
        (
            invite.clone(),
            vec![("email", "papa@example.jp".into())],
            false,
            StatusCode::FORBIDDEN,
            t.csrf_title,
        ),
        (
            invite.clone(),
            vec![("email", "papa@".into())],
            true,
            StatusCode::UNPROCESSABLE_ENTITY,
            t.err_email_invalid,
        ),
        (
            invite.clone(),
            vec![("email", " ".into())],
            true,
            StatusCode::UNPROCESSABLE_ENTITY,
            t.err_email_empty,
        ),
        (
            children_path.clone(),
            vec![
                ("stage", "expecting".into()),
                ("year", "2027".into()),
                ("month", "6".into()),
                ("day", "10".into()),
            ],
            false,
            StatusCode::FORBIDDEN,
            t.csrf_title,
        ),
        (
            children_path.clone(),
            vec![
                ("year", "2027".into()),
                ("month", "6".into()),
                ("day", "10".into()),
            ],
            true,
            StatusCode::UNPROCESSABLE_ENTITY,
            t.err_stage,
        ),
        (
            children_path.clone(),
            vec![("stage", "born".into())],
            true,
            StatusCode::UNPROCESSABLE_ENTITY,
            t.err_date_empty_birth,
        ),
        (
            format!("/m/{}/invite?lang=en", alter(&m)),
            vec![("email", "papa@example.jp".into())],
            true,
            StatusCode::BAD_REQUEST,
            t.link_title,
        ),
    ];
    for (path, pairs, csrf, status, says) in cases {
        let (got, page, _) = post(path.clone(), pairs, csrf).await;
        assert_eq!(got, status, "{path}: {page}");
        assert!(page.contains(says), "{path} does not say {says}: {page}");
    }
    assert!(mail.mails().is_empty(), "nothing sent");
    assert_eq!(host.get_subscriber(&id).await, before, "nothing changed");

    // Join links: expired, altered, a LINE code, another tenant's channel
    // name, an address registered elsewhere in the tenant.
    let join = |token: &str| format!("/j/{token}?lang=en");
    let good = invitation(&host, "email", "papa@example.jp", &id, 72);
    let refused = [
        (
            invitation(&host, "email", "papa@example.jp", &id, -1),
            StatusCode::GONE,
            t.link_title,
        ),
        (alter(&good), StatusCode::BAD_REQUEST, t.link_title),
        (
            invitation(&host, "line", "", &id, 72),
            StatusCode::BAD_REQUEST,
            t.link_title,
        ),
        (
            invitation(
                &host,
                "email",
                "papa@example.jp",
                "00000000-0000-4000-8000-000000000000",
                72,
            ),
            StatusCode::BAD_REQUEST,
            t.link_title,
        ),
        (
            invitation(&host, "email", other, &id, 72),
            StatusCode::CONFLICT,
            t.join_already_title,
        ),
    ];
    for (token, status, says) in &refused {
        let page = http
            .get(host.server.url(&join(token)))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), *status, "GET {token}");
        assert!(page.text().await.unwrap().contains(says), "GET says {says}");
        let (got, page, _) = post(join(token), Vec::new(), true).await;
        assert_eq!(got, *status, "POST {token}: {page}");
        assert!(page.contains(says), "POST does not say {says}: {page}");
    }
    // A good link without its CSRF pair.
    let (got, page, _) = post(join(&good), Vec::new(), false).await;
    assert_eq!(got, StatusCode::FORBIDDEN, "{page}");
    assert_eq!(host.get_subscriber(&id).await, before, "nothing changed");
    assert_eq!(addresses(&host, &other_id).await, [other]);

    // The household stops meanwhile: the link says so and adds nobody.
    let stopped_id = one_child(&host, Locale::En, "stops@example.jp").await;
    let late = invitation(&host, "email", "late@example.jp", &stopped_id, 72);
    host.call(
        Method::POST,
        &format!("/v1/tenants/{TENANT}/subscribers/{stopped_id}/stop"),
        Some(json!({"reason": "unsubscribed"})),
    )
    .await;
    let (got, page, _) = post(join(&late), Vec::new(), true).await;
    assert_eq!(got, StatusCode::CONFLICT, "{page}");
    assert!(page.contains(t.join_stopped_title), "{page}");
    assert_eq!(addresses(&host, &stopped_id).await, ["stops@example.jp"]);
    // Nor does a stopped household send invitations (its page shows no
    // form; a POST made anyway sends nothing).
    let sent = mail.mails().len();
    let stopped_invite = format!("/m/{}/invite?lang=en", manage(&host, "stops@example.jp"));
    let (got, page, _) = post(
        stopped_invite,
        vec![("email", "late@example.jp".into())],
        true,
    )
    .await;
    assert_eq!(got, StatusCode::CONFLICT, "{page}");
    assert!(page.contains(t.join_stopped_title), "{page}");
    assert_eq!(mail.mails().len(), sent, "no invitation mail");

    // A good join goes through (303 to the page that says so).
    let (got, _, _) = post(join(&good), Vec::new(), true).await;
    assert_eq!(got, StatusCode::SEE_OTHER);
    assert_eq!(addresses(&host, &id).await, [address, "papa@example.jp"]);

    // A household sends a few invitations, then waits (whatever address
    // it posts from): 429 with Retry-After, and no more mail.
    for n in 0..limit::INVITE_BURST {
        let (got, page, _) = post(
            invite.clone(),
            vec![("email", format!("family{n}@example.jp"))],
            true,
        )
        .await;
        assert_eq!(got, StatusCode::SEE_OTHER, "{page}");
    }
    assert_eq!(mail.mails().len(), limit::INVITE_BURST as usize);
    let (got, page, retry) = post(
        invite.clone(),
        vec![("email", "one-more@example.jp".into())],
        true,
    )
    .await;
    assert_eq!(got, StatusCode::TOO_MANY_REQUESTS, "{page}");
    assert!(page.contains(t.limited_title), "{page}");
    assert!(retry.is_some(), "Retry-After");
    assert_eq!(mail.mails().len(), limit::INVITE_BURST as usize, "not sent");
}
