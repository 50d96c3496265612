//! `other-world`: a valid component of a world that is not the contract.
//!
//! It exports `hello` instead of `manifest`/`deliver`/..., so the host's
//! upload check must say it is not a `tayori:plugin` delivery plugin.

// Without the SDK, wit-bindgen's bindings and exports expand in this crate.
#![allow(unsafe_code)]

mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "other" });
}

struct Other;

impl bindings::Guest for Other {
    fn hello() -> String {
        "hello from another world".to_owned()
    }
}

bindings::export!(Other with_types_in bindings);
