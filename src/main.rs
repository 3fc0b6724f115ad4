fn main() {
    sluice::browser::crash::install_panic_banner();
    leptos::mount::mount_to_body(sluice::components::App);
}
