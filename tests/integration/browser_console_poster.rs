//! The registration poster, used as staff use it and read as a parent
//! reads it: a real Chromium opens the poster page, types a wrong LINE ID
//! and address (errors at the fields, no poster), then the right ones; the
//! poster it downloads is an A4 SVG whose QR codes, scanned from
//! Chromium's own rendering of it by a decoder independent of the
//! encoder (`rqrr`), hold the LINE friend-add link, the registration form
//! and the blank-email address; the form's code opens the parents' form.
//! axe-core checks the page in Japanese and in English. Plain HTTP checks
//! the permission and the tenant's scope.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::json;
use tayori_console::text::Lang;

use crate::support::browser::Browser;
use crate::support::console::*;
use crate::support::host::{Host, TENANT};
use crate::support::parents::parents_host;
use crate::support::platforms::line::FakeLine;
use crate::support::platforms::sendgrid::FakeSendGrid;

fn ja() -> &'static tayori_console::text::Texts {
    Lang::Ja.texts()
}

fn en() -> &'static tayori_console::text::Texts {
    Lang::En.texts()
}

/// Every QR code a PNG shows, decoded.
fn scan(png_path: &std::path::Path) -> BTreeSet<String> {
    let file = std::fs::File::open(png_path).expect("the screenshot");
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = info.color_type.samples();
    let (w, h) = (info.width as usize, info.height as usize);
    let pixels = &buf[..info.buffer_size()];
    let grey = |x: usize, y: usize| -> u8 {
        let i = (y * w + x) * channels;
        let (r, g, b) = if channels >= 3 {
            (pixels[i] as u32, pixels[i + 1] as u32, pixels[i + 2] as u32)
        } else {
            let v = pixels[i] as u32;
            (v, v, v)
        };
        ((r * 299 + g * 587 + b * 114) / 1000) as u8
    };
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, grey);
    prepared
        .detect_grids()
        .into_iter()
        .map(|grid| grid.decode().expect("a readable code").1)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_console_poster_codes_scan_to_the_ways_of_registering() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let (mail, line_fake) = (FakeSendGrid::start().await, FakeLine::start().await);
    let host = parents_host(&mail, &line_fake).await;
    let op = first_operator(&host).await;
    let invitation = invite_with(
        &host,
        &op,
        TENANT,
        "koho@otaru.example.jp",
        &["dashboard", "content"],
    )
    .await;
    b.open(&host.server.url(&format!("{invitation}?lang=ja")))
        .await;
    b.wait_for_heading(ja().accept_title).await;
    b.fill("#name", "広報 四郎").await;
    b.fill("#password", PASSWORD).await;
    b.fill("#confirm", PASSWORD).await;
    b.click("main form button[type=submit]").await;
    b.wait_for_heading(ja().dashboard_title).await;
    b.click(&format!(".main-nav a[href='/t/{TENANT}/poster']"))
        .await;
    b.wait_for_heading(ja().po_title).await;
    let form_url = host.server.url(&format!("/r/{TENANT}"));
    assert_eq!(b.text("#form-url").await, form_url, "the tenant's own form");
    b.assert_accessible("the poster page (ja)").await;

    // Wrong: said at each field, no poster.
    b.fill("#line", "otaru kosodate").await;
    b.fill("#email", "entry@city").await;
    b.click("#poster-form button[type=submit]").await;
    b.wait_for(".error-summary").await;
    let summary = b.text(".error-summary").await;
    assert!(summary.contains(ja().po_line_error), "{summary}");
    assert!(summary.contains(ja().po_email_error), "{summary}");
    assert!(
        b.client
            .find(fantoccini::Locator::Css("#preview"))
            .await
            .is_err(),
        "no poster for wrong input"
    );
    assert_eq!(
        b.value("#line").await,
        "otaru kosodate",
        "what was typed stays"
    );
    b.assert_accessible("the poster page with errors (ja)")
        .await;

    // Right: the poster, what it carries, and its download.
    let address = "entry@city.otaru.example.jp";
    b.fill("#line", "@otaru_kosodate").await;
    b.fill("#email", address).await;
    b.click("#poster-form button[type=submit]").await;
    b.wait_for("#preview").await;
    let line_url = "https://line.me/R/ti/p/@otaru_kosodate";
    let ways = b.text("#ways").await;
    for shown in [line_url, form_url.as_str(), address] {
        assert!(ways.contains(shown), "{shown} in {ways}");
    }
    b.assert_accessible("the poster page with its poster (ja)")
        .await;
    b.desktop(true).await;
    b.screenshot_as_doc("console-poster").await;
    b.desktop(false).await;
    let href = b.attr("#download", "href").await.expect("a download link");

    // The poster itself, as printed: three codes that a phone reads as
    // the three ways in.
    b.desktop(true).await;
    b.client.goto(&href).await.expect("the poster opens");
    b.wait_for("svg").await;
    let shot = b.screenshot_as_doc("registration-poster").await;
    b.desktop(false).await;
    let codes = scan(&shot);
    let expected: BTreeSet<String> = [
        line_url.to_string(),
        form_url.clone(),
        format!("mailto:{address}"),
    ]
    .into();
    assert_eq!(codes, expected, "the poster's codes");

    // The form's code opens the parents' form.
    b.open(&form_url).await;
    b.wait_for_heading(tayori_parents::text::texts(tayori_core::Locale::Ja).form_title)
        .await;

    // In English too.
    b.open(&host.server.url(&format!("/t/{TENANT}/poster?lang=en")))
        .await;
    b.wait_for_heading(en().po_title).await;
    b.assert_accessible("the poster page (en)").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_the_poster_needs_the_permission_and_stays_in_its_tenant() {
    let host = Host::start().await;
    host.call(
        Method::POST,
        "/v1/tenants",
        Some(json!({"id": "minato", "name": "港区"})),
    )
    .await;
    let op = first_operator(&host).await;
    let poster = format!("/t/{TENANT}/poster.svg?line=%40otaru&email=");

    // No email channel: no form on the poster, only what was given.
    let svg = op.get(&poster).await;
    assert_eq!(svg.status, StatusCode::OK, "{}", svg.body);
    assert!(
        svg.body.starts_with("<?xml"),
        "{}",
        &svg.body[..80.min(svg.body.len())]
    );
    assert!(svg.body.contains("https://line.me/R/ti/p/@otaru"));
    assert!(
        !svg.body.contains("/r/otaru"),
        "no form without an email channel"
    );
    let page = op.get(&format!("/t/{TENANT}/poster")).await;
    assert!(page.body.contains("id=\"no-form\""));
    assert!(page.body.contains("id=\"nothing\""), "nothing to print yet");

    // A wrong field is a 422 page naming it, not a poster.
    let wrong = op.get(&format!("/t/{TENANT}/poster.svg?line=otaru")).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains(ja().po_line_error));

    // Staff who may see the dashboard but not edit local content: 403.
    let invitation = invite_with(&host, &op, TENANT, "desk@otaru.example.jp", &["dashboard"]).await;
    let desk = accept(&host, &invitation).await;
    for path in [format!("/t/{TENANT}/poster"), poster.clone()] {
        assert_eq!(
            desk.get(&path).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    // Another tenant's staff: the 404 of a missing tenant.
    let invitation = invite_with(
        &host,
        &op,
        "minato",
        "koho@minato.example.jp",
        &["dashboard", "content"],
    )
    .await;
    let other = accept(&host, &invitation).await;
    for path in [format!("/t/{TENANT}/poster"), poster.clone()] {
        let answer = other.get(&path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!answer.body.contains("https://line.me"), "{path}");
    }
    // Signed out: the sign-in page, never the poster.
    let anyone = Agent::new(&host);
    let answer = anyone.get(&poster).await;
    assert!(!answer.body.contains("<svg"), "signed out");
}
