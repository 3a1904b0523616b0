//! The root filesystem primitives: a tarball becomes a directory a sandbox can chroot to.

use super::call::{reg, Call, PrimitiveDoc, Shared, R};
use super::values::Sandbox;
use crate::ops::rootfs::RootfsOp;
use crate::ops::{Op, Output};
use rhai::{Dynamic, Engine, Map, NativeCallContext};

/// `strict` and `progress` from an options map.
fn extract_options(call: &Call, opts: &Map, primitive: &str) -> R<(bool, bool)> {
    let mut strict = false;
    let mut progress = true;
    for (k, v) in opts {
        let flag = || {
            v.as_bool()
                .map_err(|_| call.bad(format!("{k} must be true or false")))
        };
        match k.as_str() {
            "strict" => strict = flag()?,
            "progress" => progress = flag()?,
            other => {
                return Err(call.bad(format!(
                    "unknown option '{other}' for {primitive} (known: strict, progress)"
                )))
            }
        }
    }
    Ok((strict, progress))
}

fn cached(session: &Shared, call: &Call, archive: &str, opts: &Map) -> R<String> {
    let (strict, progress) = extract_options(call, opts, "rootfs_cache")?;
    if archive.is_empty() {
        return Err(call.bad("the archive must be named".into()));
    }
    let op = RootfsOp::Cached {
        archive: archive.into(),
        strict,
        progress,
    };
    perform(session, call, None, op)
}

/// Runs the op in nsr, or inside the sandbox (its user namespace maps the owners).
fn perform(session: &Shared, call: &Call, sandbox: Option<&Sandbox>, op: RootfsOp) -> R<String> {
    let op = match sandbox {
        Some(sb) => Op::RootfsIn { sandbox: sb.id, op },
        None => Op::Rootfs(op),
    };
    match call.perform(session, op)? {
        Output::Text(t) => Ok(t),
        other => Err(call.bad(format!("unexpected result {other:?}"))),
    }
}

fn from_tar(
    session: &Shared,
    call: &Call,
    sandbox: Option<&Sandbox>,
    archive: &str,
    dir: &str,
    opts: &Map,
) -> R<String> {
    let (strict, progress) = extract_options(call, opts, "rootfs_from_tar")?;
    if archive.is_empty() || dir.is_empty() {
        return Err(call.bad("the archive and the directory must be named".into()));
    }
    let op = RootfsOp::FromTar {
        archive: archive.into(),
        dir: dir.into(),
        strict,
        progress,
    };
    perform(session, call, sandbox, op)
}

fn overlay(session: &Shared, call: &Call, lower: &Dynamic, dir: &str) -> R<String> {
    let lower: Vec<String> = if let Ok(s) = lower.clone().into_string() {
        vec![s]
    } else if let Ok(a) = lower.clone().into_array() {
        a.into_iter()
            .map(|d| {
                d.into_string()
                    .map_err(|_| call.bad("each lower directory must be a string".into()))
            })
            .collect::<R<Vec<String>>>()?
    } else {
        return Err(call
            .bad("lower must be a directory or an array of directories (uppermost first)".into()));
    };
    if lower.is_empty() || lower.iter().any(|l| l.is_empty()) || dir.is_empty() {
        return Err(call.bad("the lower directories and the mount point must be named".into()));
    }
    match call.perform(
        session,
        Op::Rootfs(RootfsOp::Overlay {
            lower,
            dir: dir.into(),
        }),
    )? {
        Output::Text(t) => Ok(t),
        other => Err(call.bad(format!("unexpected result {other:?}"))),
    }
}

