//! Small edits of session descriptions before they are applied.
//!
//! **Start bitrate.** A sender's bandwidth estimate starts at Chrome's default of 300 kbps,
//! and the pacer sends the first key frame of a screen (20–100 KB of text) at that rate: in the
//! media bench's A/B run that was ~650 ms of a viewer's first second spent after the connection
//! was up (connected → first frame p50 778 ms at the default, 133 ms with a 2.5 Mbps start).
//! The sender reads `x-google-start-bitrate` (kbps) from the video codec's parameters in the
//! *remote* description, so the sending side adds it to each answer it applies
//! ([`with_video_start_bitrate`]). The estimate still falls at once where the path is slower.

//! **Voice at a constant bitrate.** Opus's variable bitrate makes each frame's size follow
//! what is said, and sizes are what the SFU and a TURN relay see of end-to-end encrypted voice
//! (phrases can be told apart from them). The sender reads `cbr` from Opus's parameters in the
//! remote description, so each side adds `cbr=1` to every description it applies
//! ([`with_constant_voice_bitrate`]).

/// Where a screen's bandwidth estimate starts (kbps): enough for the first key frame of a
/// 1080p page of text to leave in tens of milliseconds; below every preset's cap but Low's.
pub const SCREEN_START_KBPS: u32 = 2_000;

/// `sdp` with `x-google-start-bitrate=<kbps>` in the format parameters of every VP8 payload
/// type (a new `a=fmtp` line after the `a=rtpmap` where there is none). Payload types that
/// already name a start bitrate, and everything else, are left as they are; line endings are
/// kept.
pub fn with_video_start_bitrate(sdp: &str, kbps: u32) -> String {
    with_codec_param(sdp, "VP8/", "x-google-start-bitrate", &kbps.to_string())
}

/// `sdp` with `cbr=1` in the format parameters of every Opus payload type (as
/// [`with_video_start_bitrate`] adds its parameter; one that names `cbr` already is left).
pub fn with_constant_voice_bitrate(sdp: &str) -> String {
    with_codec_param(sdp, "OPUS/", "cbr", "1")
}

/// `name=value` in the format parameters of every payload type of `codec` (an `rtpmap`
/// encoding-name prefix such as `"VP8/"`, any case). One pass to find them, one to write.
fn with_codec_param(sdp: &str, codec: &str, name: &str, value: &str) -> String {
    let eol = if sdp.contains("\r\n") { "\r\n" } else { "\n" };
    // Where an `a=rtpmap:<pt> …` or `a=fmtp:<pt> …` line's payload type ends.
    let attr = |line: &str, prefix: &str| -> Option<usize> {
        Some(prefix.len() + line.strip_prefix(prefix)?.find(' ')?)
    };
    let mut ours: Vec<&str> = Vec::new();
    let mut with_fmtp: Vec<&str> = Vec::new();
    for line in sdp.split(eol) {
        if let Some(end) = attr(line, "a=rtpmap:") {
            let encoding = &line[end + 1..];
            if encoding
                .get(..codec.len())
                .is_some_and(|c| c.eq_ignore_ascii_case(codec))
            {
                ours.push(&line["a=rtpmap:".len()..end]);
            }
        } else if let Some(end) = attr(line, "a=fmtp:") {
            with_fmtp.push(&line["a=fmtp:".len()..end]);
        }
    }
    if ours.is_empty() {
        return sdp.to_owned();
    }
    let named = |p: &str| {
        let p = p.trim_start();
        p.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('='))
    };
    let mut out = String::with_capacity(sdp.len() + 32 * ours.len());
    for (i, line) in sdp.split(eol).enumerate() {
        if i > 0 {
            out.push_str(eol);
        }
        out.push_str(line);
        if let Some(end) = attr(line, "a=fmtp:") {
            let pt = &line["a=fmtp:".len()..end];
            if ours.contains(&pt) && !line[end + 1..].split(';').any(named) {
                for part in [";", name, "=", value] {
                    out.push_str(part);
                }
            }
        } else if let Some(end) = attr(line, "a=rtpmap:") {
            let pt = &line["a=rtpmap:".len()..end];
            if ours.contains(&pt) && !with_fmtp.contains(&pt) {
                for part in [eol, "a=fmtp:", pt, " ", name, "=", value] {
                    out.push_str(part);
                }
            }
        }
    }
    out
}

/// Whether `sdp` already carries `candidate` (`candidate:…`, as an `icecandidate` event gives
/// it): an `a=candidate:` line with the same foundation, component, transport, priority,
/// address and port. Those six fields name a candidate; the rest may differ between the two
/// forms (Chrome's event adds `ufrag`, the description does not). A candidate string that does
/// not have the six is never found.
pub fn has_candidate(sdp: &str, candidate: &str) -> bool {
    let key = |c: &str| -> Option<Vec<String>> {
        let fields: Vec<String> = c
            .strip_prefix("candidate:")?
            .split_ascii_whitespace()
            .take(6)
            .map(str::to_ascii_lowercase)
            .collect();
        (fields.len() == 6).then_some(fields)
    };
    let Some(wanted) = key(candidate.trim()) else {
        return false;
    };
    sdp.lines()
        .filter_map(|line| line.trim_end().strip_prefix("a="))
        .any(|line| key(line).as_ref() == Some(&wanted))
}

