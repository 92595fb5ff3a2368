//! Entry point: only mounts the app.

fn main() {
    // Release builds abort on a panic before any hook runs (xtask::build::WASM_STD).
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(pairux_web::App);
}
