//! The main window's own events: closing it while a run is in progress
//! asks first (and says what keeps running in AWS); files dropped on it are
//! remembered as chosen.

use tauri::{DragDropEvent, Manager, WebviewWindow, WindowEvent};

use crate::state::AppState;

pub fn confirm_close_during_runs(window: &WebviewWindow) {
    let win = window.clone();
    window.on_window_event(move |event| {
        let WindowEvent::CloseRequested { api, .. } = event else { return };
        if !win.state::<AppState>().runs.active().any() {
            return;
        }
        api.prevent_close();
        let win = win.clone();
        tauri::async_runtime::spawn(async move {
            let answer = rfd::AsyncMessageDialog::new()
                .set_parent(&win)
                .set_level(rfd::MessageLevel::Warning)
                .set_title("A training is in progress")
                .set_description(
                    "If you close easyTDV now, the run stops being watched, but its machine keeps running \
                     in your AWS account (and keeps costing money) until it finishes its safety time limit \
                     or you delete the run from the Runs list the next time you open easyTDV.\n\n\
                     Close anyway?",
                )
                .set_buttons(rfd::MessageButtons::YesNo)
                .show()
                .await;
            if answer == rfd::MessageDialogResult::Yes {
                if let Err(e) = win.destroy() {
                    tracing::error!(error = %e, "could not close the window");
                }
            }
        });
    });
}

/// Files dropped on the window are chosen by the person (the drop comes
/// from the desktop, not the webview): `check_file` may read them. The
/// webview hears of the drop in the same event, before any command of its
/// can run, so the paths are known when it asks.
pub fn remember_drops(window: &WebviewWindow) {
    let win = window.clone();
    window.on_window_event(move |event| {
        if let WindowEvent::DragDrop(DragDropEvent::Drop { paths, .. }) = event {
            let chosen = &win.state::<AppState>().chosen;
            for path in paths {
                chosen.add_file(path);
            }
        }
    });
}
