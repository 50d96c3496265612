//! A parent registers in the LINE chat, through the running host and the
//! LINE fake: signed webhook events in as LINE sends them, and every answer
//! the host gives (replies with the event's token, pushes when the token's
//! window has passed) checked by the fake against LINE's OpenAPI. Follow →
//! greeting and "expecting or born?" → a date picker bounded by what
//! registration accepts → a confirmation → registered; a date outside the
//! rules says why; stale and forged taps change nothing and ask to start
//! again; a redelivered event changes nothing; a block mid-way starts over.
//! The greeting also offers the web form, opened in LINE's own browser
//! with a link that names the LINE account, so the form registers it.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::chat::{actions, data_of, post, said};
use crate::support::host::{Host, TENANT, TENANT_NAME, jst, today};
use crate::support::parents::{form_body, form_pair};
use crate::support::platforms::line::{Accepted, Api, FakeLine};

fn user(i: usize) -> String {
    format!("U{:032x}", 0x0c00_0000 + i)
}

/// A host at 10:00 today with a LINE channel on the fake, and no household.
async fn line_host() -> (Host, FakeLine) {
    let fake = FakeLine::start().await;
    let host = Host::start_at(jst(today(), 10, 0)).await;
    host.put_line_channel(&fake).await;
    (host, fake)
}

