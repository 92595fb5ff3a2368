//! The transform worker's entry point: Trunk's loader shim instantiates the wasm, which runs
//! `main`. Everything else is in the library.

fn main() {
    #[cfg(target_arch = "wasm32")]
    pairux_worker::start();
}
