//! The page of what is registered (`/m/{token}`) as a self-service page,
//! used as a parent would in a real Chromium, in each language: report the
//! birth of an expected child, change the language of the messages, stop
//! the messages about one child (the others go on), each checked through
//! the API; axe-core checks every page. Wrong input (a date that does not
//! exist or is in the future, an unknown or stopped child, a POST without
//! its CSRF pair, an expired or altered link) is said clearly, with the
//! right status, and changes nothing.

use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tayori_core::registration::{DateRules, written_date};
use tayori_core::{LinkPurpose, Locale};
use tayori_parents::text::texts;

use crate::support::browser::Browser;
use crate::support::host::{Host, TENANT, born_five_days_ago, today};
use crate::support::parents::{
    LOCALES, alter, form_body, form_pair, parents_host, shot, subscriber_at, token,
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
