//! The operator's table of every tenant in a real Chromium: each tenant's
//! figures side by side are the reports API's for the tenant's month, the
//! country's totals are their sums, the column headers sort the table
//! (links, no script, `aria-sort` on the sorted header) both ways, and
//! axe-core checks it in Japanese and in English. Over plain HTTP: 50
//! tenants a page, the pager keeping the sort.

use fantoccini::Locator;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tayori_console::text::Lang;

use crate::support::browser::Browser;
use crate::support::chat::post;
use crate::support::console::*;
use crate::support::host::{Host, TENANT, approved, born_five_days_ago};
use crate::support::platforms::line::{ACCESS_TOKEN, FakeLine};

fn user(i: u32) -> String {
    format!("U{:032x}", 0x0e00_0000 + i)
}

/// A household of `tenant` on LINE with one child.
async fn household_of(host: &Host, tenant: &str, i: u32, child: Value) -> String {
    host.call(
        Method::POST,
        &format!("/v1/tenants/{tenant}/subscribers"),
        Some(json!({
            "locale": "ja",
            "contacts": [{"channel": "line", "address": user(i)}],
            "children": [child],
        })),
    )
    .await["id"]
        .as_str()
        .expect("an id")
        .to_string()
}

/// The rows' tenant ids, top to bottom.
async fn order(b: &Browser) -> Vec<String> {
    let mut ids = Vec::new();
    for row in b
        .client
        .find_all(Locator::Css("#tenants tbody tr"))
        .await
        .unwrap()
    {
        ids.push(row.attr("data-tenant").await.unwrap().unwrap());
    }
    ids
}

async fn number(b: &Browser, css: &str) -> u64 {
    let text = b.text(css).await;
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("`{css}` is not a number: {text}"))
}

/// The reports API's figures of each tenant for January 2027 (the host's
/// month): (active, registrations, stops, blocks, sent, failed).
async fn reported(host: &Host, tenant: &str) -> [u64; 6] {
    let r = host
        .call(
            Method::GET,
            &format!("/v1/tenants/{tenant}/reports/monthly?month=2027-01"),
            None,
        )
        .await;
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let status = |s: &str| -> u64 {
        r["deliveries"]
            .as_object()
            .unwrap()
            .values()
            .map(|by| n(&by[s]))
            .sum()
    };
    [
        n(&r["active_users"]),
        n(&r["registrations"]),
        n(&r["stops"]),
        n(&r["blocks"]),
        status("sent"),
        status("failed") + status("dead"),
    ]
}