fn from_image(
    session: &Shared,
    call: &Call,
    sandbox: Option<&Sandbox>,
    image: &str,
    dir: &str,
    opts: &Map,
) -> R<String> {
    let mut rest = opts.clone();
    let tag = match rest.remove("tag") {
        Some(t) => Some(
            t.into_string()
                .map_err(|_| call.bad("tag must be a string such as \"alpine:3.20\"".into()))?,
        ),
        None => None,
    };
    if let Some(k) = opts
        .keys()
        .find(|k| !["tag", "strict", "progress"].contains(&k.as_str()))
    {
        return Err(call.bad(format!(
            "unknown option '{k}' for rootfs_from_image (known: tag, strict, progress)"
        )));
    }
    let (strict, progress) = extract_options(call, &rest, "rootfs_from_image")?;
    if image.is_empty() || dir.is_empty() {
        return Err(call.bad("the image and the directory must be named".into()));
    }
    let op = RootfsOp::FromImage {
        image: image.into(),
        dir: dir.into(),
        tag,
        strict,
        progress,
    };
    perform(session, call, sandbox, op)
}

pub fn register(engine: &mut Engine, docs: &mut Vec<PrimitiveDoc>, session: &Shared) {
    let s = session.clone();
    reg(docs, "make_dir", &["path: String"], "/// `mkdir -p PATH` on the host; returns its absolute path; undo removes the directories it made (only while empty).")
        .register_into_engine(engine, move |ctx: NativeCallContext, path: &str| -> R<String> {
            let call = Call::new(&ctx, "make_dir", &[path.into()]);
            if path.is_empty() {
                return Err(call.bad("the directory is not named".into()));
            }
            perform(&s, &call, None, RootfsOp::MakeDir { path: path.into() })
        });
    let s = session.clone();
    reg(docs, "rootfs_from_tar", &["sandbox: Sandbox", "archive: String", "dir: String"], "/// Extracts inside the sandbox's user namespace, so owners map through its id maps (run it before chroot); undo removes the tree from inside too.")
        .register_into_engine(engine, move |ctx: NativeCallContext, sb: &mut Sandbox, archive: &str, dir: &str| -> R<String> {
            let call = Call::new(&ctx, "rootfs_from_tar", &[archive.into(), dir.into()]);
            from_tar(&s, &call, Some(sb), archive, dir, &Map::new())
        });
    let s = session.clone();
    reg(
        docs,
        "rootfs_from_tar",
        &[
            "sandbox: Sandbox",
            "archive: String",
            "dir: String",
            "options: Map",
        ],
        "/// The same with options: strict.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext,
              sb: &mut Sandbox,
              archive: &str,
              dir: &str,
              opts: Map|
              -> R<String> {
            let call = Call::new(
                &ctx,
                "rootfs_from_tar",
                &[archive.into(), dir.into(), Dynamic::from(opts.clone())],
            );
            from_tar(&s, &call, Some(sb), archive, dir, &opts)
        },
    );
    register_image(engine, docs, session);
    let s = session.clone();
    reg(docs, "rootfs_cache", &["archive: String"], "/// The archive extracted once into nsr's cache (by the SHA-256 of its bytes) and reused by later runs: a read-only base for overlay_root. Kept after the run; `nsr cache ls` / `nsr cache clear`.")
        .register_into_engine(engine, move |ctx: NativeCallContext, archive: &str| -> R<String> {
            let call = Call::new(&ctx, "rootfs_cache", &[archive.into()]);
            cached(&s, &call, archive, &Map::new())
        });
    let s = session.clone();
    reg(
        docs,
        "rootfs_cache",
        &["archive: String", "options: Map"],
        "/// The cached extraction with options: strict, progress.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, archive: &str, opts: Map| -> R<String> {
            let call = Call::new(
                &ctx,
                "rootfs_cache",
                &[archive.into(), Dynamic::from(opts.clone())],
            );
            cached(&s, &call, archive, &opts)
        },
    );
    let s = session.clone();
    reg(docs, "overlay_root", &["lower: String | Array", "dir: String"], "/// A writable copy-on-write root at DIR over read-only LOWER (an extracted base, shared by many sandboxes); undo unmounts it and removes its upper and work directories.")
        .register_into_engine(engine, move |ctx: NativeCallContext, lower: Dynamic, dir: &str| -> R<String> {
            let call = Call::new(&ctx, "overlay_root", &[lower.clone(), dir.into()]);
            overlay(&s, &call, &lower, dir)
        });
    let s = session.clone();
    reg(docs, "rootfs_from_tar", &["archive: String", "dir: String"], "/// Extracts a `docker export` tarball (plain, gzip, zstd or xz) into DIR (new or empty) and returns its absolute path; undo removes what was extracted.")
        .register_into_engine(engine, move |ctx: NativeCallContext, archive: &str, dir: &str| -> R<String> {
            let call = Call::new(&ctx, "rootfs_from_tar", &[archive.into(), dir.into()]);
            from_tar(&s, &call, None, archive, dir, &Map::new())
        });
    let s = session.clone();
    reg(docs, "rootfs_from_tar", &["archive: String", "dir: String", "options: Map"], "/// Extraction with options: strict: true (device nodes it cannot create and unsafe names are errors, not skipped), progress: false.")
        .register_into_engine(engine, move |ctx: NativeCallContext, archive: &str, dir: &str, opts: Map| -> R<String> {
            let call = Call::new(&ctx, "rootfs_from_tar", &[archive.into(), dir.into(), Dynamic::from(opts.clone())]);
            from_tar(&s, &call, None, archive, dir, &opts)
        });
}