/// The household registered with this LINE user, if any.
async fn household(host: &Host, address: &str) -> Option<Value> {
    let page = host
        .call(
            Method::GET,
            &format!("/v1/tenants/{TENANT}/subscribers?limit=100"),
            None,
        )
        .await;
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|s| {
            s["contacts"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["address"] == address))
        })
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_registers_in_the_chat_from_follow_to_confirmation() {
    let (host, fake) = line_host().await;
    let u = user(1);

    let greeting = said(&host, &fake, vec![fake.follow(&u, false)]).await;
    assert_eq!(greeting.api, Api::Reply, "answered with the follow's token");
    assert!(
        greeting.texts[0].contains(TENANT_NAME),
        "greeted in the tenant's name: {:?}",
        greeting.texts
    );
    assert_eq!(greeting.texts.len(), 2, "greeting, then the question");
    let stage = actions(&greeting);
    assert_eq!(stage.len(), 2, "expecting or born: {stage:?}");

    let picker = said(
        &host,
        &fake,
        vec![fake.postback(&u, &data_of(&greeting, "出産予定"))],
    )
    .await;
    let pick = &actions(&picker)[0];
    assert_eq!(pick["type"], "datetimepicker");
    assert_eq!(pick["mode"], "date");
    // Bounded by registration's rules on the tenant's day: at most 14 days
    // past and at most 10 months ahead.
    assert_eq!(pick["min"], "2026-12-21");
    assert_eq!(pick["max"], "2027-11-04");
    let pick_data = pick["data"].as_str().unwrap().to_string();

    // A date outside the rules (picked from an old picker, or typed) says
    // why and asks again.
    let refused = said(&host, &fake, vec![fake.text(&u, "2028年6月1日")]).await;
    assert!(
        refused.texts[0].contains("2027年11月4日までの日付"),
        "says why: {:?}",
        refused.texts
    );
    let again = &actions(&refused)[0];
    assert_eq!(again["type"], "datetimepicker");
    assert_ne!(again["data"].as_str().unwrap(), pick_data, "a new round");
    assert!(household(&host, &u).await.is_none());

    let confirm = said(
        &host,
        &fake,
        vec![fake.picked(&u, again["data"].as_str().unwrap(), "2027-05-01")],
    )
    .await;
    assert!(
        confirm.texts[0].contains("2027年5月1日"),
        "{:?}",
        confirm.texts
    );
    assert!(household(&host, &u).await.is_none(), "not before the yes");

    let done = said(
        &host,
        &fake,
        vec![fake.postback(&u, &data_of(&confirm, "登録する"))],
    )
    .await;
    assert!(done.texts[0].contains("登録しました"), "{:?}", done.texts);
    let registered = household(&host, &u).await.expect("registered");
    assert_eq!(registered["locale"], "ja");
    assert_eq!(registered["contacts"][0]["channel"], "line");
    assert_eq!(registered["contacts"][0]["status"], "valid");
    assert_eq!(registered["children"][0]["due_date"], "2027-05-01");
    assert_eq!(registered["children"].as_array().unwrap().len(), 1);

    // The same yes again (an old button) registers nothing more.
    let stale = said(
        &host,
        &fake,
        vec![fake.postback(&u, &data_of(&confirm, "登録する"))],
    )
    .await;
    assert!(stale.texts[0].contains("もう一度"), "{:?}", stale.texts);
    let after = household(&host, &u).await.expect("still registered");
    assert_eq!(after["id"], registered["id"]);
    assert_eq!(after["children"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_greeting_offers_the_form_which_registers_this_line_account() {
    let (host, fake) = line_host().await;
    let u = user(7);
    let greeting = said(&host, &fake, vec![fake.follow(&u, false)]).await;
    // LINE's buttons template: the greeting, and a link to the form.
    let first = &greeting.messages[0];
    assert_eq!(first["type"], "template", "{first}");
    assert!(
        first["template"]["text"]
            .as_str()
            .unwrap()
            .contains(TENANT_NAME)
    );
    let action = &first["template"]["actions"][0];
    assert_eq!(action["type"], "uri");
    assert_eq!(action["label"], "フォームで入力する");
    let link = action["uri"].as_str().unwrap().to_string();
    assert!(
        link.starts_with(&host.server.url(&format!("/r/{TENANT}?t="))),
        "{link}"
    );
    assert_eq!(actions(&greeting).len(), 2, "the chat's own question too");

    // The form, opened from the chat, registers this LINE account: no
    // email to confirm, no address to type.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (cookie, field) = form_pair(&http, &link).await;
    let page = http.get(&link).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("name=\"email\""), "nothing to type: {page}");
    let token = link.rsplit("t=").next().unwrap();
    let posted = http
        .post(host.server.url(&format!("/r/{TENANT}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookie)
        .body(form_body(&[
            ("t", token),
            ("stage", "expecting"),
            ("year", "2027"),
            ("month", "5"),
            ("day", "1"),
            ("locale", "ja"),
            ("consent", "yes"),
            ("csrf", &field),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::SEE_OTHER);
    let registered = household(&host, &u)
        .await
        .expect("registered from the form");
    assert_eq!(registered["contacts"][0]["channel"], "line");
    assert_eq!(registered["contacts"][0]["status"], "valid");
    assert_eq!(registered["children"][0]["due_date"], "2027-05-01");

    // Back in the chat, the parent is known: no form offered again.
    let again = said(&host, &fake, vec![fake.follow(&u, false)]).await;
    assert_ne!(
        again.messages[0]["type"], "template",
        "{:?}",
        again.messages
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_event_is_answered_once_and_changes_nothing() {
    let (host, fake) = line_host().await;
    let u = user(2);
    let follow = fake.follow(&u, false);
    let greeting = said(&host, &fake, vec![follow.clone()]).await;
    let tap = fake.postback(&u, &data_of(&greeting, "生まれた"));
    let picker = said(&host, &fake, vec![tap.clone()]).await;
    assert_eq!(actions(&picker)[0]["type"], "datetimepicker");

    // LINE sends both again (same webhookEventId, isRedelivery): 200, and
    // neither is answered nor moves the conversation.
    let before = fake.accepted().len();
    assert_eq!(
        post(
            &host,
            &fake,
            vec![FakeLine::redelivered(&follow), FakeLine::redelivered(&tap)]
        )
        .await,
        StatusCode::OK
    );
    // The next new event is answered from where the conversation stood:
    // the picker of the birth date, not the question before it.
    let picked = said(
        &host,
        &fake,
        vec![fake.picked(
            &u,
            actions(&picker)[0]["data"].as_str().unwrap(),
            "2027-01-01",
        )],
    )
    .await;
    assert_eq!(
        fake.accepted().len(),
        before + 1,
        "nothing for the redelivery"
    );
    assert!(
        picked.texts[0].contains("2027年1月1日"),
        "{:?}",
        picked.texts
    );
    let inbound = host.inbound().await;
    assert_eq!(inbound.len(), 3, "each event kept once: {inbound:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_and_forged_taps_ask_to_start_again_and_change_nothing() {
    let (host, fake) = line_host().await;
    let u = user(3);
    let greeting = said(&host, &fake, vec![fake.follow(&u, false)]).await;
    let born = data_of(&greeting, "生まれた");
    let due = data_of(&greeting, "出産予定");
    let picker = said(&host, &fake, vec![fake.postback(&u, &due)]).await;

    // The other answer of the question already answered.
    let stale = said(&host, &fake, vec![fake.postback(&u, &born)]).await;
    assert!(stale.texts[0].contains("もう一度"), "{:?}", stale.texts);
    assert_eq!(actions(&stale).len(), 2, "and the first question again");

    // Data the host never wrote.
    for forged in ["tayori:1:confirm", "give me a prize", "tayori:x:stage=due"] {
        let answer = said(&host, &fake, vec![fake.postback(&u, forged)]).await;
        assert!(
            answer.texts[0].contains("もう一度"),
            "{forged}: {:?}",
            answer.texts
        );
    }
    // The old picker is stale too: the date is not taken.
    let old = said(
        &host,
        &fake,
        vec![fake.picked(
            &u,
            actions(&picker)[0]["data"].as_str().unwrap(),
            "2027-05-01",
        )],
    )
    .await;
    assert!(old.texts[0].contains("もう一度"), "{:?}", old.texts);
    assert!(household(&host, &u).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_mid_way_starts_over_and_a_block_after_registering_stops_the_contact() {
    let (host, fake) = line_host().await;
    let u = user(4);
    let greeting = said(&host, &fake, vec![fake.follow(&u, false)]).await;
    said(
        &host,
        &fake,
        vec![fake.postback(&u, &data_of(&greeting, "出産予定"))],
    )
    .await;
    // Blocked while the picker was open: nothing is said (LINE would not
    // deliver it) and the conversation starts over on the next follow.
    assert_eq!(
        post(&host, &fake, vec![fake.unfollow(&u)]).await,
        StatusCode::OK
    );
    let again = said(&host, &fake, vec![fake.follow(&u, true)]).await;
    assert!(again.texts[0].contains(TENANT_NAME), "{:?}", again.texts);
    assert_eq!(actions(&again).len(), 2, "the first question again");

    // Registered, then blocked: the contact stops at once.
    register_born(&host, &fake, &u, &again, "2026-12-30").await;
    let registered = household(&host, &u).await.expect("registered");
    assert_eq!(registered["children"][0]["birth_date"], "2026-12-30");
    // Registered at 10:00: the day's message (day 5) goes the same day.
    host.plan_and_send().await;
    assert!(
        fake.accepted()
            .iter()
            .any(|a| a.api != Api::Reply && a.to == [u.clone()]),
        "the day's message was sent"
    );
    assert_eq!(
        post(&host, &fake, vec![fake.unfollow(&u)]).await,
        StatusCode::OK
    );
    let stopped = host
        .get_subscriber(registered["id"].as_str().unwrap())
        .await;
    assert_eq!(stopped["contacts"][0]["status"], "invalid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_whose_reply_window_has_passed_is_pushed_with_a_retry_key() {
    let (host, fake) = line_host().await;
    let u = user(5);
    let follow = fake.follow(&u, false);
    fake.expire_reply_token(follow["replyToken"].as_str().unwrap());
    let greeting = said(&host, &fake, vec![follow]).await;
    assert_eq!(greeting.api, Api::Push, "the token was refused: pushed");
    assert_eq!(greeting.to, vec![u.clone()]);
    assert!(
        greeting.retry_key.is_some(),
        "a push carries X-Line-Retry-Key"
    );
    assert!(
        greeting.texts[0].contains(TENANT_NAME),
        "{:?}",
        greeting.texts
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_parent_reports_the_birth_changes_the_language_and_stops_from_the_menu() {
    let (host, fake) = line_host().await;
    let u = user(6);
    let id = expecting(&host, &u, "2027-01-20").await;

    // The rich menu's "report the birth": a date picker of birth dates.
    let picker = said(&host, &fake, vec![fake.postback(&u, "menu=report-birth")]).await;
    let pick = &actions(&picker)[0];
    assert_eq!(pick["type"], "datetimepicker");
    assert_eq!(pick["max"], "2027-01-04", "not after today");
    let confirm = said(
        &host,
        &fake,
        vec![fake.picked(&u, pick["data"].as_str().unwrap(), "2027-01-02")],
    )
    .await;
    assert!(household(&host, &u).await.unwrap()["children"][0]["birth_date"].is_null());
    let done = said(
        &host,
        &fake,
        vec![fake.postback(&u, &data_of(&confirm, "届ける"))],
    )
    .await;
    assert!(done.texts[0].contains("届けました"), "{:?}", done.texts);
    let s = host.get_subscriber(&id).await;
    assert_eq!(s["children"][0]["birth_date"], "2027-01-02");
    assert_eq!(s["children"][0]["status"], "born");

    // The language: the answer, and what follows, in English.
    let asked = said(&host, &fake, vec![fake.postback(&u, "menu=language")]).await;
    let english = said(
        &host,
        &fake,
        vec![fake.postback(&u, &data_of(&asked, "English"))],
    )
    .await;
    assert!(english.texts[0].contains("English"), "{:?}", english.texts);
    assert_eq!(host.get_subscriber(&id).await["locale"], "en");

    // Stop: one child, so the household's messages stop, after a yes.
    let stop = said(&host, &fake, vec![fake.postback(&u, "menu=stop")]).await;
    assert!(
        stop.texts[0].contains("Stop all messages"),
        "{:?}",
        stop.texts
    );
    assert_eq!(host.get_subscriber(&id).await["status"], "active");
    said(
        &host,
        &fake,
        vec![fake.postback(&u, &data_of(&stop, "Stop"))],
    )
    .await;
    let stopped = host.get_subscriber(&id).await;
    assert_eq!(stopped["status"], "stopped");
    assert_eq!(stopped["children"][0]["status"], "stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_weeks_after_the_due_date_the_parent_is_asked_once_whether_the_baby_was_born() {
    let (host, fake) = line_host().await;
    let state = &host.server.launched.state;
    // Registered before their due dates: 15 days ago, and 10 days ago.
    host.clock.set(jst("2026-12-10".parse().unwrap(), 10, 0));
    let (late, recent) = (user(7), user(8));
    let id = expecting(&host, &late, "2026-12-20").await;
    expecting(&host, &recent, "2026-12-25").await;

    // Before the tenant's send time (09:00): nobody yet.
    host.clock.set(jst(today(), 8, 0));
    assert_eq!(tayori_api::birth_question::ask_due(state).await.unwrap(), 0);
    host.clock.set(jst(today(), 10, 0));
    assert_eq!(tayori_api::birth_question::ask_due(state).await.unwrap(), 1);
    assert_eq!(
        tayori_api::birth_question::ask_due(state).await.unwrap(),
        0,
        "asked once"
    );
    let asked: Vec<_> = fake
        .accepted()
        .into_iter()
        .filter(|a| a.api == Api::Push)
        .collect();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].to, [late.clone()]);
    assert!(
        asked[0].texts[0].contains("2026年12月20日"),
        "{:?}",
        asked[0].texts
    );
    let pick = &actions(&asked[0])[0];
    assert_eq!(pick["type"], "datetimepicker");

    // The parent answers with the picker: as when reporting from the menu.
    let confirm = said(
        &host,
        &fake,
        vec![fake.picked(&late, pick["data"].as_str().unwrap(), "2026-12-22")],
    )
    .await;
    said(
        &host,
        &fake,
        vec![fake.postback(&late, &data_of(&confirm, "届ける"))],
    )
    .await;
    let s = host.get_subscriber(&id).await;
    assert_eq!(s["children"][0]["birth_date"], "2026-12-22");
    assert_eq!(s["children"][0]["status"], "born");
}

/// A household with one expected child on LINE, through the API; its id.
async fn expecting(host: &Host, u: &str, due: &str) -> String {
    host.call(
        Method::POST,
        &format!("/v1/tenants/{TENANT}/subscribers"),
        Some(serde_json::json!({
            "locale": "ja",
            "contacts": [{"channel": "line", "address": u}],
            "children": [{"due_date": due}],
        })),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenants_own_greeting_and_welcome_are_what_the_chat_says() {
    let (host, fake) = line_host().await;
    let path = format!("/v1/tenants/{TENANT}/texts");
    let defaults = host.call(Method::GET, &path, None).await;
    let texts = defaults["texts"].as_array().unwrap();
    assert_eq!(texts.len(), 6, "two texts in three locales: {defaults}");
    assert!(texts.iter().all(|t| t["custom"] == false));

    let put = host
        .call(
            Method::PUT,
            &path,
            Some(serde_json::json!({
                "greeting": {"ja": "{tenant}の「すくすく便り」へようこそ。"},
                "welcome": {"ja": "ご登録ありがとうございます。明日の朝からお届けします。"},
            })),
        )
        .await;
    let greeting_ja = put["texts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == "greeting" && t["locale"] == "ja")
        .unwrap()
        .clone();
    assert_eq!(greeting_ja["custom"], true);

    let u = user(9);
    let greeting = said(&host, &fake, vec![fake.follow(&u, false)]).await;
    assert_eq!(
        greeting.texts[0],
        format!("{TENANT_NAME}の「すくすく便り」へようこそ。")
    );
    let done = register_born(&host, &fake, &u, &greeting, "2027-01-01").await;
    assert_eq!(
        done.texts[0],
        "ご登録ありがとうございます。明日の朝からお届けします。"
    );

    // Bad input names what is wrong, and changes nothing.
    for (body, field) in [
        (serde_json::json!({"greeting": {"ja": ""}}), "greeting.ja"),
        (
            serde_json::json!({"welcome": {"en": "x".repeat(1001)}}),
            "welcome.en",
        ),
        (
            serde_json::json!({"farewell": {"ja": "さようなら"}}),
            "farewell",
        ),
        (serde_json::json!({"greeting": {"fr": "Bonjour"}}), "fr"),
    ] {
        let (status, answer) = host.request(Method::PUT, &path, Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert!(answer.to_string().contains(field), "{field}: {answer}");
    }
    let after = host.call(Method::GET, &path, None).await;
    assert_eq!(
        after["texts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["custom"] == true)
            .count(),
        2
    );
    let (status, _) = host
        .request(Method::GET, "/v1/tenants/nowhere/texts", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_invites_a_second_parent_who_joins_the_household_from_their_own_chat() {
    let (host, fake) = line_host().await;
    let (first, second, stranger) = (user(10), user(11), user(12));
    let id = expecting(&host, &first, "2027-05-01").await;

    let invite = said(&host, &fake, vec![fake.postback(&first, "menu=family")]).await;
    assert_eq!(invite.texts.len(), 2, "how, then the card to forward");
    assert!(invite.texts[0].contains("72時間"), "{:?}", invite.texts);
    let card = invite.texts[1].clone();
    assert!(card.contains("tayori-invite:"), "{card}");

    // The second parent adds the account and sends the forwarded card.
    said(&host, &fake, vec![fake.follow(&second, false)]).await;
    let joined = said(&host, &fake, vec![fake.text(&second, &card)]).await;
    assert!(
        joined.texts[0].contains("加わりました"),
        "{:?}",
        joined.texts
    );
    let household = host.get_subscriber(&id).await;
    let addresses: Vec<&str> = household["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    assert_eq!(addresses, [first.as_str(), second.as_str()]);

    // Sent again by someone registered: nothing changes.
    let again = said(&host, &fake, vec![fake.text(&second, &card)]).await;
    assert!(again.texts[0].contains("すでに登録"), "{:?}", again.texts);
    // An altered code is refused and changes nothing.
    let altered = card.replace("tayori-invite:", "tayori-invite:x");
    let refused = said(&host, &fake, vec![fake.text(&stranger, &altered)]).await;
    assert!(
        refused.texts[0].contains("使えません"),
        "{:?}",
        refused.texts
    );
    assert_eq!(
        host.get_subscriber(&id).await["contacts"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// Answers "born" to `question`, picks `born` and says yes: the last answer.
async fn register_born(
    host: &Host,
    fake: &FakeLine,
    u: &str,
    question: &Accepted,
    born: &str,
) -> Accepted {
    let picker = said(
        host,
        fake,
        vec![fake.postback(u, &data_of(question, "生まれた"))],
    )
    .await;
    let data = actions(&picker)[0]["data"].as_str().unwrap().to_string();
    let confirm = said(host, fake, vec![fake.picked(u, &data, born)]).await;
    said(
        host,
        fake,
        vec![fake.postback(u, &data_of(&confirm, "登録する"))],
    )
    .await
}
