//! Tests of the exact localization code against closed forms, finite differences,
//! brute force and Monte Carlo.
use super::*;