/// `rootfs_from_image` in its forms: on the host or in a sandbox, with or without options.
fn register_image(engine: &mut Engine, docs: &mut Vec<PrimitiveDoc>, session: &Shared) {
    let s = session.clone();
    reg(docs, "rootfs_from_image", &["sandbox: Sandbox", "image: String", "dir: String"], "/// Builds the image's root inside the sandbox's user namespace (owners mapped through its id maps).")
        .register_into_engine(engine, move |ctx: NativeCallContext, sb: &mut Sandbox, image: &str, dir: &str| -> R<String> {
            let call = Call::new(&ctx, "rootfs_from_image", &[image.into(), dir.into()]);
            from_image(&s, &call, Some(sb), image, dir, &Map::new())
        });
    let s = session.clone();
    reg(
        docs,
        "rootfs_from_image",
        &[
            "sandbox: Sandbox",
            "image: String",
            "dir: String",
            "options: Map",
        ],
        "/// The same with options: tag, strict, progress.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext,
              sb: &mut Sandbox,
              image: &str,
              dir: &str,
              opts: Map|
              -> R<String> {
            let call = Call::new(
                &ctx,
                "rootfs_from_image",
                &[image.into(), dir.into(), Dynamic::from(opts.clone())],
            );
            from_image(&s, &call, Some(sb), image, dir, &opts)
        },
    );
    let s = session.clone();
    reg(docs, "rootfs_from_image", &["image: String", "dir: String"], "/// Builds a root in DIR from a local image: a `docker save` archive, or an OCI layout (directory or tarball); layers in order, whiteouts honoured; undo removes it.")
        .register_into_engine(engine, move |ctx: NativeCallContext, image: &str, dir: &str| -> R<String> {
            let call = Call::new(&ctx, "rootfs_from_image", &[image.into(), dir.into()]);
            from_image(&s, &call, None, image, dir, &Map::new())
        });
    let s = session.clone();
    reg(docs, "rootfs_from_image", &["image: String", "dir: String", "options: Map"], "/// The image root with options: tag: \"name:tag\" (when the archive holds several), strict, progress.")
        .register_into_engine(engine, move |ctx: NativeCallContext, image: &str, dir: &str, opts: Map| -> R<String> {
            let call = Call::new(&ctx, "rootfs_from_image", &[image.into(), dir.into(), Dynamic::from(opts.clone())]);
            from_image(&s, &call, None, image, dir, &opts)
        });
}
