//! Local container images: a `docker save` archive, or an OCI image layout (a directory,
//! or a tarball of one). The image's layers are found through its manifest and applied
//! in order, with their whiteouts, by the same safe extractor. Local files only.

use super::extract::{ExtractOptions, ExtractReport, Extractor};
use crate::ops::OpError;
use nix::errno::Errno;
use serde::Deserialize;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

fn io(e: std::io::Error, what: String) -> OpError {
    OpError::os(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)), what)
}

/// Where the image's files are: a directory, or members of an uncompressed tarball
/// (found by offset, so a layer is read straight from the archive without copying it).
enum Source {
    Dir(PathBuf),
    Tar {
        path: PathBuf,
        members: HashMap<String, (u64, u64)>,
    },
}

impl Source {
    fn open(path: &Path) -> Result<Source, OpError> {
        if path.is_dir() {
            return Ok(Source::Dir(path.to_path_buf()));
        }
        let file =
            File::open(path).map_err(|e| io(e, format!("cannot open {}", path.display())))?;
        let mut archive = tar::Archive::new(file);
        let mut members = HashMap::new();
        let entries = archive.entries_with_seek().map_err(|e| {
            io(
                e,
                format!(
                    "{} is not an image archive (docker save or OCI tarball)",
                    path.display()
                ),
            )
        })?;
        for entry in entries {
            let entry = entry.map_err(|e| {
                io(e, format!("{} is not a readable image archive (an uncompressed docker save or OCI tarball)", path.display()))
            })?;
            let name = String::from_utf8_lossy(&entry.path_bytes())
                .trim_start_matches("./")
                .to_string();
            members.insert(name, (entry.raw_file_position(), entry.size()));
        }
        Ok(Source::Tar {
            path: path.to_path_buf(),
            members,
        })
    }

    fn name(&self) -> String {
        match self {
            Source::Dir(p) | Source::Tar { path: p, .. } => p.display().to_string(),
        }
    }

    fn has(&self, name: &str) -> bool {
        match self {
            Source::Dir(d) => d.join(name).is_file(),
            Source::Tar { members, .. } => members.contains_key(name),
        }
    }

    /// A file of the image, by its name in the layout (never outside it).
    fn reader(&self, name: &str) -> Result<Box<dyn Read + Send>, OpError> {
        if name.split('/').any(|c| c == "..") || name.starts_with('/') {
            return Err(OpError::os(
                Errno::EPERM,
                format!("the image names a file outside itself: {name}"),
            ));
        }
        match self {
            Source::Dir(d) => {
                // Resolved beneath the layout directory without following any symlink:
                // an untrusted layout cannot make nsr read a file from elsewhere.
                use rustix::fs::{openat2, Mode, OFlags, ResolveFlags, CWD};
                let dir = openat2(
                    CWD,
                    d,
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                    ResolveFlags::empty(),
                )
                .map_err(|e| {
                    OpError::os(
                        Errno::from_raw(e.raw_os_error()),
                        format!("cannot open {}", d.display()),
                    )
                })?;
                let fd = openat2(
                    &dir,
                    name,
                    OFlags::RDONLY | OFlags::CLOEXEC,
                    Mode::empty(),
                    ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
                )
                .map_err(|e| {
                    OpError::os(
                        Errno::from_raw(e.raw_os_error()),
                        format!("the image lacks {name} as a plain file ({})", self.name()),
                    )
                })?;
                let file = File::from(fd);
                let is_file = file.metadata().map(|m| m.is_file()).unwrap_or(false);
                if !is_file {
                    return Err(OpError::os(
                        Errno::EPERM,
                        format!("{name} in the image is not a regular file"),
                    ));
                }
                Ok(Box::new(file))
            }
            Source::Tar { path, members } => {
                let (offset, size) = *members.get(name).ok_or_else(|| {
                    OpError::os(
                        Errno::ENOENT,
                        format!("the image lacks {name} ({})", path.display()),
                    )
                })?;
                let mut f = File::open(path)
                    .map_err(|e| io(e, format!("cannot open {}", path.display())))?;
                f.seek(SeekFrom::Start(offset))
                    .map_err(|e| io(e, format!("cannot read {}", path.display())))?;
                Ok(Box::new(f.take(size)))
            }
        }
    }

    fn json<T: for<'de> Deserialize<'de>>(&self, name: &str) -> Result<T, OpError> {
        let mut text = Vec::new();
        self.reader(name)?
            .take(64 << 20)
            .read_to_end(&mut text)
            .map_err(|e| io(e, format!("cannot read {name}")))?;
        serde_json::from_slice(&text).map_err(|e| {
            OpError::new(format!(
                "{name} in {} is not what an image holds: {e}",
                self.name()
            ))
        })
    }
}

