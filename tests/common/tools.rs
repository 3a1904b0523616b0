//! The programs the end-to-end tests drive, installed when missing, so that the README's
//! test command (`cargo test`) works on a fresh Debian machine with nothing done first.
//! A second run finds everything and installs nothing (a PATH lookup per program).

use std::path::Path;
use std::process::Command;
use std::sync::Once;

/// What a test runs, and the Debian package that brings it.
const DEBIAN: &[(&str, &str)] = &[
    // A static busybox builds the test roots.
    ("busybox", "busybox-static"),
    // ip lists links and netns for host snapshots; nft shows and applies nsr's tables.
    ("ip", "iproute2"),
    ("nft", "nftables"),
    // pasta and slirp4netns connect rootless sandboxes to the host (tests/pasta.rs).
    ("pasta", "passt"),
    ("slirp4netns", "slirp4netns"),
    // script(1) gives a recipe a terminal; setpriv runs the rootless tests as nobody;
    // unshare and nsenter run the plan's shell scripts.
    ("script", "bsdutils"),
    ("setpriv", "util-linux"),
    ("unshare", "util-linux"),
    ("nsenter", "util-linux"),
    // The rootfs tests archive with GNU tar, compress with zstd and xz, check xattrs.
    ("tar", "tar"),
    ("gzip", "gzip"),
    ("zstd", "zstd"),
    ("xz", "xz-utils"),
    ("setfattr", "attr"),
    // umoci makes image layers and unpacks them, as the reference for rootfs_from_image.
    ("umoci", "umoci"),
    // The editor tests tokenize recipes with the real TextMate engine (node) and Vim.
    ("node", "nodejs"),
    ("npm", "npm"),
    ("vim", "vim"),
    // Neovim attaches to `nsr lsp` with the configuration from editors/README.md.
    ("nvim", "neovim"),
    // nsr graph's dot is checked by Graphviz; its html page (and Mermaid, which renders
    // the mermaid text) by headless Chromium.
    ("dot", "graphviz"),
    ("chromium", "chromium"),
    // nsr export oci's bundles run under both OCI runtimes; their config.json is
    // checked against the runtime-spec's JSON schema (tests/oci/validate.py).
    ("runc", "runc"),
    ("crun", "crun"),
    ("jsonschema", "python3-jsonschema"),
    // The man page is rendered by man-db's man and groff.
    ("man", "man-db"),
    ("groff", "groff-base"),
    // The terminal tests' attacker pushes keystrokes with python3's fcntl.ioctl.
    ("python3", "python3"),
    // The plan's scripts set forwarding with sysctl(8); tests read and set it too.
    ("sysctl", "procps"),
    // `nsr completions zsh|fish` are loaded into the real shells.
    ("zsh", "zsh"),
    ("fish", "fish"),
];

static DEBIAN_ONCE: Once = Once::new();
/// The directories whose npm packages this test binary has checked.
static NPM_DONE: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Every program of DEBIAN is on PATH afterwards, installed with apt-get as root (an
/// ordinary user is told what to install, and a test needing it fails naming it).
pub fn ensure() {
    DEBIAN_ONCE.call_once(|| {
        let missing = missing_packages();
        if missing.is_empty() {
            return;
        }
        if !nix::unistd::geteuid().is_root() {
            // Only root installs; a test that needs one of these then fails naming it.
            eprintln!(
                "tests: not root, not installing: apt-get install {}",
                missing.join(" ")
            );
            return;
        }
        let _lock = Lock::take("debian");
        // Another test binary may have installed them while this one waited.
        let missing = missing_packages();
        if missing.is_empty() {
            return;
        }
        eprintln!("tests: installing {}", missing.join(" "));
        apt_get(&["update", "-qq"]);
        let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
        install.extend(missing.iter().copied());
        apt_get(&install);
    });
}

fn missing_packages() -> Vec<&'static str> {
    let mut missing: Vec<&str> = DEBIAN
        .iter()
        .filter(|(program, package)| !present(program, package))
        .map(|(_, package)| *package)
        .collect();
    missing.sort();
    missing.dedup();
    missing
}

fn present(program: &str, package: &str) -> bool {
    if package == "busybox-static" {
        // The test roots copy busybox into a chroot: Debian's dynamic `busybox` would not
        // run there, so the static package itself must be installed.
        return Command::new("dpkg-query")
            .args(["-W", "-f=${Status}", package])
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"install ok installed"));
    }
    on_path(program)
}

/// The npm packages pinned in DIR/package.json (editors/vscode/test, tests/graph) are
/// in its node_modules, at their pinned versions (npm install when not).
pub fn ensure_npm(dir: &str) {
    ensure();
    let mut done = NPM_DONE.lock().unwrap_or_else(|e| e.into_inner());
    if done.iter().any(|d| d == dir) {
        return;
    }
    done.push(dir.to_string());
    {
        if npm_pins_installed(dir) {
            return;
        }
        let _lock = Lock::take("npm");
        if npm_pins_installed(dir) {
            return;
        }
        eprintln!("tests: npm install in {dir}");
        let out = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent"])
            .current_dir(dir)
            .output()
            .expect("npm runs");
        assert!(
            out.status.success() && npm_pins_installed(dir),
            "npm install in {dir} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn npm_pins_installed(dir: &str) -> bool {
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/package.json")).unwrap())
            .unwrap();
    manifest["dependencies"]
        .as_object()
        .unwrap()
        .iter()
        .all(|(name, pin)| {
            let installed =
                std::fs::read_to_string(format!("{dir}/node_modules/{name}/package.json"))
                    .ok()
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
            installed.is_some_and(|m| m["version"] == *pin)
        })
}

pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| is_executable(&d.join(program))))
        .unwrap_or(false)
        || ["/usr/sbin", "/sbin"]
            .iter()
            .any(|d| is_executable(&Path::new(d).join(program)))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn apt_get(args: &[&str]) {
    let out = Command::new("apt-get")
        .args(args)
        // Wait for another apt (an unattended upgrade) instead of failing at once.
        .args(["-o", "DPkg::Lock::Timeout=300"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .expect("apt-get runs");
    assert!(
        out.status.success(),
        "apt-get {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An flock held while installing, so that test binaries run at once (nextest) do not
/// install the same thing twice. None when the lock file is another user's.
struct Lock(#[allow(dead_code)] Option<nix::fcntl::Flock<std::fs::File>>);

impl Lock {
    fn take(what: &str) -> Lock {
        let path = std::env::temp_dir().join(format!("nsr-tests-{what}.lock"));
        let Ok(file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        else {
            return Lock(None);
        };
        let lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .unwrap_or_else(|(_, e)| panic!("flock {}: {e}", path.display()));
        Lock(Some(lock))
    }
}
