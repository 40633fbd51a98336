// The migrations are embedded at compile time (`refinery::embed_migrations!`), but cargo does not
// know the macro reads that folder: without this, a new migration file changes no build.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
