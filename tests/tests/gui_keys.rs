//! The desktop app by keyboard, under wrong passphrases, and restoring a backup: a real WebKit window under Xvfb
//! driven through WebDriver (see `temper_e2e::gui`). Screenshots `20-…` and `21-…` go to
//! `target/gui-screenshots/` (or `$TEMPER_TEST_OUTPUT`).

use std::time::Duration;

use serde_json::{json, Value};
use temper_e2e::gui::{Gui, GuiOptions};
use temper_e2e::PASSPHRASE;

const SHORT: Duration = Duration::from_secs(15);

/// Sends `keys` (text or `fantoccini::key::Key` codes) to the focused element, as a person typing.
async fn press(gui: &Gui, keys: &str) {
    gui.client
        .active_element()
        .await
        .expect("an active element")
        .send_keys(keys)
        .await
        .expect("keys sent");
}

/// The focused control and whether its focus is visible (an outline, or a box shadow).
async fn focused(gui: &Gui) -> Value {
    gui.client
        .execute(
            "const el = document.activeElement; const s = getComputedStyle(el); \
             const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0; \
             const shadow = s.boxShadow && s.boxShadow !== 'none'; \
             return { tag: el.tagName.toLowerCase(), id: el.id, text: (el.innerText || el.value || '').trim().slice(0, 40), \
                      visible: outline || !!shadow, outline: s.outlineStyle + ' ' + s.outlineWidth, shadow: s.boxShadow };",
            vec![],
        )
        .await
        .expect("read the focus")
}

/// Asserts that the focused control is `id` (if given) and shows where the focus is.
async fn assert_focus_visible(gui: &Gui, id: Option<&str>) -> Value {
    let f = focused(gui).await;
    if let Some(id) = id {
        assert_eq!(f["id"], json!(id), "focus is on #{id}: {f}");
    }
    assert_eq!(
        f["visible"],
        json!(true),
        "the focused control shows a focus outline: {f}"
    );
    f
}

/// Guards "everything works from the keyboard, and you can see where you are": the inventory is created with
/// the passphrase typed and Tab/Enter only, each focused control shows its focus outline, and Tab reaches
/// "Try with a simulated device", whose Enter plugs one in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_alone_creates_the_inventory_and_tries_a_simulated_device() {
    use fantoccini::key::Key;

    let gui = Gui::start(GuiOptions::default()).await;
    gui.wait_for("#create-passphrase", SHORT).await;
    gui.client
        .execute(
            "document.querySelector('#create-passphrase').focus(); return true;",
            vec![],
        )
        .await
        .unwrap();
    press(&gui, PASSPHRASE).await;
    assert_focus_visible(&gui, Some("create-passphrase")).await;
    gui.wait_js(
        "const m = document.querySelector('#strength-meter'); return m && Number(m.dataset.score) >= 3",
        Duration::from_secs(10),
    )
    .await;

    press(&gui, &Key::Tab).await;
    assert_focus_visible(&gui, Some("create-submit")).await;
    press(&gui, &Key::Enter).await;
    gui.wait_for("#recovery-key", Duration::from_secs(30)).await;
    gui.wait_js(
        "return document.activeElement && document.activeElement.id === 'recovery-done'",
        SHORT,
    )
    .await;
    assert_focus_visible(&gui, Some("recovery-done")).await;
    press(&gui, &Key::Enter).await;
    gui.wait_for("#try-simulated", SHORT).await;

    let mut path = Vec::new();
    for _ in 0..40 {
        press(&gui, &Key::Tab).await;
        let f = assert_focus_visible(&gui, None).await;
        path.push(format!(
            "{}#{} {:?}",
            f["tag"].as_str().unwrap_or(""),
            f["id"].as_str().unwrap_or(""),
            f["text"].as_str().unwrap_or("")
        ));
        if f["id"] == json!("try-simulated") {
            break;
        }
    }
    println!("Tab order to the simulator button: {path:#?}");
    assert!(
        path.last().is_some_and(|p| p.contains("#try-simulated")),
        "Tab reaches \"Try with a simulated device\": {path:#?}"
    );
    gui.screenshot("20-keyboard-focus").await;
    press(&gui, &Key::Enter).await;
    gui.wait_for(".device[data-device-id]", Duration::from_secs(30))
        .await;
    let model = gui.text(".device .device-model").await;
    assert!(model.contains("SV-IPC2100"), "{model:?}");
    gui.close().await;
}

/// Types `passphrase` into the unlock field and submits it once the button takes it; returns the error shown.
async fn try_unlock(gui: &Gui, passphrase: &str) -> String {
    gui.wait_js(
        "const b = document.querySelector('#unlock-submit'); return b && !b.disabled",
        Duration::from_secs(90),
    )
    .await;
    gui.client
        .execute(
            "document.querySelector('#unlock-error')?.remove(); return true;",
            vec![],
        )
        .await
        .unwrap();
    gui.type_into("#unlock-passphrase", passphrase).await;
    gui.click("#unlock-submit").await;
    gui.wait_for("#unlock-error", Duration::from_secs(30)).await;
    gui.text("#unlock-error").await
}

