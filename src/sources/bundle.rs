//! An evidence bundle: read once (its signature checked first when the run trusts a key,
//! docs/integrity.md "Signed bundles"), the base of every round.

use std::path::PathBuf;

use anyhow::Result;

use super::{Gathering, Known, Settings, Source};
use crate::model::Evidence;

pub struct Bundle {
    dir: PathBuf,
    loaded: Option<Evidence>,
}

impl Bundle {
    pub fn new(dir: PathBuf) -> Bundle {
        Bundle { dir, loaded: None }
    }
}

impl Source for Bundle {
    fn gather(&mut self, _: &Known, settings: &Settings) -> Result<Gathering> {
        let loaded = match &self.loaded {
            Some(e) => e.clone(),
            None => self
                .loaded
                .insert(crate::evidence::bundle::load_checked(
                    &self.dir,
                    settings.trust.as_ref(),
                    &settings.aws,
                )?)
                .clone(),
        };
        Ok(Gathering::Base(loaded))
    }

    /// A bundle holds what it was collected with, whatever the others learn.
    fn grows(&mut self, _: &Known, _: &Settings) -> bool {
        false
    }
}
