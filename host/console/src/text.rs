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

    operator_title: "すべての自治体", "All municipalities";
    tenant: "自治体", "Municipality";
    tenant_id: "ID", "ID";
    active_now: "今月の利用中の世帯", "Active households this month";
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