/// Guards the unlock back-off in the window. Core lets 2 wrong passphrases through, then waits 1 s, 2 s, 4 s…
/// (whole seconds, up to 60; `audit::unlock_backoff`): the third wrong try already carries the 1-s wait, too
/// short to watch reliably, so the test goes on to the fifth (a 4-s wait): `#unlock-wait` counts down,
/// `#unlock-submit` stays disabled until it elapses, and then the right passphrase opens the inventory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passphrases_show_a_countdown_and_the_right_one_opens_after_it() {
    let gui = Gui::start(GuiOptions::default()).await;
    gui.create_inventory().await;
    gui.click("#lock-button").await;
    gui.wait_for("#unlock-passphrase", SHORT).await;

    for n in 1..=5 {
        let error = try_unlock(&gui, "not the right passphrase at all").await;
        assert!(
            error.contains("wrong inventory key"),
            "wrong try {n} says so: {error:?}"
        );
        if n <= 2 {
            let waiting = gui
                .client
                .execute(
                    "return document.querySelector('#unlock-wait') !== null",
                    vec![],
                )
                .await
                .unwrap();
            assert_eq!(waiting, json!(false), "no wait after {n} wrong tries");
        }
    }
    let state = gui
        .wait_js(
            "const w = document.querySelector('#unlock-wait'); \
             return w && { seconds: Number(w.dataset.seconds), text: w.textContent, \
                           disabled: document.querySelector('#unlock-submit').disabled }",
            Duration::from_secs(5),
        )
        .await;
    let seconds = state["seconds"].as_u64().unwrap_or(0);
    assert!(
        (1..=4).contains(&seconds),
        "the fifth wrong try waits 4 s: {state}"
    );
    assert_eq!(state["disabled"], json!(true), "{state}");
    assert!(
        state["text"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("{seconds} second")),
        "{state}"
    );
    gui.screenshot("20-unlock-countdown").await;
    if seconds > 1 {
        gui.wait_js(
            &format!("const w = document.querySelector('#unlock-wait'); return !w || Number(w.dataset.seconds) < {seconds}"),
            Duration::from_secs(5),
        )
        .await;
    }
    gui.wait_gone("#unlock-wait", Duration::from_secs(10)).await;
    let enabled = gui
        .client
        .execute(
            "return !document.querySelector('#unlock-submit').disabled",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(enabled, json!(true), "the button comes back after the wait");
    gui.type_into("#unlock-passphrase", PASSPHRASE).await;
    gui.click("#unlock-submit").await;
    gui.wait_for("#screen-devices", Duration::from_secs(30))
        .await;
    gui.close().await;
}

/// Guards restore in Settings: a backup is listed under "Back up inventory"; Restore asks for the backup's
/// passphrase inline and says the current inventory is replaced and kept aside; a wrong passphrase changes
/// nothing; the right one restores ("#restore-result"), the old inventory is kept aside beside it, and the
/// inventory still opens (also after Lock). A path outside the reports folder is refused by the command itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_backs_up_and_restores_the_inventory() {
    let gui = Gui::start(GuiOptions::default()).await;
    gui.create_inventory().await;
    gui.click("button[data-nav=settings]").await;
    gui.click("#backup-inventory").await;
    let saved = gui.text("#backup-path").await;
    gui.wait_for("#backup-list .backup-item[data-file]", SHORT)
        .await;
    let file = gui
        .wait_js(
            "return document.querySelector('#backup-list .backup-item[data-file]').dataset.file",
            SHORT,
        )
        .await;
    let file = file.as_str().unwrap().to_string();
    assert!(
        saved.ends_with(&file) && file.ends_with(".backup"),
        "{saved} / {file}"
    );

    gui.click(&format!(
        ".backup-item[data-file=\"{file}\"] .restore-button"
    ))
    .await;
    gui.wait_for("#restore-passphrase", SHORT).await;
    let warning = gui.text(".restore-warning").await;
    assert!(
        warning.contains("replaces the current inventory") && warning.contains("kept aside"),
        "{warning:?}"
    );
    gui.type_into("#restore-passphrase", "not the passphrase of this backup")
        .await;
    gui.click("#restore-confirm").await;
    let wrong = gui.text("#restore-error").await;
    assert!(wrong.contains("does not open the backup"), "{wrong:?}");

    gui.type_into("#restore-passphrase", PASSPHRASE).await;
    gui.screenshot("21-restore-confirm").await;
    gui.click("#restore-confirm").await;
    gui.wait_for(
        "#restore-result[data-result=restored]",
        Duration::from_secs(60),
    )
    .await;
    let result = gui.text("#restore-result").await;
    assert!(
        result.contains(&format!("Restored {file}")) && result.contains("kept aside"),
        "{result:?}"
    );
    gui.screenshot("21-restored").await;
    let inventory_dir = gui.data.join("temper");
    let aside: Vec<String> = std::fs::read_dir(&inventory_dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains("-before-restore-"))
        .collect();
    assert!(
        aside.iter().any(|n| n.ends_with(".db"))
            && aside.iter().any(|n| n.ends_with(".db.keys"))
            && aside.iter().any(|n| n.ends_with(".db.audit")),
        "the old inventory is kept aside complete: {aside:?}"
    );

    let refused = gui
        .invoke(
            "restore_backup",
            json!({ "fileName": "../data/temper/inventory.db", "unlock": { "method": "passphrase", "passphrase": PASSPHRASE } }),
        )
        .await
        .expect_err("a path outside the reports folder is refused");
    assert_eq!(refused["code"], json!("invalid"), "{refused}");

    gui.click("button[data-nav=inventory]").await;
    gui.wait_for("#screen-inventory", SHORT).await;
    gui.click("#lock-button").await;
    gui.type_into("#unlock-passphrase", PASSPHRASE).await;
    gui.click("#unlock-submit").await;
    gui.wait_for("#screen-devices", Duration::from_secs(30))
        .await;
    gui.close().await;
}
