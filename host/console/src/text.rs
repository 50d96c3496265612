//! Everything the console says, in Japanese first and in English: plain
//! words, as GOV.UK Notify writes them.

use serde::Serialize;

/// The console's languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Self::Ja => "ja",
            Self::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ja" => Some(Self::Ja),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Self::Ja => &JA,
            Self::En => &EN,
        }
    }
}

macro_rules! texts {
    ($($field:ident: $ja:expr, $en:expr;)*) => {
        /// The console's words in one language.
        #[derive(Debug, Serialize)]
        pub struct Texts {
            $(pub $field: &'static str,)*
        }
        static JA: Texts = Texts { $($field: $ja,)* };
        static EN: Texts = Texts { $($field: $en,)* };
    };
}

texts! {
    html_lang: "ja", "en";
    service: "Tayori 管理画面", "Tayori console";
    skip: "本文へ移動", "Skip to main content";
    language_nav: "表示する言語", "Language";
    main_nav: "メニュー", "Menu";
    signed_in_as: "サインイン中", "Signed in as";
    sign_out: "サインアウト", "Sign out";
    nav_dashboard: "利用状況", "Dashboard";
    nav_team: "チーム", "Team";
    nav_audit: "操作記録", "Audit log";
    nav_operator: "すべての自治体", "All municipalities";
    nav_content: "地域の情報", "Local content";
    action_content_insert_saved: "追記を保存", "Insert saved";
    action_content_insert_deleted: "追記を削除", "Insert deleted";
    action_content_message_saved: "自治体のお知らせを保存", "Own message saved";
    action_content_message_deleted: "自治体のお知らせを削除", "Own message deleted";
    content_title: "地域の情報", "Local content";
    content_intro: "お知らせの本文の後に、地域の案内（健診の会場や窓口など）を書き足せます。お知らせごと、または段階ごとに書けます。自治体だけのお知らせも追加できます。", "Add your own local information (such as where check-ups are held) after a message's text, for one message or for every message of a stage. You can also add messages of your own.";
    content_saved: "保存しました。次の配信から使われます。", "Saved. It is used from the next delivery.";
    content_deleted: "削除しました。", "Deleted.";
    content_stages: "段階ごとの追記", "Inserts for a stage";
    content_messages: "お知らせ", "Messages";
    content_own: "自治体のお知らせ", "Your own messages";
    content_own_none: "まだありません。", "None yet.";
    content_stage: "段階", "Stage";
    content_count: "お知らせの数", "Messages";
    content_insert: "追記", "Insert";
    content_id: "ID", "ID";
    content_rule: "送る日", "When it is sent";
    content_subject: "件名", "Subject";
    content_yes: "あり", "Yes";
    content_no: "なし", "No";
    content_edit: "編集", "Edit";
    content_edit_for: "編集: {key}", "Edit: {key}";
    content_back: "地域の情報に戻る", "Back to local content";
    content_variables: "使える差し込み項目", "Variables you can use";
    insert_message_title: "お知らせへの追記", "Insert for a message";
    insert_stage_title: "段階への追記", "Insert for a stage";
    insert_for_message: "お知らせ: {key}", "Message: {key}";
    insert_for_stage: "段階: {key}（この段階のすべてのお知らせに付きます）", "Stage: {key} (added to every message of the stage)";
    insert_text_ja: "追記する文（日本語）", "Text to add (Japanese)";
    insert_text_en: "追記する文（英語、任意）", "Text to add (English, optional)";
    insert_hint: "お知らせの本文の後に付きます。英語がないときは、英語の世帯にも日本語の文が付きます。", "It is added after the message's text. Without an English text, English households get the Japanese one.";
    preview_button: "プレビュー", "Preview";
    save_button: "保存する", "Save";
    delete_link: "削除する", "Delete";
    preview_title: "プレビュー", "Preview";
    preview_intro: "保護者に届く文です。配信と同じ仕組みで作っています。", "This is exactly what a parent reads. It is made by the same renderer that sends messages.";
    preview_of: "プレビューするお知らせ: {id}", "Message previewed: {id}";
    preview_expecting: "妊娠中の世帯の例（出産予定日 {date}）", "An example expecting household (due {date})";
    preview_born: "子どもが生まれた世帯の例（誕生日 {date}）", "An example household with a child born on {date}";
    preview_sent_on: "送る日: {date}", "Sent on {date}";
    preview_channel: "チャネル: {name}（{plugin}）", "Channel: {name} ({plugin})";
    preview_no_channels: "チャネルがまだありません。チャネルを追加すると、ここに表示されます。", "There are no channels yet. When you add one, it shows here.";
    preview_subject_note: "件名のないチャネル（LINE など）では、件名が最初の段落になります。", "Channels without a subject line, such as LINE, show the subject as the first paragraph.";
    preview_no_subject: "（件名なし）", "(no subject)";
    preview_stop_link: "この後に、配信を止めるリンクが付きます。", "A link to stop the messages follows.";
    preview_failed: "この文は表示できません", "This text cannot be shown";
    delete_title: "削除してよいですか", "Are you sure you want to delete this?";
    delete_insert: "追記（{key}）を削除します。元に戻せません。", "This deletes the insert for {key}. You cannot undo this.";
    delete_message: "お知らせ（{id}）を削除します。元に戻せません。", "This deletes the message {id}. You cannot undo this.";
    delete_button: "削除する", "Delete";
    cancel_link: "やめる", "Cancel";
    own_new_link: "お知らせを追加する", "Add a message";
    own_new_title: "自治体のお知らせを追加", "Add a message of your own";
    own_edit_title: "自治体のお知らせを編集", "Edit your own message";
    own_id_hint: "英小文字、数字、-、_、. で 128 文字まで。", "Lower-case letters, digits, -, _ and ., up to 128 characters.";
    own_id_taken: "この ID のお知らせはもうあります", "You already have a message with this ID";
    own_stage_hint: "任意です。段階への追記が、このお知らせにも付きます。", "Optional. The stage's insert is added to this message too.";
    rule_legend: "送る日", "When to send it";
    rule_hint: "種類を選び、数を入れてください。", "Choose a kind and enter a number.";
    rule_pregnancy_day: "妊娠の日数（妊娠4週0日が 28）", "Day of pregnancy (week 4 day 0 is 28)";
    rule_child_day: "生まれてからの日数", "Days after birth";
    rule_child_month: "生まれてからの月数", "Months after birth";
    rule_child_year: "生まれてからの年数", "Years after birth";
    rule_school_entry: "小学校入学（4月1日）からの日数（前はマイナス）", "Days from starting primary school on 1 April (minus for before)";
    rule_number: "数", "Number";
    text_ja_legend: "日本語", "Japanese";
    text_en_legend: "英語（任意）", "English (optional)";
    body_label: "本文", "Text";
    error_summary: "問題があります", "There is a problem";

    sign_in_title: "サインイン", "Sign in";
    sign_in_intro: "自治体の担当者と運営者のための画面です。", "For municipal staff and the operator of the service.";
    email: "メールアドレス", "Email address";
    password: "パスワード", "Password";
    sign_in_button: "サインイン", "Sign in";
    sign_in_hint: "5回続けて間違えると、15分間サインインできなくなります。", "After 5 wrong tries in a row, you cannot sign in for 15 minutes.";
    sign_in_failed: "メールアドレスかパスワードが違うか、このアカウントのサインインが一時的に止められています。5回続けて間違えると、15分間サインインできなくなります。", "The email address or password is wrong, or signing in to this account is paused. After 5 wrong tries in a row, you cannot sign in for 15 minutes.";
    sign_in_no_account: "アカウントがない場合は、チームを管理する人に招待を頼んでください。", "If you do not have an account, ask a person who manages your team to invite you.";

    dashboard_title: "利用状況", "Dashboard";
    month: "月", "Month";
    show: "表示する", "Show";
    counted_on: "{date} 時点の数です。", "Counted on {date}.";
    active_users: "利用中の世帯", "Active households";
    active_hint: "配信期間内の子どもがいて、配信を止めていない世帯の数（月間アクティブユーザー）です。", "Households not stopped with a child inside its delivery window (monthly active users).";
    by_stage: "時期別", "By stage";
    by_channel: "配信方法別", "By channel";
    stage: "時期", "Stage";
    channel: "配信方法", "Channel";
    households: "世帯", "Households";
    stage_pregnancy: "妊娠中", "Pregnancy";
    stage_0_1: "0〜1歳", "Age 0 to 1";
    stage_1_2: "1〜2歳", "Age 1 to 2";
    stage_2_3: "2〜3歳", "Age 2 to 3";
    stage_later: "3歳以上", "Age 3 and over";
    stage_chart: "時期別の利用中の世帯（グラフ）", "Active households by stage (chart)";
    stage_note: "子どもが2つの時期にいる世帯は、両方に数えます。", "A household with children in two stages counts in both.";
    no_channels: "利用中の世帯はまだありません。", "No active households yet.";
    this_month: "この月の動き", "This month";
    figure: "項目", "Figure";
    number: "数", "Number";
    registrations: "保護者による新しい登録", "Registrations by parents";
    households_created: "作成された世帯（一括取り込みを含む）", "Households created (imports included)";
    confirmations: "確認されたメールアドレス", "Email addresses confirmed";
    stops: "配信停止", "Stops";
    blocks: "ブロック", "Blocks";
    deliveries: "配信", "Deliveries";
    status: "状態", "Status";
    no_deliveries: "この月の配信はありません。", "No deliveries in this month.";
    same_as_api: "数は報告API（/v1/tenants/{tenant}/reports/monthly）と同じです。", "The numbers are those of the reports API (/v1/tenants/{tenant}/reports/monthly).";
    db_registrations_title: "月ごとの登録と出生数", "Registrations by month against births";
    db_registrations_chart: "月ごとの保護者による登録（グラフ）。点線は出生数の月平均です。", "Registrations by parents per month (chart). The dashed line is the births per month.";
    db_births_per_month: "出生数の月平均 {n}人", "Births per month: {n}";
    db_registrations_table: "月ごとの登録の表", "Registrations by month as a table";
    db_rate: "この12か月に保護者が登録した世帯は{registrations}世帯で、年間出生数{births}人の{rate}%です。", "Parents registered {registrations} households in these 12 months: {rate} % of the {births} children born a year.";
    db_rate_aim: "多くの自治体は、出生数の約20%の登録を目指しています。", "Municipalities aim at registrations of about 20 % of births.";
    db_rate_unset: "年間出生数が設定されていないため、登録の割合は出せません。", "The yearly births are not set, so the share of births registered cannot be shown.";
    db_by_day_title: "日ごとの配信", "Deliveries by day";
    db_by_day_chart: "日ごとの配信の数：送信済み、失敗、その他（グラフ）", "Deliveries per day: sent, failed and other (chart)";
    db_by_day_hint: "「失敗」は送れなかった配信、「その他」は送信待ち・期限切れ・取り消しなどです。日はこの自治体の時間帯で数えます。", "“Failed” are deliveries that could not be sent; “other” are those waiting, expired or cancelled. Days are the municipality's own.";
    db_by_day_table: "日ごとの配信の表を見る", "See the deliveries by day as a table";
    db_sent: "送信済み", "Sent";
    db_failed: "失敗", "Failed";
    db_other: "その他", "Other";
    db_day: "日", "Day";
    db_failures_title: "送れなかった配信とその理由", "Failures and their reasons";
    db_reason: "理由", "Reason";
    db_no_failures: "この月に送れなかった配信はありません。", "No deliveries failed in this month.";
    db_failures_hint: "配信先のサービスからの詳しい説明は、問い合わせ対応の配信の記録で見られます。", "The platform's own words for each failure are in a household's delivery history on the support desk.";
    fail_refused: "配信先のサービスが受け付けなかった", "The platform refused it";
    fail_recipient_gone: "受け取る人がいなくなった（ブロック、退会、宛先がない）", "The recipient is gone (blocked the account, left, or no such address)";
    fail_gave_up: "何度送っても失敗したため、送るのをやめた", "It kept failing, so sending stopped after the last try";
    fail_not_made: "お知らせを作れなかった（お知らせが見つからない）", "The message could not be made (it was not found)";
    db_settings_title: "自治体の設定", "Municipality settings";
    db_births_label: "年間出生数（人）", "Yearly births";
    db_births_hint: "この自治体で1年間に生まれる子どもの数です。登録の割合に使います。1から1,000,000まで。空にすると消えます。", "How many children are born in the municipality a year; the share of births registered is counted from it. 1 to 1,000,000. Leave it empty to remove it.";
    db_births_now: "年間出生数：{n}人", "Yearly births: {n}";
    db_births_none: "年間出生数：設定されていません", "Yearly births: not set";
    db_save: "保存する", "Save";
    db_settings_saved: "自治体の設定を保存しました。", "Municipality settings saved.";
    db_births_invalid: "年間出生数は、1から1,000,000までの数で入力してください。", "Enter the yearly births as a whole number from 1 to 1,000,000.";
    action_tenant_settings_saved: "自治体の設定を保存", "Municipality settings saved";

    operator_title: "すべての自治体", "All municipalities";
    tenant: "自治体", "Municipality";
    tenant_id: "ID", "ID";
    active_now: "今月の利用中の世帯", "Active households this month";
    op_intro: "各自治体の今月（その自治体の時間帯での月）の数字です。見出しを選ぶと、その列で並べ替えます。", "This month's figures of each municipality (the month in its own time zone). Choose a column heading to sort by it.";
    op_totals_title: "全国の合計", "Totals for the whole country";
    op_tenants_count: "自治体の数", "Municipalities";
    op_active: "利用中の世帯", "Active households";
    op_registrations: "保護者による登録", "Registrations";
    op_stops: "配信停止", "Stops";
    op_blocks: "ブロック", "Blocks";
    op_sent: "送信済みの配信", "Deliveries sent";
    op_failed: "失敗した配信", "Failed deliveries";
    op_channels: "稼働中のチャネル", "Active channels";
    op_table_caption: "自治体ごとの今月の数字（{sorted}）", "This month's figures by municipality ({sorted})";
    op_sorted_asc: "{column}の昇順", "{column}, ascending";
    op_sorted_desc: "{column}の降順", "{column}, descending";
    no_tenants: "自治体はまだありません。API か CLI で作成します。", "There are no municipalities yet. Create one with the API or the CLI.";
    previous: "前のページ", "Previous page";
    next: "次のページ", "Next page";
    page_of: "{page} / {pages} ページ", "Page {page} of {pages}";
    pages_nav: "ページ", "Pages";

    team_title: "チーム", "Team";
    members: "メンバー", "Members";
    name: "名前", "Name";
    permissions: "権限", "Permissions";
    perm_dashboard: "利用状況を見る", "See the dashboard";
    perm_broadcasts: "お知らせを送る", "Send broadcasts";
    perm_content: "地域の情報を編集する", "Edit local content";
    perm_channels: "配信方法と設定を管理する", "Manage channels and settings";
    perm_team: "チームを管理する", "Manage the team";
    no_members: "メンバーはまだいません。", "No team members yet.";
    pending: "返事待ちの招待", "Invitations waiting";
    expires: "有効期限", "Expires";
    invite_title: "メンバーを招待する", "Invite a team member";
    invite_hint: "招待リンクは72時間有効で、1回だけ使えます。", "The link works once, for 72 hours.";
    permissions_hint: "この人ができることを選んでください。", "Choose what this person can do.";
    invite_button: "招待リンクを作る", "Create an invitation link";
    invite_made_title: "招待リンクができました", "Invitation link created";
    invite_made_body: "このリンクをコピーして {email} に送ってください。このページを離れると、もう表示されません。", "Copy this link and send it to {email}. It is not shown again once you leave this page.";
    invite_link: "招待リンク", "Invitation link";
    email_invalid: "メールアドレスを name@example.jp の形で入力してください", "Enter an email address in the correct format, like name@example.jp";
    email_taken: "このメールアドレスにはすでにアカウントがあります", "This email address already has an account";

    accept_title: "アカウントを作る", "Create your account";
    accept_staff: "{tenant}のチームに招待されました。", "You have been invited to the {tenant} team.";
    accept_operator: "最初の運営者のアカウントを作ります。このリンクは1回だけ使えます。", "You are creating the first operator account. This link works once.";
    password_hint: "12文字以上。長い文を使うと、覚えやすく安全です。", "At least 12 characters. A long phrase is easy to remember and hard to guess.";
    password_confirm: "パスワード（確認）", "Confirm password";
    create_button: "アカウントを作ってサインイン", "Create account and sign in";
    name_missing: "名前を入力してください", "Enter your name";
    password_short: "パスワードは12文字以上にしてください", "Password must be 12 characters or more";
    password_long: "パスワードは256文字以下にしてください", "Password must be 256 characters or fewer";
    password_mismatch: "確認のパスワードが一致しません", "The passwords do not match";
    invite_closed_title: "このリンクは使えません", "This link does not work";
    invite_closed_body: "招待リンクは使用済みか、有効期限が切れています。招待した人に新しいリンクを頼んでください。", "The invitation link was already used or has expired. Ask the person who invited you for a new one.";

    audit_title: "操作記録", "Audit log";
    audit_intro: "誰が、いつ、何をしたかの記録です。新しい順に表示します。", "Who did what, and when. Newest first.";
    when: "日時", "When";
    who: "誰が", "Who";
    what: "何をしたか", "What";
    details: "詳細", "Details";
    older: "さらに古い記録", "Older entries";
    no_audit: "記録はまだありません。", "Nothing recorded yet.";
    someone_unknown: "（不明）", "(unknown)";
    action_sign_in: "サインイン", "Signed in";
    action_sign_in_failed: "サインインの失敗", "Failed sign-in";
    action_locked: "サインインの一時停止", "Sign-in paused";
    action_sign_out: "サインアウト", "Signed out";
    action_invitation_made: "招待リンクの作成", "Invitation made";
    action_invitation_used: "招待による登録", "Invitation used";
    action_first_link: "最初のサインインリンクの作成", "First sign-in link made";

    nav_support: "サポート", "Support";
    nav_channels: "配信チャネル", "Channels";
    ch_title: "配信チャネル", "Channels";
    ch_intro: "保護者にメッセージを届ける手段（LINE、メールなど）です。設定の変更、一時停止、テスト送信ができます。", "The platforms your messages reach parents on (LINE, email and others). Change their settings, pause them or send a test.";
    ch_none: "配信チャネルはまだありません。下から追加してください。", "No channels yet. Add one below.";
    ch_name: "チャネル名", "Channel";
    ch_plugin: "配信サービス", "Platform";
    ch_version: "プラグインの版", "Plugin version";
    ch_state: "状態", "Status";
    ch_active: "配信中", "Sending";
    ch_paused_since: "一時停止中（{since}から）", "Paused (since {since})";
    ch_version_pinned: "{v}（固定）", "{v} (pinned)";
    ch_version_active: "{v}（最新の有効な版）", "{v} (the active version)";
    ch_version_none: "読み込まれていません", "Not loaded";
    ch_setup: "プラットフォーム側の設定", "Platform set-up";
    ch_quota_spent: "送信数の上限に達しています。{until}に再開します。", "The sending limit is reached. Sending resumes at {until}.";
    ch_secrets_unreadable: "保存された秘密の値を読めません。設定を開き、値を入力し直してください。", "The stored secrets cannot be read. Open the settings and enter them again.";
    ch_edit_link: "{c}の設定を変更", "Change the settings of {c}";
    ch_pause_title: "一時停止", "Pause";
    ch_pause_reason: "一時停止の理由", "Reason for pausing";
    ch_pause_hint: "チャネルの画面に表示されます。停止中に送る予定だったメッセージは、再開すると送られます。", "Shown beside the channel. Messages due while it is paused are sent when it resumes.";
    ch_pause_button: "一時停止する", "Pause";
    ch_resume_button: "再開する", "Resume";
    ch_resume_hint: "再開すると、停止中にたまったメッセージが送られます。", "When it resumes, the messages held while paused are sent.";
    ch_test_title: "テスト送信", "Send a test";
    ch_test_address: "送信先", "Send to";
    ch_test_hint: "職員の LINE ユーザー ID など、このチャネルの宛先を入力してください。", "A staff address on this channel, such as a LINE user ID.";
    ch_test_hint_email: "職員のメールアドレスを入力してください。", "A staff email address.";
    ch_test_button: "テストを送る", "Send a test";
    ch_test_failed: "テスト送信できませんでした", "The test was not sent";
    ch_test_subject: "【テスト】{tenant}からのテスト送信", "[Test] A test from {tenant}";
    ch_test_body: "これはテスト送信です。{tenant}の職員が、配信チャネル「{channel}」の設定を確かめるために送りました。", "This is a test. Staff of {tenant} sent it to check the settings of the channel “{channel}”.";
    ch_saved: "「{c}」の設定を保存しました。", "The settings of “{c}” are saved.";
    ch_paused_done: "「{c}」を一時停止しました。", "“{c}” is paused.";
    ch_resumed_done: "「{c}」を再開しました。", "“{c}” is sending again.";
    ch_tested_done: "「{c}」からテストを送りました。届いたか確かめてください。", "A test was sent from “{c}”. Check that it arrived.";
    ch_new_title: "チャネル「{c}」を追加", "Add the channel “{c}”";
    ch_edit_title: "チャネル「{c}」の設定", "Settings of the channel “{c}”";
    ch_new_heading: "チャネルを追加する", "Add a channel";
    ch_new_plugin: "配信サービス", "Platform";
    ch_new_name: "チャネル名", "Channel name";
    ch_new_name_hint: "半角の小文字、数字、ハイフン（-）で63文字まで。例: line、email", "Lower-case letters, digits and hyphens (-), at most 63. For example: line, email";
    ch_new_button: "続ける", "Continue";
    ch_choose: "選んでください", "Choose one";
    ch_name_invalid: "チャネル名は半角の小文字、数字、ハイフン（-）で63文字までにしてください", "Use lower-case letters, digits and hyphens (-), at most 63";
    ch_name_taken: "この名前のチャネルはもうあります", "A channel with this name exists already";
    ch_plugin_missing: "配信サービスを選んでください", "Choose a platform";
    ch_plugin_inactive: "この配信サービスには有効な版がありません。運営者に連絡してください", "This platform has no active version. Contact the operator";
    ch_optional: "（任意）", "(optional)";
    ch_default: "未入力のときは「{d}」", "If empty: “{d}”";
    ch_choose_default: "既定のまま", "Leave as default";
    ch_yes: "はい", "Yes";
    ch_no: "いいえ", "No";
    ch_secret_stored: "保存済みです。変えるときだけ入力してください。保存した値は表示しません。", "Saved. Type only to change it. A saved value is never shown.";
    ch_secret_not_stored: "まだ保存されていません。保存した値は表示しません。", "Not saved yet. A saved value is never shown.";
    ch_secret_remove: "保存した値を消す", "Remove the saved value";
    ch_hosts: "送信を許可するホスト", "Hosts the channel may reach";
    ch_hosts_hint: "1行に1つ、host:port の形で。プラグインが示すホスト: {hosts}", "One per line, as host:port. The plugin names: {hosts}";
    ch_hosts_readonly: "送信を許可するホストは運営者が決めます。", "The operator decides which hosts a channel may reach.";
    ch_save: "保存する", "Save";
    ch_back: "配信チャネルの一覧に戻る", "Back to the channels";
    ch_not_a_number: "数字で入力してください", "Enter a number";
    ch_not_a_choice: "一覧から選んでください", "Choose one from the list";
    ch_not_json: "JSON として読めません", "This is not valid JSON";
    ch_required: "{f}を入力してください", "Enter {f}";
    ch_plugin_failed: "配信サービスのプラグインが設定を確かめられませんでした: {why}", "The platform's plugin could not check the settings: {why}";
    ch_reason_missing: "一時停止の理由を入力してください", "Enter a reason for pausing";
    ch_reason_long: "理由は200文字以下で入力してください", "Enter 200 characters or fewer";
    ch_address_missing: "送信先を入力してください", "Enter an address to send to";
    ch_address_invalid: "送信先は空白を含まない320文字以下で入力してください", "Enter an address of 320 characters or fewer, without spaces";
    support_title: "サポート", "Support";
    support_intro: "世帯を、連絡先（LINE のユーザー ID やメールアドレスなど、完全に一致するもの）、世帯の ID、または自治体の ID で探します。", "Find a household by a contact address (exactly as stored, such as a LINE user ID or an email address), by its ID or by your own ID for it.";
    support_query: "連絡先、世帯の ID、または自治体の ID", "Contact address, household ID or your ID";
    support_search: "探す", "Search";
    support_results: "見つかった世帯", "Households found";
    support_none: "「{q}」に一致する世帯は見つかりませんでした。", "No household matches “{q}”.";
    support_query_long: "320文字以下で入力してください", "Enter 320 characters or fewer";
    household: "世帯", "Household";
    household_title: "世帯の詳細", "Household";
    household_id: "世帯の ID", "Household ID";
    external_id: "自治体の ID", "Your ID";
    locale: "言語", "Language";
    registered: "登録日時", "Registered";
    contacts: "連絡先", "Contacts";
    address: "アドレス", "Address";
    children: "子ども", "Children";
    child: "子ども", "Child";
    due_date: "出産予定日", "Due date";
    birth_date: "生年月日", "Birth date";
    stop_reason: "停止の理由", "Reason for stopping";
    history: "配信の記録", "Delivery history";
    support_history_note: "新しい順に、最大{n}件を表示します。", "Newest first, at most {n}.";
    support_more_history: "これより古い配信もあります。すべては API で見られます。", "There are older deliveries; the API lists them all.";
    due_at: "予定日時", "Due";
    sent_at: "送信日時", "Sent";
    message: "メッセージ", "Message";
    support_broadcast: "お知らせ {id}", "Broadcast {id}";
    no_history: "配信の記録はまだありません。", "Nothing delivered yet.";
    schedule: "これからの配信予定", "Coming schedule";
    support_schedule_note: "今日から{days}日間に送る予定のメッセージです。", "What the schedule sends in the next {days} days.";
    no_schedule: "この期間に送る予定のメッセージはありません。", "Nothing to send in these days.";
    late: "遅れて送信", "Late";
    date: "日付", "Date";
    stop_title: "配信を止める", "Stop this household";
    stop_hint: "すべての子どもの配信を止め、送信待ちの配信を取り消します。あとで子どもを追加すると再開します。", "Stops every child and cancels the deliveries waiting to go. Adding a child later starts it again.";
    stop_button: "配信を止める", "Stop deliveries";
    stop_choose: "選んでください", "Choose a reason";
    support_reason_missing: "停止の理由を選んでください", "Choose a reason for stopping";
    erase_title: "世帯の情報を消す", "Erase this household";
    erase_hint: "連絡先、出産予定日と生年月日、停止の理由、外部 ID を消し、まだ届いていない配信を取り消します。件数の集計のために、名前のない記録だけが残ります。元に戻せません。", "Removes the contacts, due and birth dates, stop reasons and external id, and cancels every delivery not yet sent. Only an anonymous record stays, for the counts. This cannot be undone.";
    erase_confirm: "この世帯の情報を消すことを確認しました（元に戻せません）", "I understand this household's details will be erased and cannot be brought back";
    erase_button: "世帯の情報を消す", "Erase the household";
    erase_confirm_missing: "消す前に、確認のチェックを入れてください", "Tick the box to confirm before erasing";
    erased_title: "世帯の情報を消しました", "Household erased";
    erased_body: "この世帯の連絡先と日付を消し、操作記録に残しました。", "This household's contacts and dates are erased, and this is in the audit log.";
    stopped_title: "配信を止めました", "Deliveries stopped";
    stopped_body: "この世帯への配信を止め、操作記録に残しました。", "Deliveries to this household are stopped, and this is in the audit log.";
    back_to_search: "検索に戻る", "Back to the search";
    reason_pregnancy_loss: "流産・死産", "Pregnancy loss";
    reason_child_loss: "子どもの死亡", "Loss of a child";
    reason_unsubscribed: "本人の希望", "Asked to stop";
    reason_moved_away: "転出", "Moved away";
    reason_duplicate: "重複登録", "Duplicate";
    reason_other: "その他", "Other";
    st_active: "配信中", "Active";
    st_stopped: "停止", "Stopped";
    st_erased: "削除済み", "Erased";
    st_valid: "有効", "Valid";
    st_invalid: "無効", "Invalid";
    st_expecting: "妊娠中", "Expecting";
    st_born: "誕生済み", "Born";
    st_pending: "送信待ち", "Pending";
    st_held: "保留", "Held";
    st_in_flight: "送信中", "Sending";
    st_sent: "送信済み", "Sent";
    st_failed: "失敗", "Failed";
    st_expired: "期限切れ", "Expired";
    st_cancelled: "取り消し", "Cancelled";
    st_dead: "送信できず", "Gave up";
    locale_ja: "日本語", "Japanese";
    locale_ja_easy: "やさしい日本語", "Plain Japanese";
    locale_en: "英語", "English";
    action_household_stopped: "世帯の配信停止", "Household stopped";
    action_household_erased: "世帯の情報の消去", "Household erased";

    nav_broadcasts: "お知らせの配信", "Broadcasts";
    nav_poster: "登録ポスター", "Poster";
    po_title: "登録ポスター", "Registration poster";
    po_intro: "保健センターや窓口に貼る A4 のポスターです。登録の方法ごとに QR コードとアドレスを載せます。", "An A4 poster for the health centre and the front desk: a QR code and the address for each way to register.";
    po_line: "LINE の友だち追加 URL または LINE ID", "LINE friend-add link or LINE ID";
    po_line_hint: "LINE Official Account Manager の「友だち追加ガイド」にある URL（https://lin.ee/…）か、@ で始まる ID（例: @minato）。空欄なら LINE は載せません。", "The link from LINE Official Account Manager's friend-add guide (https://lin.ee/…), or the ID starting with @ (for example @minato). Leave it empty to leave LINE out.";
    po_no_line: "この自治体には LINE のチャネルがまだありません。", "This municipality has no LINE channel yet.";
    po_email: "空メールの宛先", "Address for blank emails";
    po_email_hint: "メールのチャネルの受信（Inbound Parse）に設定したアドレス。空欄なら空メールは載せません。", "The address set up for the email channel's inbound mail. Leave it empty to leave blank email out.";
    po_form_note: "登録フォームのリンクはいつも載ります:", "The registration form's link is always on the poster:";
    po_no_form: "登録フォームはメールのチャネルがあると使えます。メールのチャネルを追加するとフォームの QR コードも載ります。", "The registration form works once the municipality has an email channel; add one and the poster gets the form's QR code too.";
    po_make: "ポスターを作る", "Make the poster";
    po_preview: "ポスターの見本", "The poster";
    po_on_poster: "ポスターに載るもの", "On the poster";
    po_download: "ポスターをダウンロード（SVG、A4）", "Download the poster (SVG, A4)";
    po_print: "印刷するときは用紙を A4、倍率を 100% にしてください。ブラウザーで開いて印刷するか、PDF として保存できます。", "Print it on A4 at 100% scale: open it in a browser and print, or save it as a PDF.";
    po_nothing: "載せるものがありません。LINE の友だち追加 URL か空メールの宛先を入力してください。", "There is nothing to print yet: type the LINE friend-add link or the blank-email address.";
    po_line_error: "LINE の友だち追加 URL（https://lin.ee/… または https://line.me/…）か、@ で始まる LINE ID を入力してください", "Enter a LINE friend-add link (https://lin.ee/… or https://line.me/…) or a LINE ID starting with @";
    po_email_error: "メールアドレスを user@example.jp の形で入力してください", "Enter an email address like user@example.jp";
    po_way_line: "LINE", "LINE";
    po_way_form: "登録フォーム", "Registration form";
    po_way_email: "空メール", "Blank email";
    broadcasts_title: "お知らせの配信", "Broadcasts";
    broadcasts_intro: "災害や予防接種の変更など、急ぎのお知らせを保護者に送ります。送る前に、届く世帯の数と文面を確かめられます。", "Send an urgent notice to parents, such as an emergency or a change to vaccinations. Before you send it, you can check how many households it reaches and what they read.";
    broadcast_new: "新しいお知らせを作る", "Create a new broadcast";
    broadcast_new_title: "新しいお知らせ", "New broadcast";
    broadcast_past: "これまでのお知らせ", "Past broadcasts";
    no_broadcasts: "お知らせはまだありません。", "No broadcasts yet.";
    broadcast_subject: "件名（任意）", "Subject (optional)";
    broadcast_subject_hint: "件名のある配信方法（メール）で使います。", "Used by channels with subjects (email).";
    broadcast_body: "本文", "Message";
    broadcast_body_hint: "保護者にそのまま届きます。10,000文字まで。", "Parents read this as it is. Up to 10,000 characters.";
    broadcast_stages: "送る相手（時期）", "Who gets it (stage)";
    broadcast_stages_hint: "選ばないと、すべての世帯に送ります。", "Choose none to send to every household.";
    broadcast_channels: "配信方法", "Channels";
    broadcast_channels_hint: "選ばないと、すべての配信方法で送ります。", "Choose none to send on every channel.";
    broadcast_when: "送る日時", "When to send";
    broadcast_now: "今すぐ", "Now";
    broadcast_later: "日時を決めて送る", "At a date and time";
    broadcast_at: "日時（日本時間）", "Date and time (Japan time)";
    broadcast_at_hint: "例: 2027-04-01 09:00", "For example, 2027-04-01 09:00";
    broadcast_check: "内容を確かめる", "Check the broadcast";
    broadcast_body_missing: "本文を入力してください", "Enter the message";
    broadcast_nul: "使えない文字（NUL、U+0000）を消してください", "Remove the NUL character (U+0000)";
    broadcast_body_long: "本文は10,000文字以下にしてください", "The message must be 10,000 characters or fewer";
    broadcast_at_missing: "送る日時を 2027-04-01 09:00 の形で入力してください", "Enter the date and time, like 2027-04-01 09:00";
    broadcast_at_past: "送る日時は今より後にしてください", "The date and time must be in the future";
    broadcast_channel_unknown: "この配信方法はありません", "This channel does not exist";
    broadcast_stage_unknown: "この時期はありません", "This stage does not exist";
    broadcast_confirm_title: "お知らせを確かめる", "Check your broadcast";
    broadcast_reach: "届く世帯", "Households it reaches";
    broadcast_reach_body: "{households}世帯（{contacts}件の連絡先）に届きます。", "It reaches {households} households ({contacts} contacts).";
    broadcast_reach_none: "条件に合う世帯はありません。送っても誰にも届きません。", "No household matches. Sending it reaches nobody.";
    broadcast_sample: "届く世帯の例", "Some of the households";
    broadcast_sample_note: "アドレスは一部を隠しています。", "Addresses are partly hidden.";
    broadcast_preview: "保護者が読む内容", "What parents read";
    broadcast_preview_on: "{channel}（{n}件）", "{channel} ({n} contacts)";
    broadcast_email_footer: "メールでは、本文の後に配信停止のリンクが付きます。", "In emails, a link to unsubscribe follows the message.";
    broadcast_audience: "送る相手", "Audience";
    broadcast_everyone: "すべての世帯", "Every household";
    broadcast_all_channels: "すべての配信方法", "Every channel";
    broadcast_send_at: "送る日時", "Send at";
    broadcast_send: "お知らせを送る", "Send the broadcast";
    broadcast_change: "内容を直す", "Change the broadcast";
    broadcast_title: "お知らせ", "Broadcast";
    broadcast_created_title: "お知らせを作りました", "Broadcast created";
    broadcast_created_body: "送信は自動で進みます。送信待ちのあいだは取り消せます。", "It is being sent. You can cancel it while deliveries are waiting.";
    broadcast_progress: "送信の状況", "Progress";
    broadcast_count: "件数", "Count";
    broadcast_cancel_title: "お知らせを取り消す", "Cancel this broadcast";
    broadcast_cancel_hint: "まだ送っていない配信をすべて取り消します。送った配信は取り消せません。", "Cancels every delivery not sent yet. Deliveries already sent cannot be taken back.";
    broadcast_cancel: "送信待ちの配信を取り消す", "Cancel waiting deliveries";
    broadcast_cancelled_title: "取り消しました", "Cancelled";
    broadcast_cancelled_body: "{n}件の配信を取り消し、操作記録に残しました。", "{n} deliveries are cancelled, and this is in the audit log.";
    broadcast_contacts: "配信数", "Deliveries";
    broadcast_created_at: "作成日時", "Created";
    action_broadcast_created: "お知らせの作成", "Broadcast created";
    action_broadcast_cancelled: "お知らせの取り消し", "Broadcast cancelled";

    pl_nav: "プラグイン", "Plugins";
    pl_title: "配信プラグイン", "Delivery plugins";
    pl_intro: "配信サービスごとのプラグインと、その版です。版ごとの直近7日間の配信の成否を見て、すべての自治体で有効にする版を決めたり、一部の自治体で先に試したり（カナリア）、元に戻したりできます。", "The plugin of each delivery platform and its versions. See how each version's deliveries went in the last 7 days, make a version active for every municipality, try it first with some (a canary), or roll back.";
    pl_none: "プラグインはまだありません。API か CLI でアップロードします。", "There are no plugins yet. Upload one with the API or the CLI.";
    pl_plugin: "プラグイン", "Plugin";
    pl_active: "すべての自治体で有効な版", "Active version (every municipality)";
    pl_active_none: "なし", "None";
    pl_canaries: "カナリア（先に試している自治体）", "Canaries (municipalities trying a version first)";
    pl_canaries_none: "なし", "None";
    pl_canary_of: "{v}: {tenants}", "{v}: {tenants}";
    pl_channels: "使っているチャネル", "Channels using it";
    pl_rates_caption: "{p} の版ごとの直近7日間の配信", "Deliveries of {p} in the last 7 days, by version";
    pl_version: "版", "Version";
    pl_sent: "送信済み", "Sent";
    pl_failed: "失敗", "Failed";
    pl_rate: "失敗の割合", "Failure rate";
    pl_health: "状態", "Status";
    pl_health_none: "直近7日間の配信なし", "No deliveries in the last 7 days";
    pl_health_ok: "問題なし", "Working";
    pl_health_some: "一部失敗しています", "Some deliveries fail";
    pl_health_many: "失敗が多いです。この版を確かめてください", "Many deliveries fail: check this version";
    pl_open: "{p} の版と切り替え", "Versions and changes of {p}";
    pl_window_note: "数は直近7日間に送信を試みた配信です（失敗には、送信をあきらめたものを含みます）。", "Counts are of deliveries attempted in the last 7 days (failed includes those given up on).";
    pl_back: "プラグインの一覧に戻る", "Back to the plugins";
    pl_versions: "版", "Versions";
    pl_contract: "契約の版", "Contract";
    pl_uploaded: "アップロード日時", "Uploaded";
    pl_digest: "ダイジェスト", "Digest";
    pl_where: "使われ方", "In use";
    pl_where_active: "すべての自治体で有効", "Active for every municipality";
    pl_where_canary: "カナリア: {tenants}", "Canary: {tenants}";
    pl_where_retired: "使われていません", "Not in use";
    pl_rollback_title: "元に戻す", "Roll back";
    pl_rollback_hint: "すべての自治体で、直前に有効だった版に戻します（今は {v}）。カナリアの自治体はそのままです。", "Goes back to the version that was active before, for every municipality (now {v}). Canaries stay as they are.";
    pl_rollback_button: "すべての自治体で元に戻す", "Roll back for every municipality";
    pl_end_canary: "{t} のカナリアを終える", "End the canary of {t}";
    pl_end_canary_hint: "この自治体は、すべての自治体で有効な版に戻ります。", "The municipality goes back to the version active for every municipality.";
    pl_activate_title: "すべての自治体で版を有効にする", "Make a version active for every municipality";
    pl_activate_hint: "カナリアの自治体以外のすべての自治体で、次の配信からこの版を使います。送信中の配信は元の版のまま終わります。", "Every municipality without a canary uses this version from the next delivery. Deliveries being sent finish on the version they started with.";
    pl_activate_button: "続ける", "Continue";
    pl_canary_title: "一部の自治体で先に試す（カナリア）", "Try a version with some municipalities first (a canary)";
    pl_canary_hint: "選んだ自治体だけが、次の配信からこの版を使います。", "Only the municipalities chosen use this version, from the next delivery.";
    pl_canary_tenants: "試す自治体", "Municipalities to try it";
    pl_canary_ids: "自治体の ID（選ぶ代わりに、または追加で）", "Municipality IDs (instead of or as well as choosing)";
    pl_canary_ids_hint: "カンマか空白で区切ります。例: minato, chiyoda", "Separate them with commas or spaces. For example: minato, chiyoda";
    pl_canary_button: "カナリアとして有効にする", "Make it active as a canary";
    pl_choose_version: "版を選んでください", "Choose a version";
    pl_version_legend: "有効にする版", "Version to make active";
    pl_tenants_missing: "試す自治体を選ぶか、ID を入力してください", "Choose or type at least one municipality";
    pl_tenant_unknown: "自治体「{t}」はありません", "There is no municipality “{t}”";
    pl_nothing_to_roll_back: "戻す先の版がありません。有効にされた版が1つしかありません", "There is nothing to roll back to: only one version has been made active";
    pl_refused: "変更できませんでした: {why}", "This could not be changed: {why}";
    pl_confirm_activate_title: "すべての自治体で {v} を有効にしますか", "Make {v} active for every municipality?";
    pl_confirm_activate_body: "{p} の版 {v} を、カナリアの自治体以外のすべての自治体で次の配信から使います。今は {now} です。", "Every municipality without a canary uses version {v} of {p} from the next delivery. Now it is {now}.";
    pl_confirm_activate_button: "すべての自治体で有効にする", "Make it active for every municipality";
    pl_confirm_rollback_title: "すべての自治体で {p} を元に戻しますか", "Roll back {p} for every municipality?";
    pl_confirm_rollback_body: "すべての自治体で有効な版（今は {now}）を、直前に有効だった版に戻します。", "The version active for every municipality (now {now}) goes back to the one active before it.";
    pl_confirm_rollback_button: "元に戻す", "Roll back";
    pl_done_activated: "{p} の版 {v} を、すべての自治体で有効にしました。", "Version {v} of {p} is active for every municipality.";
    pl_done_canary: "{p} の版 {v} を、カナリアとして {tenants} で有効にしました。", "Version {v} of {p} is active as a canary for {tenants}.";
    pl_done_rolled_back: "{p} を元に戻しました。すべての自治体で有効な版は {v} です。", "{p} is rolled back. The version active for every municipality is {v}.";
    pl_done_canary_ended: "{t} のカナリアを終えました。今の版は {v} です。", "The canary of {t} has ended. Its version now is {v}.";
    pl_action_activated: "プラグインの版を有効化", "Plugin version made active";
    pl_action_canary: "プラグインのカナリア", "Plugin canary";
    pl_action_rolled_back: "プラグインを元に戻す", "Plugin rolled back";

    pt_nav: "パートナー", "Partners";
    pt_title: "パートナーのアカウント", "Partner accounts";
    pt_intro: "配信プラグインを作る会社（パートナー）のための API トークンです。トークンでは、許されたプラグインの新しい版をアップロードし、その版を見ることだけができます。", "API tokens for the companies that build delivery plugins (partners). A token can only upload new versions of the plugins it is given, and see them.";
    pt_none: "パートナーのアカウントはまだありません。", "There are no partner accounts yet.";
    pt_label: "名前", "Name";
    pt_id: "ID", "ID";
    pt_plugins: "プラグイン", "Plugins";
    pt_created: "作成日時", "Created";
    pt_state: "状態", "Status";
    pt_active: "使えます", "Active";
    pt_revoked: "無効（{at}）", "Revoked ({at})";
    pt_no_label: "（名前なし）", "(no name)";
    pt_revoke_link: "{l} を無効にする", "Revoke {l}";
    pt_new_title: "パートナーのアカウントを作る", "Create a partner account";
    pt_label_hint: "会社名など、誰のためのトークンか分かる名前。100文字まで。", "Who the token is for, such as the company's name. Up to 100 characters.";
    pt_plugins_hint: "このパートナーがアップロードできるプラグインを選んでください。", "Choose the plugins this partner may upload.";
    pt_create_button: "トークンを作る", "Create the token";
    pt_label_missing: "名前を入力してください", "Enter a name";
    pt_label_long: "名前は100文字以下にしてください", "The name must be 100 characters or fewer";
    pt_plugins_missing: "プラグインを1つ以上選んでください", "Choose at least one plugin";
    pt_plugin_unknown: "プラグイン「{p}」はありません", "There is no plugin “{p}”";
    pt_made_title: "トークンができました", "Token created";
    pt_made_body: "このトークンをコピーして、{l} に安全な方法で渡してください。このページを離れると、もう表示されません。", "Copy this token and give it to {l} safely. It is not shown again once you leave this page.";
    pt_token: "トークン", "Token";
    pt_copy_hint: "欄を選んですべてコピーしてください（Ctrl+C か ⌘+C）。保存されるのはトークンのハッシュだけです。", "Select the field and copy all of it (Ctrl+C or ⌘+C). Only the token's hash is stored.";
    pt_back: "パートナーの一覧に戻る", "Back to the partner accounts";
    pt_revoke_title: "{l} を無効にしますか", "Revoke {l}?";
    pt_revoke_body: "このトークンはすぐに使えなくなります。元に戻せません。必要なら新しいトークンを作ってください。", "The token stops working at once. You cannot undo this; create a new token if one is needed.";
    pt_revoke_button: "無効にする", "Revoke";
    pt_done_revoked: "{l} のトークンを無効にしました。", "The token of {l} is revoked.";
    pt_action_created: "パートナーのトークンを作成", "Partner token created";
    pt_action_revoked: "パートナーのトークンを無効化", "Partner token revoked";

    not_found_title: "ページが見つかりません", "Page not found";
    not_found_body: "アドレスが正しいか確かめてください。", "If you typed the web address, check it is correct.";
    forbidden_title: "フォームを受け付けられませんでした", "The form was not accepted";
    forbidden_body: "フォームの有効期限が切れたか、この画面から送られていません。ページを開き直して、もう一度お試しください。何も変更していません。", "The form had expired or was not sent from this console. Open the page again and try once more. Nothing was changed.";
    no_permission_title: "権限がありません", "You do not have permission";
    no_permission_body: "このページを見るには権限が必要です。チームを管理する人に頼んでください。", "You need permission to see this page. Ask a person who manages your team.";
    limited_title: "しばらくお待ちください", "Please wait";
    limited_body: "送信が多すぎます。{seconds}秒後にもう一度お試しください。", "Too many tries. Try again in {seconds} seconds.";
    back_home: "ホームに戻る", "Go to the home page";
}

/// An audit action in words.
pub fn action(t: &Texts, action: &str) -> String {
    match action {
        "sign_in" => t.action_sign_in,
        "sign_in_failed" => t.action_sign_in_failed,
        "locked" => t.action_locked,
        "sign_out" => t.action_sign_out,
        "invitation_made" => t.action_invitation_made,
        "invitation_used" => t.action_invitation_used,
        "first_link" => t.action_first_link,
        "household_stopped" => t.action_household_stopped,
        "household_erased" => t.action_household_erased,
        "content_insert_saved" => t.action_content_insert_saved,
        "content_insert_deleted" => t.action_content_insert_deleted,
        "content_message_saved" => t.action_content_message_saved,
        "content_message_deleted" => t.action_content_message_deleted,
        "broadcast_created" => t.action_broadcast_created,
        "broadcast_cancelled" => t.action_broadcast_cancelled,
        "tenant_settings_saved" => t.action_tenant_settings_saved,
        "plugin_activated" => t.pl_action_activated,
        "plugin_canary" => t.pl_action_canary,
        "plugin_rolled_back" => t.pl_action_rolled_back,
        "partner_token_created" => t.pt_action_created,
        "partner_token_revoked" => t.pt_action_revoked,
        other => return other.to_string(),
    }
    .to_string()
}

/// A permission in words.
pub fn permission(t: &Texts, p: tayori_core::Permission) -> &'static str {
    use tayori_core::Permission::*;
    match p {
        Dashboard => t.perm_dashboard,
        Broadcasts => t.perm_broadcasts,
        Content => t.perm_content,
        Channels => t.perm_channels,
        Team => t.perm_team,
    }
}

