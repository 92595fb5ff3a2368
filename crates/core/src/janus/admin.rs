//! Janus admin API frames (filled in by the server work).
