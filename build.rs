//! Build script: `sqlx::migrate!()` embeds `migrations/` at compile time, and cargo does not
//! know that, so tell it to rebuild when a migration changes.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
