//! SigV4 verification against real signers: the AWS SDK for Rust's `aws-sigv4`, botocore and the
//! AWS CRT that the IoT Device SDK v2 uses.

mod aws_sdk;
mod botocore;
mod common;
mod device_sdk;
mod rejections;
mod suite;
