//! The bundled `line` plugin sets up the account's rich menu when a LINE
//! channel is put, through the real server and sandbox, against the LINE
//! fake (which checks each call against LINE's OpenAPI and rules): the
//! host's default menu becomes a rich menu whose areas tile the picture,
//! its picture (drawn by the plugin, or the municipality's own) is uploaded
//! at the menu's size, it is made the default, and the channel shows its id;
//! a second put replaces it and deletes the old one (and only Tayori's); a
//! refusal by LINE shows on the channel, never with the token, and the put
//! still succeeds.

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::api::{error, send};
use crate::support::host::approved;
use crate::support::platforms::line::{self, FakeLine, LineFault, png_size};
use crate::support::server::TestServer;

const TENANT: &str = "otaru";
const TENANT_NAME: &str = "小樽市";

async fn server() -> TestServer {
    let server = TestServer::start().await;
    let (status, body) = send(
        server
            .op(Method::POST, "/v1/tenants")
            .json(&json!({ "id": TENANT, "name": TENANT_NAME })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    server
}

fn channel(fake: &FakeLine, extra: Value) -> Value {
    let mut config = json!({
        "channel_access_token": line::ACCESS_TOKEN,
        "channel_secret": line::CHANNEL_SECRET,
        "api_base": fake.api_base(),
    });
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({ "plugin": "line", "config": config, "allowed_hosts": approved(fake.addr) })
}

async fn put(server: &TestServer, body: &Value) -> (StatusCode, Value) {
    send(
        server
            .op(Method::PUT, &format!("/v1/tenants/{TENANT}/channels/line"))
            .json(body),
    )
    .await
}

async fn get(server: &TestServer) -> Value {
    let (status, view) =
        send(server.op(Method::GET, &format!("/v1/tenants/{TENANT}/channels/line"))).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    view
}

/// Every pixel of a `width` × `height` picture is in exactly one area.
fn assert_areas_tile(areas: &[Value], (width, height): (u64, u64)) {
    let mut covered = vec![0u8; (width * height) as usize];
    for area in areas {
        let b = &area["bounds"];
        let [x, y, w, h] = ["x", "y", "width", "height"].map(|k| b[k].as_u64().unwrap());
        assert!(
            x + w <= width && y + h <= height,
            "{b} outside {width}x{height}"
        );
        for row in y..y + h {
            for cell in &mut covered[(row * width + x) as usize..(row * width + x + w) as usize] {
                *cell += 1;
            }
        }
    }
    assert!(
        covered.iter().all(|&n| n == 1),
        "the areas do not tile the picture"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_line_channel_gets_the_parents_menu_as_its_default_rich_menu() {
    let fake = FakeLine::start().await;
    let server = server().await;
    let designers = fake.add_rich_menu("春のキャンペーン");

    let (status, view) = put(&server, &channel(&fake, json!({}))).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    let setup = &view["setup"];
    assert_eq!(setup["ok"], true, "{view:#}");
    let id = setup["details"]["rich-menu-id"]
        .as_str()
        .expect("an id")
        .to_owned();
    assert_eq!(
        setup["summary"],
        format!("rich menu {id} set as default (5 buttons)")
    );
    assert_eq!(setup["details"]["rich-menu-size"], "2500x1686");
    assert_eq!(setup["details"]["rich-menu-image"], "generated");

    // Made, with the host's menu in Japanese, as LINE asks.
    let menus = fake.rich_menus();
    assert_eq!(menus.len(), 2, "the designer's and Tayori's");
    let menu = menus.iter().find(|m| m.id == id).expect("the new menu");
    let r = &menu.request;
    assert_eq!(r["size"], json!({ "width": 2500, "height": 1686 }));
    assert_eq!(r["selected"], true);
    assert_eq!(menu.name(), "tayori:otaru/line 小樽市");
    assert_eq!(r["chatBarText"], "メニュー");
    let areas = r["areas"].as_array().unwrap();
    let actions: Vec<(&str, &str, &str, &str)> = areas
        .iter()
        .map(|a| {
            let action = &a["action"];
            (
                action["type"].as_str().unwrap(),
                action["label"].as_str().unwrap(),
                action["data"].as_str().unwrap(),
                action["displayText"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            (
                "postback",
                "出産を届ける",
                "menu=report-birth",
                "出産を届ける"
            ),
            ("postback", "子どもを追加", "menu=add-child", "子どもを追加"),
            ("postback", "家族を招待", "menu=family", "家族を招待"),
            ("postback", "言語", "menu=language", "言語"),
            ("postback", "配信を止める", "menu=stop", "配信を止める"),
        ]
    );
    assert_areas_tile(areas, menu.size());

    // Its picture: a whole PNG of the menu's size, within LINE's 1 MB.
    let (content_type, image) = menu.image.clone().expect("a picture");
    assert_eq!(content_type, "image/png");
    assert_eq!(png_size(&image), Ok((2500, 1686)));
    assert!(image.len() <= 1 << 20, "{} bytes", image.len());
    assert_eq!(fake.default_rich_menu().as_deref(), Some(id.as_str()));
    // In LINE's order: made, picture, default, then the old ones looked up;
    // nothing deleted (the designer's menu is not Tayori's).
    let calls: Vec<(String, String, u16)> = fake
        .rich_menu_calls()
        .iter()
        .map(|c| (c.method.to_string(), c.path.clone(), c.status))
        .collect();
    assert_eq!(
        calls,
        [
            ("POST".into(), "/v2/bot/richmenu".into(), 200),
            ("POST".into(), format!("/v2/bot/richmenu/{id}/content"), 200),
            (
                "POST".into(),
                format!("/v2/bot/user/all/richmenu/{id}"),
                200
            ),
            ("GET".into(), "/v2/bot/richmenu/list".into(), 200),
        ]
    );
    assert!(fake.attempts().is_empty(), "no message was sent");
    assert_eq!(get(&server).await["setup"], view["setup"]);

    // Put again: a new menu replaces it, and the old one is deleted.
    let (status, again) = put(&server, &channel(&fake, json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let second = again["setup"]["details"]["rich-menu-id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(second, id);
    assert_eq!(
        again["setup"]["summary"],
        format!(
            "rich menu {second} set as default (5 buttons); the previous Tayori menu was deleted"
        )
    );
    assert_eq!(fake.default_rich_menu().as_deref(), Some(second.as_str()));
    assert_eq!(fake.deleted_rich_menus(), [id]);
    let left: Vec<String> = fake.rich_menus().into_iter().map(|m| m.id).collect();
    assert_eq!(left, [designers, second.clone()]);
    let shown = get(&server).await;
    assert_eq!(shown["setup"]["details"]["rich-menu-id"], second.as_str());
    assert!(!shown.to_string().contains(line::ACCESS_TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_refusing_the_menu_shows_on_the_channel_and_the_put_still_succeeds() {
    let fake = FakeLine::start().await;
    let server = server().await;

    // LINE refuses the menu: its message and details, the channel stored.
    fake.fail_rich_menu_next(
        1,
        LineFault::Invalid {
            property: "areas[0].action.data".into(),
            message: "Length must be between 0 and 300".into(),
        },
    );
    let (status, view) = put(&server, &channel(&fake, json!({}))).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert_eq!(view["setup"]["ok"], false);
    assert_eq!(
        view["setup"]["summary"],
        "LINE refused to create the rich menu (400): The request body has 1 error(s); \
         areas[0].action.data: Length must be between 0 and 300"
    );
    assert_eq!(get(&server).await["setup"], view["setup"]);
    assert!(fake.rich_menus().is_empty());

    // A token LINE does not know: said so, without the token.
    let wrong = "wrong-token-3c1f9d7e5b2a4c6e8f0a1b2c3d4e5f60";
    let (status, view) = put(
        &server,
        &channel(&fake, json!({ "channel_access_token": wrong })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["setup"]["ok"], false);
    let summary = view["setup"]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("LINE refused to create the rich menu (401): Authentication failed."),
        "{summary}"
    );
    assert!(
        summary.ends_with("(check the channel access token)"),
        "{summary}"
    );
    assert!(!get(&server).await.to_string().contains(wrong));

    // Made, but its picture cannot go up (LINE's upload host is not
    // approved for the channel): the half-made menu is deleted again and
    // the account keeps its default.
    let (_, ok) = put(&server, &channel(&fake, json!({}))).await;
    assert_eq!(ok["setup"]["ok"], true, "{ok}");
    let kept = fake.default_rich_menu().expect("a default");
    let elsewhere = FakeLine::start().await;
    let (status, view) = put(
        &server,
        &channel(&fake, json!({ "api_data_base": elsewhere.api_base() })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["setup"]["ok"], false);
    let summary = view["setup"]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("could not upload the rich menu's picture: request denied by the host"),
        "{summary}"
    );
    assert!(
        summary.contains("approve api.line.me and api-data.line.me"),
        "{summary}"
    );
    let unfinished = fake.rich_menu_calls()[fake.rich_menu_calls().len() - 2].clone();
    assert_eq!(unfinished.path, "/v2/bot/richmenu");
    let made: Value = serde_json::from_slice(&unfinished.body).unwrap();
    assert_eq!(made["name"], "tayori:otaru/line 小樽市");
    let last = fake.rich_menu_calls().last().unwrap().clone();
    assert_eq!(last.method, axum::http::Method::DELETE);
    assert!(elsewhere.rich_menu_calls().is_empty());
    assert_eq!(fake.default_rich_menu(), Some(kept.clone()));
    let left: Vec<String> = fake.rich_menus().into_iter().map(|m| m.id).collect();
    assert_eq!(left, [kept]);
}

/// A whole PNG of `width` × `height` in 1-bit grey, its pixel data stored
/// uncompressed (deflate's stored blocks): what a designer's tool would
/// make, within 1 MB for LINE's sizes.
fn designed_png(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend(kind);
        out.extend(data);
        let crc = crc32(&out[start..]);
        out.extend(crc.to_be_bytes());
    }
    fn crc32(bytes: &[u8]) -> u32 {
        !bytes.iter().fold(!0u32, |mut c, &b| {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            c
        })
    }
    let row = width.div_ceil(8) as usize;
    let mut raw = Vec::with_capacity((row + 1) * height as usize);
    for y in 0..height as usize {
        raw.push(0); // filter: none
        raw.extend((0..row).map(|x| {
            if (x / 40 + y / 320) % 2 == 0 {
                0xFF
            } else {
                0x00
            }
        }));
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        zlib.extend(len.to_le_bytes());
        zlib.extend((!len).to_le_bytes());
        zlib.extend(*block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend(((b << 16) | a).to_be_bytes());
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([1, 0, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &zlib);
    chunk(&mut png, b"IEND", &[]);
    png
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_municipalitys_own_picture_is_uploaded_instead_and_checked_first() {
    let fake = FakeLine::start().await;
    let server = server().await;
    let own = designed_png(2500, 843);
    assert_eq!(png_size(&own), Ok((2500, 843)));
    let encoded = base64::engine::general_purpose::STANDARD.encode(&own);

    let (status, view) = put(
        &server,
        &channel(&fake, json!({ "rich_menu_image": encoded })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert_eq!(view["setup"]["ok"], true, "{}", view["setup"]);
    assert_eq!(view["setup"]["details"]["rich-menu-image"], "configured");
    assert_eq!(view["setup"]["details"]["rich-menu-size"], "2500x843");
    let menu = fake.rich_menus().pop().expect("a menu");
    assert_eq!(menu.image, Some(("image/png".to_owned(), own)));
    assert_eq!(menu.size(), (2500, 843));
    assert_areas_tile(menu.request["areas"].as_array().unwrap(), (2500, 843));

    // A picture LINE would refuse is refused at the put, naming the field,
    // and nothing reaches LINE.
    let calls = fake.rich_menu_calls().len();
    let square = base64::engine::general_purpose::STANDARD.encode(designed_png(1686, 1686));
    for (picture, says) in [
        (square, "is 1686x1686 pixels"),
        (
            base64::engine::general_purpose::STANDARD.encode(b"GIF89a"),
            "must be a PNG or JPEG picture",
        ),
    ] {
        let (status, answer) = put(
            &server,
            &channel(&fake, json!({ "rich_menu_image": picture })),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        let (_, message) = error(&answer);
        assert!(
            message.starts_with(&format!("config/rich_menu_image: {says}")),
            "{message}"
        );
    }
    assert_eq!(fake.rich_menu_calls().len(), calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_menu_in_each_locale_is_drawn_within_the_sandboxs_default_limits() {
    let fake = FakeLine::start().await;
    let (rt, plugin) = crate::support::platforms::bundled("line").await;
    let limit = tayori_runtime::RuntimeConfig::default().memory_limit;
    let config = channel(&fake, json!({}))["config"].to_string();
    for locale in ["ja", "ja-easy", "en"] {
        let setup = tayori_core::ChannelSetup {
            tenant_name: TENANT_NAME.into(),
            locale: locale.into(),
            webhook_url: format!("https://tayori.example.jp/hooks/{TENANT}/line"),
            form_url: format!("https://tayori.example.jp/r/{TENANT}"),
            menu: tayori_core::default_menu(locale),
        };
        let called = rt
            .setup_channel(
                &plugin,
                &crate::support::platforms::ctx("line"),
                &config,
                &setup,
            )
            .await
            .expect("the line plugin sets up channels");
        let report = called
            .result
            .expect("the call completes")
            .unwrap_or_else(|f| panic!("{locale}: {f:?}"));
        // Every label drawn as text (none fell back to its number).
        assert!(
            report.summary.ends_with("set as default (5 buttons)")
                || report
                    .summary
                    .ends_with("the previous Tayori menu was deleted"),
            "{locale}: {}",
            report.summary
        );
        assert!(
            called.report.peak_memory <= limit / 2,
            "{locale}: {} bytes of {limit}",
            called.report.peak_memory
        );
        eprintln!(
            "{locale}: set up in {:?}, peak memory {} bytes",
            called.report.wall, called.report.peak_memory
        );
        let menu = fake.rich_menus().pop().expect("a menu");
        let chat_bar = if locale == "en" {
            "Menu"
        } else {
            "メニュー"
        };
        assert_eq!(menu.request["chatBarText"], chat_bar, "{locale}");
        let (_, image) = menu.image.expect("a picture");
        assert_eq!(png_size(&image), Ok((2500, 1686)), "{locale}");
    }
    assert_eq!(fake.rich_menus().len(), 1, "each replaced the one before");
}

/// The fake refuses what LINE refuses, with LINE's error body: a check
/// that the tests above could fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_refuses_rich_menus_line_would_refuse() {
    let fake = FakeLine::start().await;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", fake.api_base());
    let post = |path: &str, body: Value| {
        http.post(url(path))
            .bearer_auth(line::ACCESS_TOKEN)
            .json(&body)
    };
    let good = json!({
        "size": { "width": 2500, "height": 843 },
        "selected": true,
        "name": "tayori:otaru/line",
        "chatBarText": "メニュー",
        "areas": [{
            "bounds": { "x": 0, "y": 0, "width": 2500, "height": 843 },
            "action": { "type": "postback", "label": "言語", "data": "menu=language", "displayText": "言語" }
        }]
    });
    let with = |pointer: &str, value: Value| {
        let mut body = good.clone();
        *body.pointer_mut(pointer).unwrap() = value;
        body
    };
    let mut many = good.clone();
    many["areas"] = json!(vec![good["areas"][0].clone(); 21]);
    for (body, property) in [
        (with("/size/height", json!(2500)), "size"),
        (with("/size/width", json!(3000)), "size.width"),
        (
            with("/chatBarText", json!("メニューを開いてください！！！")),
            "chatBarText",
        ),
        (with("/areas/0/bounds/x", json!(1)), "areas[0].bounds"),
        (
            with(
                "/areas/0/action/label",
                json!("二十文字より長いラベルは読み上げに使えません"),
            ),
            "areas[0].action.label",
        ),
        (
            with("/areas/0/action/data", json!("d".repeat(301))),
            "areas[0].action.data",
        ),
        (
            with("/areas/0/action/type", json!("camera")),
            "areas[0].action.type",
        ),
        (many, "areas"),
    ] {
        let response = post("/v2/bot/richmenu", body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{property}");
        let answer: Value = response.json().await.unwrap();
        let properties: Vec<&str> = answer["details"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|d| d["property"].as_str())
            .collect();
        assert!(properties.contains(&property), "{property}: {answer}");
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .starts_with("The request body has")
        );
    }
    let no_token = http
        .post(url("/v2/bot/richmenu"))
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);

    // The picture: to a menu that exists, of its size, once.
    let upload = |id: &str, content_type: &str, bytes: Vec<u8>| {
        http.post(url(&format!("/v2/bot/richmenu/{id}/content")))
            .bearer_auth(line::ACCESS_TOKEN)
            .header("content-type", content_type.to_owned())
            .body(bytes)
    };
    let status = |r: reqwest::Response| r.status();
    let png = designed_png(2500, 843);
    assert_eq!(
        status(
            upload("richmenu-none", "image/png", png.clone())
                .send()
                .await
                .unwrap()
        ),
        StatusCode::NOT_FOUND
    );
    let made: Value = post("/v2/bot/richmenu", good.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = made["richMenuId"].as_str().unwrap();
    let default = format!("/v2/bot/user/all/richmenu/{id}");
    let early = http
        .post(url(&default))
        .bearer_auth(line::ACCESS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        early.status(),
        StatusCode::BAD_REQUEST,
        "no default without a picture"
    );
    let mut damaged = png.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0xFF;
    for (content_type, bytes, expected) in [
        ("image/gif", png.clone(), StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (
            "image/png",
            designed_png(2500, 1686),
            StatusCode::BAD_REQUEST,
        ),
        ("image/png", damaged, StatusCode::BAD_REQUEST),
        ("image/jpeg", png.clone(), StatusCode::BAD_REQUEST),
        (
            "image/png",
            vec![0; (1 << 20) + 1],
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ] {
        let response = upload(id, content_type, bytes).send().await.unwrap();
        assert_eq!(response.status(), expected, "{content_type}");
        let answer: Value = response.json().await.unwrap();
        assert!(answer["message"].is_string(), "{answer}");
    }
    assert_eq!(
        status(upload(id, "image/png", png.clone()).send().await.unwrap()),
        StatusCode::OK
    );
    assert_eq!(
        status(upload(id, "image/png", png).send().await.unwrap()),
        StatusCode::BAD_REQUEST
    );
    let set = http
        .post(url(&default))
        .bearer_auth(line::ACCESS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    assert_eq!(fake.default_rich_menu().as_deref(), Some(id));
}
