//! Integration tests of the coordinator through its public surface: real gRPC on
//! `127.0.0.1:0`, real SQLite and PostgreSQL with the shipped migrations (the `store` and
//! `leases` tests run on both, see `backends`), the shipped starter task set and
//! example agents, and workers that are the real `run_worker` session loop with canned
//! executors (or raw streams, where a test needs a worker to misbehave).
//!
//! | module     | what a user would notice                                              |
//! |------------|-----------------------------------------------------------------------|
//! | `grpc`     | a whole round: publish, submit, run, grade, leaderboard, weights       |
//! | `leases`   | vanished workers, heartbeats, duplicate and late reports, infra retries |
//! | `store`    | migrations, results and leases across a coordinator restart            |
//! | `coordinators` | two coordinators on one database: no run twice, leases move between them |
//! | `failover` | workers given several coordinators move on when theirs goes away       |
//! | `errors`   | bad requests get clear, typed errors                                   |
//! | `miners`   | submission limits per hotkey, declared resources, run trajectories     |
//! | `auth`     | signed submissions and worker hellos, membership and validator permits  |
//! | `chain`    | membership synced from a localnet, and the leaderboard's Yuma incentive |
//! | `epochs`   | epochs seeded by a localnet's block hashes: sets, run ids, fresh tasks   |
//! | `solve`    | the solve API over HTTP: keys, limits, errors, events, cancel, isolation, shared databases |
//! | `web`      | the dashboard in headless Chromium: pages, charts, links, visibility    |

mod auth;
mod backends;
mod chain;
mod consensus;
mod coordinators;
mod copies;
mod epochs;
mod errors;
mod failover;
mod grpc;
mod leases;
mod miners;
mod solve;
mod store;
mod support;
mod web;