const FIGURES: [&str; 6] = [
    "active",
    "registrations",
    "stops",
    "blocks",
    "deliveries",
    "failures",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_console_operator_sorts_every_tenants_figures() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let host = Host::start().await;
    let fake = FakeLine::start().await;
    host.put_line_channel(&fake).await;
    for (id, name) in [("minato", "港区"), ("naha", "那覇市")] {
        host.call(
            Method::POST,
            "/v1/tenants",
            Some(json!({"id": id, "name": name})),
        )
        .await;
        host.call(
            Method::PUT,
            &format!("/v1/tenants/{id}/channels/line"),
            Some(json!({
                "plugin": "line",
                "config": {"channel_access_token": ACCESS_TOKEN, "api_base": fake.api_base(), "mode": "push_only"},
                "allowed_hosts": approved(fake.addr),
            })),
        )
        .await;
    }
    // Otaru 3 households (one blocks the account), Minato 5 (one stopped),
    // Naha 1: each order of the columns differs from the names'.
    let born = born_five_days_ago().to_string();
    let mut i = 0;
    for (tenant, n) in [(TENANT, 3), ("minato", 5), ("naha", 1)] {
        for k in 0..n {
            i += 1;
            let child = if k % 2 == 0 {
                json!({"birth_date": born})
            } else {
                json!({"due_date": "2027-06-01"})
            };
            let id = household_of(&host, tenant, i, child).await;
            if tenant == "minato" && k == 4 {
                host.call(
                    Method::POST,
                    &format!("/v1/tenants/minato/subscribers/{id}/stop"),
                    Some(json!({"reason": "moved_away"})),
                )
                .await;
            }
        }
    }
    assert_eq!(
        post(&host, &fake, vec![fake.unfollow(&user(1))]).await,
        StatusCode::OK
    );
    host.plan_and_send().await;
    let reports = [
        (TENANT, reported(&host, TENANT).await),
        ("minato", reported(&host, "minato").await),
        ("naha", reported(&host, "naha").await),
    ];
    assert_eq!(reports[0].1[0], 3, "{reports:?}");
    assert_eq!(reports[0].1[3], 1, "Otaru's block");
    assert_eq!(reports[1].1[0], 4, "Minato's stopped household is out");
    assert!(
        reports.iter().map(|(_, r)| r[4]).sum::<u64>() > 0,
        "{reports:?}"
    );

    // The first operator, in the browser.
    let link = host
        .server
        .launched
        .first_sign_in
        .clone()
        .expect("a first start's link");
    b.open(&link).await;
    b.fill("#name", "運営 太郎").await;
    b.fill("#email", "operator@example.jp").await;
    b.fill("#password", PASSWORD).await;
    b.fill("#confirm", PASSWORD).await;
    b.click("main form button[type=submit]").await;
    b.wait_for_heading(Lang::Ja.texts().operator_title).await;

    // By name first; every number the report's, the totals their sums.
    assert_eq!(
        order(&b).await,
        [TENANT, "minato", "naha"],
        "小樽, 港, 那覇 by code point"
    );
    assert_eq!(
        b.attr("#tenants th[data-sort='name']", "aria-sort")
            .await
            .as_deref(),
        Some("ascending")
    );
    for (tenant, figures) in &reports {
        for (key, value) in FIGURES.iter().zip(figures) {
            assert_eq!(
                number(
                    &b,
                    &format!("#tenants tr[data-tenant='{tenant}'] td[data-key='{key}']")
                )
                .await,
                *value,
                "{tenant}: {key}"
            );
        }
        assert_eq!(
            number(
                &b,
                &format!("#tenants tr[data-tenant='{tenant}'] td[data-key='channels']")
            )
            .await,
            1,
            "{tenant}: one channel"
        );
    }
    for (k, key) in FIGURES.iter().enumerate() {
        let sum: u64 = reports.iter().map(|(_, r)| r[k]).sum();
        assert_eq!(
            number(&b, &format!("#totals tr[data-key='{key}'] td")).await,
            sum,
            "total {key}"
        );
    }
    assert_eq!(number(&b, "#totals tr[data-key='tenants'] td").await, 3);
    b.assert_accessible("the operator's table (ja)").await;
    b.desktop(true).await;
    b.screenshot_as_doc("console-operator").await;
    b.desktop(false).await;

    // Sorting by active households: the most first, then the other way.
    b.click("#tenants th[data-sort='active'] a").await;
    b.wait_for("#tenants th[data-sort='active'][aria-sort='descending']")
        .await;
    let url = b.url().await;
    assert!(url.contains("sort=active&dir=desc&page=1"), "{url}");
    assert_eq!(order(&b).await, ["minato", TENANT, "naha"], "4, 3, 1");
    assert_eq!(
        b.client
            .find_all(Locator::Css("#tenants th[aria-sort]"))
            .await
            .unwrap()
            .len(),
        1,
        "only the sorted header says so"
    );
    b.click("#tenants th[data-sort='active'] a").await;
    b.wait_for("#tenants th[data-sort='active'][aria-sort='ascending']")
        .await;
    assert_eq!(order(&b).await, ["naha", TENANT, "minato"]);
    // By blocks, most first: Otaru's one, then the others by name.
    b.click("#tenants th[data-sort='blocks'] a").await;
    b.wait_for("#tenants th[data-sort='blocks'][aria-sort='descending']")
        .await;
    assert_eq!(order(&b).await, [TENANT, "minato", "naha"]);
    // Names the other way.
    b.open(&host.server.url("/operator?sort=name&dir=desc&lang=en"))
        .await;
    b.wait_for_heading(Lang::En.texts().operator_title).await;
    assert_eq!(order(&b).await, ["naha", "minato", TENANT]);
    let caption = b.text("#tenants caption").await;
    assert!(caption.contains("descending"), "{caption}");
    b.assert_accessible("the operator's table (en)").await;
    b.close().await;

    // 50 a page, over HTTP: with 53 tenants, page 2 holds 3, and its
    // links keep the sort.
    for k in 0..50 {
        host.call(
            Method::POST,
            "/v1/tenants",
            Some(json!({"id": format!("town-{k:02}"), "name": format!("町{k:02}")})),
        )
        .await;
    }
    let op = Agent::new(&host);
    let csrf = op.csrf("/sign-in").await;
    let signed = op
        .post(
            "/sign-in",
            &[
                ("csrf", &csrf),
                ("email", "operator@example.jp"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    let first = op.get("/operator?sort=active&dir=desc&page=1").await;
    assert_eq!(first.body.matches("<tr data-tenant=").count(), 50);
    assert!(
        first
            .body
            .contains("href=\"/operator?sort=active&amp;dir=desc&amp;page=2\""),
        "the next page keeps the sort"
    );
    let second = op.get("/operator?sort=active&dir=desc&page=2").await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.body.matches("<tr data-tenant=").count(), 3);
    assert!(
        !second.body.contains("data-tenant=\"minato\""),
        "the most active is on page 1"
    );
    assert!(second.body.contains("rel=\"prev\""));
    assert!(
        between(&second.body, "data-key=\"tenants\">", "</tr>").contains(">53<"),
        "the totals count every tenant on every page"
    );
}
