//! Which relay each push enrollment streams from: `<vault>.relays.json`, a small map from device
//! id to relay URL next to the vault. Nothing in it is secret (the stream token stays in the
//! encrypted vault), and the core's vault format does not need to know about relays.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::failure::{Context, Failure};

/// The relay URLs of a vault's push enrollments, by device id.
#[derive(Debug, Default)]
pub struct Relays {
    path: PathBuf,
    by_device: BTreeMap<String, String>,
}

impl Relays {
    /// Reads the file beside the vault at `vault_path` (empty when there is none).
    pub fn load(vault_path: &Path) -> Result<Self, Failure> {
        let mut name = vault_path.as_os_str().to_owned();
        name.push(".relays.json");
        let path = PathBuf::from(name);
        let by_device = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).context(|| {
                format!("{} is damaged (delete it and enroll again)", path.display())
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(Failure::new(format!("reading {}: {e}", path.display()))),
        };
        Ok(Self { path, by_device })
    }

    /// The relay of the enrollment `device_id`, if it has one.
    pub fn get(&self, device_id: &str) -> Option<&str> {
        self.by_device.get(device_id).map(String::as_str)
    }

    /// Records (or with `None` forgets) the relay of `device_id`, and writes the file.
    pub fn set(&mut self, device_id: &str, relay: Option<&str>) -> Result<(), Failure> {
        match relay {
            Some(url) => {
                self.by_device.insert(device_id.to_owned(), url.to_owned());
            }
            None => {
                self.by_device.remove(device_id);
            }
        }
        self.save()
    }

    /// Forgets the relays of devices not in `live` (the vault's current enrollments), and
    /// writes the file.
    pub fn keep_only(&mut self, live: &[&str]) -> Result<(), Failure> {
        self.by_device
            .retain(|device, _| live.contains(&device.as_str()));
        self.save()
    }

    /// Writes the file with the core's crash-safe write (temporary file, fsync, rename, fsync of
    /// the directory; readable by the owner only).
    fn save(&self) -> Result<(), Failure> {
        let mut bytes =
            serde_json::to_vec_pretty(&self.by_device).map_err(|e| Failure::new(e.to_string()))?;
        bytes.push(b'\n');
        authenticator_core::atomic::write(&self.path, &bytes)
            .context(|| format!("writing {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_forgets() {
        let dir = tempfile::tempdir().unwrap();
        let vault = dir.path().join("vault.json");
        let mut relays = Relays::load(&vault).unwrap();
        relays.set("dev1", Some("http://relay")).unwrap();
        relays.set("dev2", Some("http://other")).unwrap();
        let mut again = Relays::load(&vault).unwrap();
        assert_eq!(again.get("dev1"), Some("http://relay"));
        assert_eq!(again.get("dev2"), Some("http://other"));
        again.set("dev2", None).unwrap();
        assert_eq!(Relays::load(&vault).unwrap().get("dev2"), None);
        // Devices no longer in the vault are dropped.
        again.set("dev3", Some("http://x")).unwrap();
        again.keep_only(&["dev3"]).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join("vault.json.relays.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o777,
                0o600,
                "written by the core's crash-safe write"
            );
        }
        let last = Relays::load(&vault).unwrap();
        assert_eq!(
            (last.get("dev1"), last.get("dev3")),
            (None, Some("http://x"))
        );
    }
}
