//! The recipe primitives. Each one converts its arguments into a typed operation, hands
//! it to the session, and converts the result back: no syscalls here.

use super::call::{reg, Call, PrimitiveDoc, Shared, R};
use super::convert;
use super::values::Sandbox;
use crate::ops::net::NsRef;
use crate::ops::run::{MountEntry, RunResult};
use crate::ops::{Op, Output};
use crate::signals::signal_name;
use rhai::{Array, Dynamic, Engine, Map, NativeCallContext};
use std::collections::BTreeMap;

fn ran_to_map(r: RunResult) -> Map {
    let mut m = Map::new();
    let code = r.code.unwrap_or_else(|| 128 + r.signal.unwrap_or(0));
    m.insert("code".into(), Dynamic::from(code as i64));
    m.insert("ok".into(), Dynamic::from(r.code == Some(0)));
    m.insert(
        "signal".into(),
        r.signal
            .map(|s| Dynamic::from(signal_name(s)))
            .unwrap_or(Dynamic::UNIT),
    );
    m.insert("stdout".into(), Dynamic::from(r.stdout));
    m.insert("stderr".into(), Dynamic::from(r.stderr));
    m.insert("oom_killed".into(), Dynamic::from(r.oom_killed));
    m
}

fn namespaces_to_map(ns: BTreeMap<String, u64>) -> Map {
    ns.into_iter()
        .map(|(k, v)| (k.into(), Dynamic::from(v as i64)))
        .collect()
}

fn mounts_to_array(mounts: Vec<MountEntry>) -> Array {
    mounts
        .into_iter()
        .map(|m| {
            let mut e = Map::new();
            e.insert("id".into(), Dynamic::from(m.id as i64));
            e.insert("parent".into(), Dynamic::from(m.parent as i64));
            e.insert("target".into(), Dynamic::from(m.mount_point));
            e.insert("fstype".into(), Dynamic::from(m.fstype));
            e.insert("source".into(), Dynamic::from(m.source));
            e.insert("options".into(), Dynamic::from(m.options));
            Dynamic::from(e)
        })
        .collect()
}

fn unshare(session: &Shared, call: &Call, opts: &Map) -> R<Sandbox> {
    let spec = convert::sandbox_spec(opts).map_err(|e| call.bad(e))?;
    let pasta = super::pasta_options::of_unshare(opts).map_err(|e| call.bad(e))?;
    let kinds = spec.create.iter().map(|k| k.name().to_string()).collect();
    let sandbox = match call.perform(session, Op::Unshare(spec))? {
        Output::Sandbox { id, pid } => Sandbox {
            id,
            pid: pid as i64,
            kinds,
        },
        other => return Err(call.bad(format!("unexpected result {other:?}"))),
    };
    if let Some(pasta) = pasta {
        super::net::pasta::attach(session, call, NsRef::Sandbox(sandbox.id), pasta)?;
    }
    Ok(sandbox)
}

fn mount(
    session: &Shared,
    call: &Call,
    sb: &Sandbox,
    src: &str,
    target: &str,
    fstype: &str,
    opts: &Map,
) -> R<()> {
    let spec = convert::mount_spec(src, target, fstype, opts).map_err(|e| call.bad(e))?;
    call.perform(
        session,
        Op::Mount {
            sandbox: sb.id,
            spec,
        },
    )?;
    Ok(())
}

fn run(session: &Shared, call: &Call, sb: &Sandbox, cmd: &Dynamic, opts: &Map) -> R<Map> {
    let (spec, check) = convert::run_spec(cmd, opts).map_err(|e| call.bad(e))?;
    match call.perform(
        session,
        Op::Run {
            sandbox: sb.id,
            spec,
        },
    )? {
        Output::Ran(r) => {
            if check && r.code != Some(0) {
                let how = match (r.code, r.signal) {
                    (Some(c), _) => format!("exit status {c}"),
                    (None, Some(s)) => format!("signal {}", signal_name(s)),
                    _ => "an unknown status".into(),
                };
                let mut msg = format!("the command ended with {how}");
                if r.oom_killed {
                    msg.push_str(" (the kernel's OOM killer ended it: the sandbox's memory limit)");
                }
                if r.pids_limit_hit {
                    msg.push_str(" (the sandbox hit its pids limit: a fork failed with EAGAIN)");
                }
                if !r.stderr.trim().is_empty() {
                    msg.push_str(&format!("; stderr: {}", r.stderr.trim()));
                }
                return Err(call.bad(msg));
            }
            Ok(ran_to_map(r))
        }
        other => Err(call.bad(format!("unexpected result {other:?}"))),
    }
}

