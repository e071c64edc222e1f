//! uniffi's binding generator, built from the same uniffi version as the library, so the
//! generated Kotlin/Swift/Python always match it. See scripts/bindings.sh.
fn main() {
    uniffi::uniffi_bindgen_main()
}
