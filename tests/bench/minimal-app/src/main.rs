//! A window showing one static page: what any Tauri 2 app weighs.

fn main() {
    tauri::Builder::default()
        .run(tauri::generate_context!())
        .expect("the window");
}