fn exec(session: &Shared, call: &Call, sb: &Sandbox, cmd: &Dynamic, opts: &Map) -> R<i64> {
    let (spec, _) = convert::run_spec(cmd, opts).map_err(|e| call.bad(e))?;
    match call.perform(
        session,
        Op::Exec {
            sandbox: sb.id,
            spec,
        },
    )? {
        Output::ExitCode(c) => Ok(c as i64),
        other => Err(call.bad(format!("unexpected result {other:?}"))),
    }
}

fn namespaces_of(session: &Shared, call: &Call, pid: i32) -> R<Map> {
    match call.perform(session, Op::Namespaces { pid })? {
        Output::Namespaces(ns) => Ok(namespaces_to_map(ns)),
        other => Err(call.bad(format!("unexpected result {other:?}"))),
    }
}

/// Registers every primitive, bound to `session`, and returns their descriptions.
/// The sandbox primitives: unshare, mount, chroot, pivot_root, hostname, run, exec, namespaces.
pub fn register(engine: &mut Engine, docs: &mut Vec<PrimitiveDoc>, session: &Shared) {
    let s = session.clone();
    reg(docs, "unshare", &["kinds: Array"], "/// Creates a sandbox in new namespaces of the listed kinds: mount uts ipc net pid user cgroup time.")
        .register_into_engine(engine, move |ctx: NativeCallContext, kinds: Array| -> R<Sandbox> {
            let call = Call::new(&ctx, "unshare", &[Dynamic::from(kinds.clone())]);
            let mut opts = Map::new();
            opts.insert("kinds".into(), Dynamic::from(kinds));
            unshare(&s, &call, &opts)
        });
    let s = session.clone();
    reg(docs, "unshare", &["options: Map"], "/// Creates a sandbox: #{ kinds: [...], map_root: bool, uid_map: [[in, out, count]], gid_map, net: \"/run/netns/NAME\" or pid (join) or \"pasta\" | \"slirp4netns\" (a new netns connected by pasta, slirp4netns when pasta is missing; with ports, host_ports, outbound as for box.pasta), propagation: \"private\", monotonic/boottime: seconds (time namespace) }. Its commands are confined unless privileged: true; caps: [...] | \"all\", seccomp: \"default\" | \"none\" | #{ allow, deny, default }, no_new_privs: bool, rlimits: #{ nofile, ... }, run_as: \"UID:GID\", landlock: #{ read, write, exec } (paths) change that (also per run); devices: \"all\" or [\"c 10:200\", ...] (the device nodes its commands may open beside the standard ones; unshare only); limits: #{ memory: \"256M\", memory_swap, pids, cpu: 0.5 (cores), cpu_weight, io: #{ \"/dev/vda\": #{ read_bps, write_bps, read_iops, write_iops } } } (its cgroups).")
        .register_into_engine(engine, move |ctx: NativeCallContext, opts: Map| -> R<Sandbox> {
            let call = Call::new(&ctx, "unshare", &[Dynamic::from(opts.clone())]);
            unshare(&s, &call, &opts)
        });

    let s = session.clone();
    reg(
        docs,
        "hostname",
        &["sandbox: Sandbox", "name: String"],
        "/// Sets the sandbox's hostname (needs a uts namespace); undo restores the old one.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, sb: &mut Sandbox, name: &str| -> R<()> {
            let call = Call::new(&ctx, "hostname", &[Dynamic::from(name.to_string())]);
            if name.is_empty() || name.len() > 64 {
                return Err(call.bad("a hostname is 1 to 64 bytes long".into()));
            }
            call.perform(
                &s,
                Op::SetHostname {
                    sandbox: sb.id,
                    name: name.to_string(),
                },
            )?;
            Ok(())
        },
    );
    let s = session.clone();
    reg(
        docs,
        "hostname",
        &["sandbox: Sandbox"],
        "/// The hostname the sandbox sees.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, sb: &mut Sandbox| -> R<String> {
            let call = Call::new(&ctx, "hostname", &[]);
            match call.perform(&s, Op::GetHostname { sandbox: sb.id })? {
                Output::Text(t) => Ok(t),
                other => Err(call.bad(format!("unexpected result {other:?}"))),
            }
        },
    );
    register_mounts(engine, docs, session);
    register_commands(engine, docs, session);
    register_namespaces(engine, docs, session);
}

