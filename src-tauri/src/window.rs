//! Closing the window while a run is in progress asks first, and says what
//! keeps running in AWS.

use tauri::{Manager, WebviewWindow, WindowEvent};

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
