//! Integration tests: the built binary against the moto server (real aws-sdk-rust clients
//! over HTTP), and the library's AWS paths against `aws-smithy-mocks` where the emulator
//! cannot express a case.

mod canary;
mod check_emulator;
mod check_mocked;
mod cli;
mod deploy;
mod digests_mocked;
mod errors;
mod evidence_pack;
mod fault_proxy;
mod hostile;
mod iam_enforced;
mod incremental;
mod real_corpus;
mod scan_local;
mod shards;
mod util;
mod validate_emulator;
mod verify_emulator;