/// A sandbox's filesystem: mount, chroot, pivot_root.
fn register_mounts(engine: &mut Engine, docs: &mut Vec<PrimitiveDoc>, session: &Shared) {
    let s = session.clone();
    reg(docs, "mount", &["sandbox: Sandbox", "source: String", "target: String", "fstype: String"], "/// Mounts a filesystem in the sandbox: proc, sysfs, tmpfs, devpts, mqueue, bind, rbind, overlay. The target is a path inside the sandbox's root.")
        .register_into_engine(engine, move |ctx: NativeCallContext, sb: &mut Sandbox, src: &str, target: &str, fstype: &str| -> R<()> {
            let call = Call::new(&ctx, "mount", &[src.into(), target.into(), fstype.into()]);
            mount(&s, &call, sb, src, target, fstype, &Map::new())
        });
    let s = session.clone();
    reg(docs, "mount", &["sandbox: Sandbox", "source: String", "target: String", "fstype: String", "options: Map"], "/// Mounts with options: readonly, nosuid, nodev, noexec, recursive (bind), data: \"size=64m\", lower/upper/work (overlay).")
        .register_into_engine(engine, move |ctx: NativeCallContext, sb: &mut Sandbox, src: &str, target: &str, fstype: &str, opts: Map| -> R<()> {
            let call = Call::new(&ctx, "mount", &[src.into(), target.into(), fstype.into(), Dynamic::from(opts.clone())]);
            mount(&s, &call, sb, src, target, fstype, &opts)
        });

    let s = session.clone();
    reg(docs, "chroot", &["sandbox: Sandbox", "path: String"], "/// Changes the sandbox's root directory (relative paths start at nsr's working directory); undo returns to the old root.")
        .register_into_engine(engine, move |ctx: NativeCallContext, sb: &mut Sandbox, path: &str| -> R<()> {
            let call = Call::new(&ctx, "chroot", &[path.into()]);
            if path.is_empty() {
                return Err(call.bad("the path is empty".into()));
            }
            call.perform(&s, Op::Chroot { sandbox: sb.id, path: path.to_string() })?;
            Ok(())
        });
    let s = session.clone();
    reg(
        docs,
        "pivot_root",
        &["sandbox: Sandbox", "new_root: String"],
        "/// Makes new_root the root of the sandbox's mount namespace and detaches the old root.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, sb: &mut Sandbox, path: &str| -> R<()> {
            let call = Call::new(&ctx, "pivot_root", &[path.into()]);
            if path.is_empty() {
                return Err(call.bad("the path is empty".into()));
            }
            call.perform(
                &s,
                Op::PivotRoot {
                    sandbox: sb.id,
                    new_root: path.to_string(),
                },
            )?;
            Ok(())
        },
    );
}

