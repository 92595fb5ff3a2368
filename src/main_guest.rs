//! Entry point of the guest app (index.html's loader starts it for a guest's session page):
//! [`pairux_web::start_guest_app`] joins the session, then draws the guest's
//! page (`components::guest`), which links neither the host's code nor Leptos's views.

fn main() {
    // Release builds abort on a panic before any hook runs (xtask::build::WASM_STD).
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    pairux_web::start_guest_app();
}
