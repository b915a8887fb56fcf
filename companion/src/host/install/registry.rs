//! Windows only: the registry keys through which browsers find a host manifest (the key's
//! default value is the manifest file's path). Which key is [`super::browsers::registry_key`],
//! pure and tested on every OS; this file only reads, writes and deletes it, with Microsoft's
//! `windows-registry` crate (already in the build through reqwest's proxy lookup).

use std::io;
use std::path::Path;

use windows_registry::{CURRENT_USER, Key, LOCAL_MACHINE};

use super::browsers::{Hive, RegistryKey};

/// `ERROR_FILE_NOT_FOUND` as the HRESULT windows-registry reports.
const NOT_FOUND: i32 = 0x8007_0002_u32 as i32;

fn root(hive: Hive) -> &'static Key {
    match hive {
        Hive::CurrentUser => CURRENT_USER,
        Hive::LocalMachine => LOCAL_MACHINE,
    }
}

fn io_error(e: windows_registry::Result<()>) -> io::Result<()> {
    e.map_err(|e| {
        if e.code().0 == NOT_FOUND {
            io::Error::new(io::ErrorKind::NotFound, e.message())
        } else {
            io::Error::other(e.message())
        }
    })
}

/// Points `key` at `manifest`, creating the key.
pub fn set(key: &RegistryKey, manifest: &Path) -> io::Result<()> {
    let value = manifest.to_string_lossy();
    io_error(
        root(key.hive)
            .create(&key.path)
            .and_then(|k| k.set_string("", value.as_ref())),
    )
}

/// The manifest path `key` points at; `None` when there is no such key.
pub fn get(key: &RegistryKey) -> io::Result<Option<String>> {
    let mut found = None;
    match io_error(root(key.hive).open(&key.path).and_then(|k| {
        found = Some(k.get_string("")?);
        Ok(())
    })) {
        Ok(()) => Ok(found),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Deletes `key`; `false` when it was not there.
pub fn delete(key: &RegistryKey) -> io::Result<bool> {
    match io_error(root(key.hive).remove_tree(&key.path)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}
