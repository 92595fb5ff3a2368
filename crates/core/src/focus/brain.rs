//! The focus's decision logic (being written: see issue 12).