/// A reason a delivery failed (`FailureReason`) in words.
pub fn failure(t: &Texts, key: &str) -> String {
    match key {
        "refused" => t.fail_refused,
        "recipient_gone" => t.fail_recipient_gone,
        "gave_up" => t.fail_gave_up,
        "not_made" => t.fail_not_made,
        other => return other.to_string(),
    }
    .to_string()
}

/// A stage of the figures (`pregnancy`, `0-1`, ...) in words.
pub fn stage(t: &Texts, key: &str) -> String {
    match key {
        "pregnancy" => t.stage_pregnancy,
        "0-1" => t.stage_0_1,
        "1-2" => t.stage_1_2,
        "2-3" => t.stage_2_3,
        "later" => t.stage_later,
        other => return other.to_string(),
    }
    .to_string()
}

/// A status (of a household, contact, child or delivery) in words.
pub fn status(t: &Texts, key: &str) -> String {
    match key {
        "active" => t.st_active,
        "stopped" => t.st_stopped,
        "erased" => t.st_erased,
        "valid" => t.st_valid,
        "invalid" => t.st_invalid,
        "expecting" => t.st_expecting,
        "born" => t.st_born,
        "pending" => t.st_pending,
        "held" => t.st_held,
        "in_flight" => t.st_in_flight,
        "sent" => t.st_sent,
        "failed" => t.st_failed,
        "expired" => t.st_expired,
        "cancelled" => t.st_cancelled,
        "dead" => t.st_dead,
        other => return other.to_string(),
    }
    .to_string()
}

/// A stop reason of the API in words.
pub fn stop_reason(t: &Texts, key: &str) -> String {
    match key {
        "pregnancy_loss" => t.reason_pregnancy_loss,
        "child_loss" => t.reason_child_loss,
        "unsubscribed" => t.reason_unsubscribed,
        "moved_away" => t.reason_moved_away,
        "duplicate" => t.reason_duplicate,
        "other" => t.reason_other,
        other => return other.to_string(),
    }
    .to_string()
}

/// A subscriber's locale in words.
pub fn locale(t: &Texts, key: &str) -> String {
    match key {
        "ja" => t.locale_ja,
        "ja-easy" => t.locale_ja_easy,
        "en" => t.locale_en,
        other => return other.to_string(),
    }
    .to_string()
}
