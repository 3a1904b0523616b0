//! `exec` on the user's terminal, through a pty of nsr's own: a command cannot push
//! keystrokes into the user's terminal (TIOCSTI, bubblewrap's CVE-2017-5226), while
//! Ctrl-C, window resizes and the exit status work as on the terminal itself, and the
//! terminal's settings are as they were afterwards.

mod common;

use common::*;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Pushes "echo INJECTED" and a newline into its terminal's input, as an attacker would.
const INJECT: &str = "python3 -c \"import fcntl,termios\nfor c in 'echo INJECTED\\n': fcntl.ioctl(0, termios.TIOCSTI, c.encode())\"";

/// Runs SCRIPT in bash on a fresh terminal (script(1)); after it, bash reads a line
/// from that terminal for two seconds and prints what it got.
fn then_read_a_line(script: &str) -> String {
    let line = format!("{script}; read -t 2 line; echo GOT:$line");
    let out = Command::new("script")
        .args([
            "-qec",
            &format!("bash -c {}", shell_quote(&line)),
            "/dev/null",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_bounded(out, Duration::from_secs(30));
    String::from_utf8_lossy(&out.stdout).replace('\r', "")
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn a_sandboxed_command_cannot_push_keystrokes_into_the_users_terminal() {
    let _g = privileged();
    let s = Scratch::new("tiocsti");
    let recipe = s.write(
        "inject.nsr",
        &format!(
            "let box = unshare([\"uts\", \"pid\", \"mount\"]);\nlet code = box.exec([\"sh\", \"-c\", {:?}]);\nprint(\"exec-code=\" + code);\n",
            format!("{INJECT}; exit 5")
        ),
    );
    let screen = then_read_a_line(&format!("{NSR} run {recipe}; echo nsr-exit=$?"));
    assert!(
        screen.contains("exec-code=5") && screen.contains("nsr-exit=5"),
        "{screen}"
    );
    assert!(
        screen.lines().any(|l| l == "GOT:"),
        "the user's shell read injected input:\n{screen}"
    );
    // The same attack straight on the terminal works on this kernel
    // (dev.tty.legacy_tiocsti=1): the test can fail.
    let control = then_read_a_line(INJECT);
    assert!(control.contains("GOT:echo INJECTED"), "{control}");
}

/// nsr on the slave of a pty the test holds the master of, as a terminal emulator would:
/// nsr is the session's leader and in its foreground.
struct Emulator {
    master: std::fs::File,
    child: std::process::Child,
    seen: String,
}

impl Emulator {
    fn start(args: &[&str]) -> Emulator {
        let pty = nix::pty::openpty(None, None).unwrap();
        let slave = pty.slave.as_raw_fd();
        let mut cmd = Command::new(NSR);
        cmd.args(args);
        // SAFETY: in the child before exec: a new session with the slave as its terminal.
        unsafe {
            cmd.pre_exec(move || {
                libc::setsid();
                for fd in 0..3 {
                    libc::dup2(slave, fd);
                }
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        drop(pty.slave);
        // SAFETY: the fd comes straight out of the OwnedFd it was.
        let master =
            unsafe { std::fs::File::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(pty.master)) };
        // SAFETY: non-blocking reads on the master this struct owns.
        unsafe { libc::fcntl(master.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        Emulator {
            master,
            child,
            seen: String::new(),
        }
    }

    /// Reads the screen until `text` appears (within 20 s).
    fn expect(&mut self, text: &str) {
        let start = Instant::now();
        let mut buf = [0u8; 4096];
        while !self.seen.contains(text) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no {text:?} in:\n{}",
                self.seen
            );
            match self.master.read(&mut buf) {
                Ok(n) if n > 0 => self.seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    fn type_keys(&mut self, keys: &[u8]) {
        self.master.write_all(keys).unwrap();
    }

    fn resize(&self, rows: u16, cols: u16) {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ on the master; the kernel signals the foreground (nsr).
        unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }

    fn wait(mut self) -> (i32, String) {
        let start = Instant::now();
        loop {
            let mut buf = [0u8; 4096];
            if let Ok(n) = self.master.read(&mut buf) {
                self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code().unwrap_or(-1), self.seen);
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!("nsr did not end:\n{}", self.seen);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn ctrl_c_stops_the_shells_command_not_the_shell_and_its_status_comes_back() {
    let _g = privileged();
    let s = Scratch::new("ctrl-c");
    let recipe = s.write(
        "shell.nsr",
        "let box = unshare([\"uts\", \"pid\", \"mount\"]);\nbox.exec([\"sh\"]);\n",
    );
    let mut term = Emulator::start(&["run", &recipe]);
    term.type_keys(b"echo ready-$((20+1))\n");
    term.expect("ready-21");
    let started = Instant::now();
    term.type_keys(b"sleep 30.41; echo slept-$((1+2))\n");
    // Ctrl-C once the command runs (a Ctrl-C typed before would test nothing).
    wait_for_process("sleep 30.41", Duration::from_secs(15));
    term.type_keys(b"\x03");
    term.type_keys(b"echo after-$((1+1)); exit 4\n");
    let (code, screen) = term.wait();
    assert!(screen.contains("after-2"), "{screen}");
    assert!(!screen.contains("slept-3"), "{screen}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "Ctrl-C ended the sleep"
    );
    assert_eq!(code, 4, "{screen}");
}

#[test]
fn a_window_resize_reaches_the_command_and_the_terminal_is_restored_after() {
    let _g = privileged();
    let s = Scratch::new("winch");
    let recipe = s.write(
        "winch.nsr",
        "let box = unshare([\"uts\", \"pid\", \"mount\"]);\nbox.exec([\"sh\", \"-c\", \"trap 'echo size $(stty size)' WINCH; echo ready; i=0; while [ $i -lt 150 ]; do sleep 0.1; i=$((i+1)); done\"]);\n",
    );
    let mut term = Emulator::start(&["run", &recipe]);
    // The terminal's settings as nsr found them (it puts them in raw mode meanwhile).
    let before = nix::sys::termios::tcgetattr(&term.master)
        .ok()
        .map(|t| format!("{t:?}"));
    term.expect("ready");
    term.resize(33, 111);
    term.expect("size 33 111");
    term.resize(20, 70);
    term.expect("size 20 70");
    term.type_keys(b"\x03");
    let master_fd = term.master.try_clone().unwrap();
    let (_, screen) = term.wait();
    let after = nix::sys::termios::tcgetattr(&master_fd)
        .ok()
        .map(|t| format!("{t:?}"));
    assert_eq!(before, after, "{screen}");
}

#[test]
fn nsr_enter_gives_the_command_a_terminal_of_its_own_too() {
    let _g = privileged();
    let s = Scratch::new("enter-tiocsti");
    let recipe = s.write(
        "kept.nsr",
        "let box = unshare([\"uts\", \"pid\", \"mount\"]);\nbox.hostname(\"kept-tty\");\n",
    );
    let name = format!("{}-entertty", prefix());
    nsr(&["run", "--keep", "--name", &name, &recipe]).expect_code(0);
    let screen = then_read_a_line(&format!(
        "{NSR} enter {name} -- sh -c {}; echo enter-exit=$?",
        shell_quote(&format!(
            "test -t 0 && echo tty-$((3+4)); hostname; {INJECT}; exit 6"
        ))
    ));
    nsr(&["down", &name]).expect_code(0);
    assert!(
        screen.contains("tty-7") && screen.contains("kept-tty"),
        "{screen}"
    );
    assert!(screen.contains("enter-exit=6"), "{screen}");
    assert!(
        screen.lines().any(|l| l == "GOT:"),
        "the user's shell read injected input:\n{screen}"
    );
}

/// Pushes "echo INJECTED" into whatever terminal /proc/1/fd/0 (the holder's fd 0) is.
const INJECT_VIA_HOLDER: &str = "python3 -c \"import fcntl,termios,os\nfd=os.open('/proc/1/fd/0', os.O_RDWR)\nfor c in 'echo INJECTED\\n': fcntl.ioctl(fd, termios.TIOCSTI, c.encode())\"; echo tried=$?";

#[test]
fn no_process_of_a_sandbox_reaches_the_terminal_through_the_holder() {
    let _g = privileged();
    let s = Scratch::new("holder-tty");
    let bin = s.path("nsr");
    std::fs::copy(NSR, &bin).unwrap();
    for (kinds, as_nobody) in [
        (
            "#{ kinds: [\"user\", \"pid\", \"mount\"], map_root: true }",
            true,
        ),
        (
            "#{ kinds: [\"user\", \"pid\", \"mount\"], map_root: true }",
            false,
        ),
        ("#{ kinds: [\"pid\", \"mount\"] }", false),
    ] {
        let recipe = s.write(
            "holder-tty.nsr",
            &format!(
                "let box = unshare({kinds});\nbox.mount(\"proc\", \"/proc\", \"proc\");\nprint(box.run({:?}).stdout);\n",
                INJECT_VIA_HOLDER
            ),
        );
        // As nobody, the terminal is nobody's own, as a user's terminal is theirs.
        let run = if as_nobody {
            format!("chown 65534 $(tty); setpriv --reuid=65534 --regid=65534 --clear-groups -- {bin} run {recipe}")
        } else {
            format!("{bin} run {recipe}")
        };
        let screen = then_read_a_line(&run);
        assert!(screen.contains("tried="), "{kinds}: {screen}");
        assert!(
            screen.lines().any(|l| l == "GOT:"),
            "{kinds} (as nobody: {as_nobody}): the user's shell read injected input:\n{screen}"
        );
    }
}

#[test]
fn the_repls_exec_is_on_a_pty_too_and_the_repl_reads_no_injected_line() {
    let _g = privileged();
    let s = Scratch::new("repl-exec");
    let mut p = repl_session(&s, &[]);
    let prompt = REPL_PROMPT;
    p.send_line("let b = unshare([\"uts\", \"pid\", \"mount\"]); print(\"made \" + \"b\");")
        .unwrap();
    p.exp_string("made b").unwrap();
    p.exp_string(prompt).unwrap();
    p.send_line(&format!(
        "print(\"exec gave \" + b.exec([\"sh\", \"-c\", {:?}]));",
        format!("echo in-$((2+3)); {INJECT}; exit 3")
    ))
    .unwrap();
    p.exp_string("in-5").unwrap();
    p.exp_string("exec gave 3").unwrap();
    p.exp_string(prompt).unwrap();
    p.send_line("print(\"x\" + \"y\");").unwrap();
    let (between, _) = p.exp_regex("\\bxy\\b").unwrap();
    p.exp_string(prompt).unwrap();
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
    // An injected `echo INJECTED` read by the REPL would be a statement, and an error.
    assert!(!between.contains("error"), "{between}");
}

#[test]
fn nsr_enter_starts_a_shell_with_job_control_whose_exit_status_comes_back() {
    let _g = privileged();
    let s = Scratch::new("enter-shell");
    let recipe = s.write(
        "kept.nsr",
        "let box = unshare([\"uts\", \"pid\", \"mount\"]);\nbox.hostname(\"kept-sh\");\n",
    );
    let name = format!("{}-entersh", prefix());
    nsr(&["run", "--keep", "--name", &name, &recipe]).expect_code(0);
    // /bin/sh is dash here, which says "Cannot set tty process group" and exits 2 when
    // it is not a session leader in the terminal's foreground.
    let mut term = Emulator::start(&["enter", &name]);
    term.type_keys(b"sleep 30 &\n");
    term.type_keys(b"jobs; echo on-$(hostname)\n");
    term.expect("on-kept-sh");
    term.type_keys(b"kill %1; exit 3\n");
    let (code, screen) = term.wait();
    nsr(&["down", &name]).expect_code(0);
    assert_eq!(code, 3, "{screen}");
    assert!(screen.contains("Running"), "jobs sees the job:\n{screen}");
    assert!(!screen.contains("Cannot set tty"), "{screen}");
}
