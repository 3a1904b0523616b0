//! The root filesystem primitives: a tarball becomes a directory a sandbox can chroot to.

use super::primitives::{reg, Call, PrimitiveDoc, Shared, R};
use crate::ops::{Op, Output};
use crate::rootfs::ops::RootfsOp;
use rhai::{Dynamic, Engine, Map, NativeCallContext};

fn from_tar(session: &Shared, call: &Call, archive: &str, dir: &str, opts: &Map) -> R<String> {
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
                    "unknown option '{other}' for rootfs_from_tar (known: strict, progress)"
                )))
            }
        }
    }
    if archive.is_empty() || dir.is_empty() {
        return Err(call.bad("the archive and the directory must be named".into()));
    }
    let op = RootfsOp::FromTar {
        archive: archive.into(),
        dir: dir.into(),
        strict,
        progress,
    };
    match call.perform(session, Op::Rootfs(op))? {
        Output::Text(t) => Ok(t),
        other => Err(call.bad(format!("unexpected result {other:?}"))),
    }
}

pub fn register(engine: &mut Engine, docs: &mut Vec<PrimitiveDoc>, session: &Shared) {
    let s = session.clone();
    reg(docs, "rootfs_from_tar", &["archive: String", "dir: String"], "/// Extracts a `docker export` tarball (plain, gzip, zstd or xz) into DIR (new or empty) and returns its absolute path; undo removes what was extracted.")
        .register_into_engine(engine, move |ctx: NativeCallContext, archive: &str, dir: &str| -> R<String> {
            let call = Call::new(&ctx, "rootfs_from_tar", &[archive.into(), dir.into()]);
            from_tar(&s, &call, archive, dir, &Map::new())
        });
    let s = session.clone();
    reg(docs, "rootfs_from_tar", &["archive: String", "dir: String", "options: Map"], "/// Extraction with options: strict: true (device nodes it cannot create and unsafe names are errors, not skipped), progress: false.")
        .register_into_engine(engine, move |ctx: NativeCallContext, archive: &str, dir: &str, opts: Map| -> R<String> {
            let call = Call::new(&ctx, "rootfs_from_tar", &[archive.into(), dir.into(), Dynamic::from(opts.clone())]);
            from_tar(&s, &call, archive, dir, &opts)
        });
}
