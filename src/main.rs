//! Entry point: only mounts the app.

fn main() {
    std::hint::black_box(pairux_web::BUILD_STAMP);
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(pairux_web::App);
}
