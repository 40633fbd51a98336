//! Process-wide memory settings.

/// Keeps the resident set small on glibc.
///
/// Each password hash allocates argon2's 19 MiB at once. glibc serves allocations that large
/// with `mmap` and returns them on free — until the first such free, after which its dynamic
/// threshold rises and later ones come from per-thread heap arenas, which keep the memory.
/// With hashes on a few blocking threads that held 130–400 MiB after a burst of logins. A
/// fixed threshold keeps big buffers on `mmap`, and two arenas bound fragmentation for a
/// server whose work is mostly small, short-lived allocations.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called once at start-up
    // before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
