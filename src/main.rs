//! `tuneprint`: every command. Those that train a network (`train`, `recommend --evaluate`) run
//! in `tuneprint-torch`, which this executable starts with the same arguments; everything else
//! runs here, without loading libtorch.

use clap::Parser;
use std::process::ExitCode;
use tuneprint::cli::{delegate_to_torch, needs_torch, run_native, Cli};

/// The system allocator, asking the kernel for transparent huge pages on large buffers (a song's
/// samples, its resampled signal, the extractor's outputs: tens of MB each, freed and allocated
/// afresh for every song). Where huge pages are enabled only on request (`madvise`, Debian's
/// default), every 4 KB page of such a buffer otherwise costs a page fault when first written:
/// about 54 000 faults and 0.15 s of system time for one 4-minute 44.1 kHz song. Only the
/// advice differs; the memory is the system allocator's.
#[cfg(target_os = "linux")]
mod huge_pages {
    use std::alloc::{GlobalAlloc, Layout, System};

    /// Buffers from this size on are advised (smaller ones rarely span a whole huge page).
    const MIN_BYTES: usize = 4 << 20;
    const HUGE_PAGE: usize = 2 << 20;

    pub struct Advised;

    fn advise(p: *mut u8, len: usize) {
        let start = (p as usize).next_multiple_of(HUGE_PAGE);
        let end = (p as usize + len) / HUGE_PAGE * HUGE_PAGE;
        if end > start {
            // SAFETY: the range lies inside an allocation just made; the advice never changes
            // its contents (a refusal is harmless, so the result is ignored).
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
    }

    // SAFETY: every call is the system allocator's; `advise` only adds advice to what it returns.
    unsafe impl GlobalAlloc for Advised {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let p = unsafe { System.alloc(layout) };
            if layout.size() >= MIN_BYTES && !p.is_null() {
                advise(p, layout.size());
            }
            p
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            let p = unsafe { System.alloc_zeroed(layout) };
            if layout.size() >= MIN_BYTES && !p.is_null() {
                advise(p, layout.size());
            }
            p
        }

        unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
            unsafe { System.dealloc(p, layout) }
        }

        unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let q = unsafe { System.realloc(p, layout, new_size) };
            if new_size >= MIN_BYTES && !q.is_null() {
                advise(q, new_size);
            }
            q
        }
    }
}

#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOCATOR: huge_pages::Advised = huge_pages::Advised;

/// Asks glibc's allocator to keep large freed buffers for reuse instead of returning them to the
/// kernel: by default a buffer of more than 32 MB gets its own mapping, unmapped when freed, so
/// the next song's buffers (or the next stage's: the decoded samples are freed before the
/// extractor's outputs are allocated) are fresh memory whose every page the kernel must zero
/// on first write. Up to 256 MB each, buffers now come from the heap (one arena for all
/// threads, where a worker thread's arena could not hold them) and freed space is reused; the
/// heap is trimmed once 256 MB lie free at its top. One 4-minute 44.1 kHz song: about 10 000
/// page faults fall to 2 800.
fn keep_freed_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const LARGE: libc::c_int = 256 << 20;
        // SAFETY: mallopt only changes allocator parameters, before any thread starts; a
        // refused setting (return value 0) leaves the default, which is harmless.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, LARGE);
            libc::mallopt(libc::M_TRIM_THRESHOLD, LARGE);
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

fn main() -> ExitCode {
    keep_freed_buffers();
    let cli = Cli::parse();
    let result = if needs_torch(&cli.command) {
        delegate_to_torch()
    } else {
        run_native(cli.command)
    };
    match result.map_err(anyhow::Error::from) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", tuneprint::cli::error_line(e.as_ref()));
            ExitCode::from(2)
        }
    }
}
