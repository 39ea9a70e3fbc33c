//! An evidence bundle: read once, the base of every round.

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
    fn gather(&mut self, _: &Known, _: &Settings) -> Result<Gathering> {
        let loaded = match &self.loaded {
            Some(e) => e.clone(),
            None => self
                .loaded
                .insert(crate::evidence::bundle::load(&self.dir)?)
                .clone(),
        };
        Ok(Gathering::Base(loaded))
    }

    /// A bundle holds what it was collected with, whatever the others learn.
    fn grows(&mut self, _: &Known, _: &Settings) -> bool {
        false
    }
}
