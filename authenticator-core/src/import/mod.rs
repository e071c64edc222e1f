//! Accounts brought in from other authenticators. (Being written.)