/// Commands in a sandbox: run (captured) and exec (on the terminal).
fn register_commands(engine: &mut Engine, docs: &mut Vec<PrimitiveDoc>, session: &Shared) {
    let s = session.clone();
    reg(
        docs,
        "run",
        &["sandbox: Sandbox", "command: Array | String"],
        "/// Runs a command in the sandbox and returns #{ code, ok, signal, stdout, stderr }.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, sb: &mut Sandbox, cmd: Dynamic| -> R<Map> {
            let call = Call::new(&ctx, "run", std::slice::from_ref(&cmd));
            run(&s, &call, sb, &cmd, &Map::new())
        },
    );
    let s = session.clone();
    reg(
        docs,
        "run",
        &[
            "sandbox: Sandbox",
            "command: Array | String",
            "options: Map",
        ],
        "/// Runs a command with options: env: #{...}, cwd, stdin, check: true (throw on failure), and the confinement options of unshare for this command only (privileged, caps, seccomp, no_new_privs, rlimits, run_as, landlock).",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, sb: &mut Sandbox, cmd: Dynamic, opts: Map| -> R<Map> {
            let call = Call::new(&ctx, "run", &[cmd.clone(), Dynamic::from(opts.clone())]);
            run(&s, &call, sb, &cmd, &opts)
        },
    );
    let s = session.clone();
    reg(docs, "exec", &["sandbox: Sandbox", "command: Array | String"], "/// Runs a command attached to your terminal (an interactive shell) and returns its exit status.")
        .register_into_engine(engine, move |ctx: NativeCallContext, sb: &mut Sandbox, cmd: Dynamic| -> R<i64> {
            let call = Call::new(&ctx, "exec", std::slice::from_ref(&cmd));
            exec(&s, &call, sb, &cmd, &Map::new())
        });
    let s = session.clone();
    reg(
        docs,
        "exec",
        &[
            "sandbox: Sandbox",
            "command: Array | String",
            "options: Map",
        ],
        "/// Runs an attached command with options: env, cwd.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, sb: &mut Sandbox, cmd: Dynamic, opts: Map| -> R<i64> {
            let call = Call::new(&ctx, "exec", &[cmd.clone(), Dynamic::from(opts.clone())]);
            exec(&s, &call, sb, &cmd, &opts)
        },
    );
}

/// What namespaces a process is in.
fn register_namespaces(engine: &mut Engine, docs: &mut Vec<PrimitiveDoc>, session: &Shared) {
    let s = session.clone();
    reg(
        docs,
        "namespaces",
        &["sandbox: Sandbox"],
        "/// The sandbox's namespaces: kind to inode, as `ls -l /proc/PID/ns` shows.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, sb: &mut Sandbox| -> R<Map> {
            let call = Call::new(&ctx, "namespaces", &[]);
            namespaces_of(&s, &call, sb.pid as i32)
        },
    );
    let s = session.clone();
    reg(
        docs,
        "namespaces",
        &["pid: i64"],
        "/// The namespaces of any process: kind to inode.",
    )
    .register_into_engine(engine, move |ctx: NativeCallContext, pid: i64| -> R<Map> {
        let call = Call::new(&ctx, "namespaces", &[Dynamic::from(pid)]);
        let pid = i32::try_from(pid)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| call.bad(format!("{pid} is not a process id")))?;
        namespaces_of(&s, &call, pid)
    });
    let s = session.clone();
    reg(
        docs,
        "namespaces",
        &[],
        "/// nsr's own namespaces (the host's, unless nsr itself runs in a container).",
    )
    .register_into_engine(engine, move |ctx: NativeCallContext| -> R<Map> {
        let call = Call::new(&ctx, "namespaces", &[]);
        namespaces_of(&s, &call, std::process::id() as i32)
    });
}

/// What a sandbox shows of itself: its mount table.
pub fn register_inspection(engine: &mut Engine, docs: &mut Vec<PrimitiveDoc>, session: &Shared) {
    let s = session.clone();
    reg(docs, "mountinfo", &["sandbox: Sandbox"], "/// The sandbox's mount table, as its /proc/self/mountinfo shows it: [#{ id, parent, target, fstype, source, options }].")
        .register_into_engine(engine, move |ctx: NativeCallContext, sb: &mut Sandbox| -> R<Array> {
            let call = Call::new(&ctx, "mountinfo", &[]);
            match call.perform(&s, Op::MountInfo { sandbox: sb.id })? {
                Output::MountInfo(m) => Ok(mounts_to_array(m)),
                other => Err(call.bad(format!("unexpected result {other:?}"))),
            }
        });
}