/// Whether `sdp` says its candidates are all there (`a=end-of-candidates`).
pub fn has_end_of_candidates(sdp: &str) -> bool {
    sdp.lines()
        .any(|line| line.trim_end() == "a=end-of-candidates")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97 45\r\n\
a=rtpmap:96 VP8/90000\r\n\
a=rtcp-fb:96 nack\r\n\
a=rtpmap:97 rtx/90000\r\n\
a=fmtp:97 apt=96\r\n\
a=rtpmap:45 AV1/90000\r\n\
a=fmtp:45 level-idx=5;profile=0;tier=0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n";

    #[test]
    fn vp8_without_parameters_gets_a_line() {
        let out = with_video_start_bitrate(ANSWER, 2000);
        assert!(out.contains("a=rtpmap:96 VP8/90000\r\na=fmtp:96 x-google-start-bitrate=2000\r\na=rtcp-fb:96 nack\r\n"));
        // Nothing else changed: rtx, AV1 and Opus parameters as they were.
        assert_eq!(
            out.replace("a=fmtp:96 x-google-start-bitrate=2000\r\n", ""),
            ANSWER
        );
        assert!(out.ends_with("\r\n"));
    }

    #[test]
    fn vp8_with_parameters_gets_one_more() {
        let sdp = "m=video 9 RTP 100\na=rtpmap:100 vp8/90000\na=fmtp:100 max-fr=30\n";
        assert_eq!(
            with_video_start_bitrate(sdp, 1500),
            "m=video 9 RTP 100\na=rtpmap:100 vp8/90000\na=fmtp:100 max-fr=30;x-google-start-bitrate=1500\n"
        );
    }

    #[test]
    fn applying_twice_changes_nothing_more_and_no_vp8_means_no_change() {
        let once = with_video_start_bitrate(ANSWER, 2000);
        assert_eq!(with_video_start_bitrate(&once, 2000), once);
        let audio_only = "m=audio 9 RTP 111\r\na=rtpmap:111 opus/48000/2\r\n";
        assert_eq!(with_video_start_bitrate(audio_only, 2000), audio_only);
        assert_eq!(with_video_start_bitrate("", 2000), "");
        assert_eq!(
            with_video_start_bitrate("a=rtpmap:\r\na=fmtp:", 2000),
            "a=rtpmap:\r\na=fmtp:"
        );
    }

    const WITH_CANDIDATES: &str = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
        a=candidate:820783545 1 udp 2122260223 127.0.0.1 52132 typ host generation 0 network-id 1\r\n\
        a=candidate:3946617126 1 udp 2122194687 198.51.100.1 56296 typ host generation 0 network-id 2\r\n\
        a=end-of-candidates\r\n";

    #[test]
    fn a_candidate_in_the_description_is_found_in_either_form() {
        // As Chrome's icecandidate event gives it: with `ufrag`, which the SDP line lacks.
        let event = "candidate:820783545 1 udp 2122260223 127.0.0.1 52132 typ host generation 0 ufrag RPYz network-id 1";
        assert!(has_candidate(WITH_CANDIDATES, event));
        assert!(has_candidate(
            WITH_CANDIDATES,
            "candidate:3946617126 1 UDP 2122194687 198.51.100.1 56296 typ host"
        ));
    }

    #[test]
    fn a_candidate_not_in_the_description_is_not_found() {
        // Same address, another port; another transport; another foundation.
        for other in [
            "candidate:820783545 1 udp 2122260223 127.0.0.1 52133 typ host generation 0",
            "candidate:820783545 1 tcp 2122260223 127.0.0.1 52132 typ host tcptype active",
            "candidate:1 1 udp 2122260223 127.0.0.1 52132 typ host",
            "candidate:3460758829 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active",
        ] {
            assert!(!has_candidate(WITH_CANDIDATES, other), "{other}");
        }
    }

    #[test]
    fn the_end_of_candidates_is_a_line_of_its_own() {
        assert!(has_end_of_candidates(WITH_CANDIDATES));
        assert!(!has_end_of_candidates(
            "v=0\r\na=candidate:1 1 udp 1 1.2.3.4 5 typ host\r\n"
        ));
        assert!(!has_end_of_candidates("v=0\r\na=end-of-candidates-not\r\n"));
    }

    #[test]
    fn malformed_candidates_are_never_found() {
        for bad in [
            "",
            "candidate:",
            "candidate:820783545 1 udp",
            "a=candidate:820783545 1 udp 2122260223 127.0.0.1 52132",
            "end-of-candidates",
        ] {
            assert!(!has_candidate(WITH_CANDIDATES, bad), "{bad:?}");
        }
        assert!(!has_candidate(
            "",
            "candidate:820783545 1 udp 2122260223 127.0.0.1 52132 typ host"
        ));
    }

    #[test]
    fn voice_is_asked_for_at_a_constant_bitrate() {
        let sdp = "m=audio 9 UDP/TLS/RTP/SAVPF 111 63\r\na=rtpmap:111 opus/48000/2\r\n\
                   a=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:63 red/48000/2\r\n\
                   m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n";
        let out = with_constant_voice_bitrate(sdp);
        assert!(
            out.contains("a=fmtp:111 minptime=10;useinbandfec=1;cbr=1\r\n"),
            "{out}"
        );
        assert!(
            !out.contains("a=fmtp:63") && !out.contains("a=fmtp:96"),
            "{out}"
        );
        // An Opus without parameters gets a line; one that names cbr keeps its own.
        let bare = with_constant_voice_bitrate("a=rtpmap:109 OPUS/48000/2\n");
        assert_eq!(bare, "a=rtpmap:109 OPUS/48000/2\na=fmtp:109 cbr=1\n");
        let set = "a=rtpmap:111 opus/48000/2\na=fmtp:111 cbr=0\n";
        assert_eq!(with_constant_voice_bitrate(set), set);
        assert_eq!(with_constant_voice_bitrate(&out), out);
    }
}