#[derive(Deserialize)]
struct DockerManifest {
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

#[derive(Deserialize)]
struct OciIndex {
    manifests: Vec<OciDescriptor>,
}

#[derive(Deserialize)]
struct OciDescriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    platform: Option<OciPlatform>,
    #[serde(default)]
    annotations: Option<HashMap<String, String>>,
}

#[derive(Deserialize)]
struct OciPlatform {
    architecture: String,
    os: String,
}

#[derive(Deserialize)]
struct OciManifest {
    layers: Vec<OciDescriptor>,
}

fn blob(digest: &str) -> Result<String, OpError> {
    let (algo, hex) = digest
        .split_once(':')
        .ok_or_else(|| OpError::new(format!("'{digest}' is not a digest")))?;
    if !algo.chars().all(|c| c.is_ascii_alphanumeric())
        || !hex.chars().all(|c| c.is_ascii_hexdigit())
    {
        return Err(OpError::new(format!("'{digest}' is not a digest")));
    }
    Ok(format!("blobs/{algo}/{hex}"))
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The image's layer files, lowest first. `tag` picks one of several images.
fn layers(src: &Source, tag: Option<&str>) -> Result<Vec<String>, OpError> {
    if src.has("manifest.json") {
        let images: Vec<DockerManifest> = src.json("manifest.json")?;
        let tags = |m: &DockerManifest| m.repo_tags.clone().unwrap_or_default();
        let chosen = match tag {
            Some(t) => images
                .iter()
                .find(|m| tags(m).iter().any(|x| x == t))
                .ok_or_else(|| {
                    let all: Vec<String> = images.iter().flat_map(tags).collect();
                    OpError::os(
                        Errno::ENOENT,
                        format!(
                            "no image tagged {t} in {} (it has: {})",
                            src.name(),
                            all.join(", ")
                        ),
                    )
                })?,
            None if images.len() == 1 => &images[0],
            None => {
                let all: Vec<String> = images.iter().flat_map(tags).collect();
                return Err(OpError::new(format!(
                    "{} holds {} images; say which with tag: (one of {})",
                    src.name(),
                    images.len(),
                    all.join(", ")
                )));
            }
        };
        return Ok(chosen.layers.clone());
    }
    if src.has("index.json") {
        let mut index: OciIndex = src.json("index.json")?;
        // An index may point at another index (a multi-platform image): one level down.
        for _ in 0..2 {
            let pick = pick_manifest(&index.manifests, tag, &src.name())?;
            if pick.media_type.contains("image.index") || pick.media_type.contains("manifest.list")
            {
                index = src.json(&blob(&pick.digest)?)?;
                continue;
            }
            let manifest: OciManifest = src.json(&blob(&pick.digest)?)?;
            return manifest.layers.iter().map(|l| blob(&l.digest)).collect();
        }
        return Err(OpError::new(format!(
            "the image index of {} nests too deep",
            src.name()
        )));
    }
    Err(OpError::os(
        Errno::ENOENT,
        format!(
            "{} has neither manifest.json (docker save) nor index.json (OCI layout)",
            src.name()
        ),
    )
    .with_hint(
        "make one with: docker save IMAGE -o image.tar (or skopeo copy docker://... oci:DIR)",
    ))
}

fn pick_manifest<'a>(
    all: &'a [OciDescriptor],
    tag: Option<&str>,
    name: &str,
) -> Result<&'a OciDescriptor, OpError> {
    if let Some(t) = tag {
        return all
            .iter()
            .find(|d| {
                d.annotations.as_ref().is_some_and(|a| {
                    a.get("org.opencontainers.image.ref.name")
                        .map(String::as_str)
                        == Some(t)
                        || a.get("io.containerd.image.name").map(String::as_str) == Some(t)
                })
            })
            .ok_or_else(|| OpError::os(Errno::ENOENT, format!("no image named {t} in {name}")));
    }
    if all.len() == 1 {
        return Ok(&all[0]);
    }
    all.iter()
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == host_arch())
        })
        .or_else(|| all.first())
        .ok_or_else(|| OpError::new(format!("the image index of {name} lists no manifest")))
}

/// Applies the image's layers, lowest first, into `root`.
pub fn extract(
    path: &Path,
    root: &OwnedFd,
    opts: ExtractOptions,
    tag: Option<&str>,
) -> Result<ExtractReport, OpError> {
    let src = Source::open(path)?;
    let layers = layers(&src, tag)?;
    let mut x = Extractor::new(root, opts, true);
    for layer in &layers {
        let label = format!("{} layer {layer}", src.name());
        x.apply(src.reader(layer)?, &label)?;
    }
    x.finish()
}
