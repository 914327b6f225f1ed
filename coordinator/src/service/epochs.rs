//! `Scores.Epochs`: the epoch rules, every recorded boundary with the set it gives, and the
//! pool and fresh tasks — everything a validator needs, beside the chain's own block hashes,
//! to recompute which tasks belong to which epoch.

use std::sync::atomic::Ordering;

use whetstone_chain::epochs::{EpochRules, EpochSeed};
use whetstone_proto::pb;

use super::{ApiError, Services};
use crate::epochs::EpochView;

/// The rules on the wire.
pub(crate) fn rules_to_wire(rules: &EpochRules) -> pb::EpochRules {
    pb::EpochRules {
        genesis_block: rules.genesis_block,
        length_blocks: rules.length_blocks,
        draw: rules.draw,
        fresh: rules.fresh,
        decay: rules.decay,
    }
}

impl Services {
    pub(super) async fn epochs_listing(&self) -> Result<pb::EpochsResponse, ApiError> {
        let Some(rules) = self.config.epochs else {
            return Ok(pb::EpochsResponse::default());
        };
        let view = EpochView::load(self.store.as_ref(), rules).await?;
        let coverage = view.coverage();
        let epochs = view
            .rows
            .iter()
            .map(|row| {
                let seed = EpochSeed::derive(row.epoch, &row.block_hash);
                let set = usize::try_from(row.epoch).ok().and_then(|e| view.sets.get(e));
                pb::EpochRecord {
                    epoch: row.epoch,
                    boundary_block: row.boundary_block,
                    block_hash: hex::encode(row.block_hash),
                    seed: seed.to_hex(),
                    generator_seed: seed.generator_seed(),
                    drawn: set.map_or(0, |s| u32::try_from(s.drawn.len()).unwrap_or(u32::MAX)),
                    fresh: set.map_or(0, |s| u32::try_from(s.fresh.len()).unwrap_or(u32::MAX)),
                }
            })
            .collect();
        Ok(pb::EpochsResponse {
            rules: Some(rules_to_wire(&rules)),
            epochs,
            pool: view.pool.iter().map(|p| pb::PoolEntry { task_digest: p.task.to_string(), eligible_from: p.eligible_from }).collect(),
            fresh: view
                .fresh
                .iter()
                .map(|f| pb::FreshEntry { task_digest: f.task.to_string(), epoch: f.epoch, generator_seed: f.generator_seed })
                .collect(),
            undrawn: coverage.undrawn,
            epochs_covered: coverage.epochs,
            head_block: self.epoch_head.load(Ordering::Relaxed),
        })
    }
}
