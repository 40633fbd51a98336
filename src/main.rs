fn main() -> std::process::ExitCode {
    docket::memory::tune_allocator();
    docket::cli::run()
}
